"""Deliver messages through apprise (Telegram, e-mail, a generic JSON webhook, ...).

One apprise object per target, so a target can take only some rules or kelurahan. A target
that fails is retried on the next rounds for `retry_for_s`, then given up with one log line.
Target URLs carry tokens and passwords: they are never logged, only their position in the list.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

import apprise

from pantau.collector.noc.alerts import Notice
from pantau.collector.noc.config import Target
from pantau.collector.noc.messages import Message, render
from pantau.shared.errors import ConfigError

log = logging.getLogger(__name__)
APPRISE_LOG = logging.getLogger("apprise")
APPRISE_LOG.setLevel(logging.WARNING)  # its debug lines print whole URLs


class _Redact(logging.Filter):
    """Blanks every part of a target URL (tokens, passwords, chat ids) in apprise's messages."""

    def __init__(self, urls: list[str]) -> None:
        super().__init__("apprise")
        parts = {urls_part for url in urls for urls_part in re.split(r"[/:@?&=#,]+", url)}
        self.parts = sorted((p for p in parts if len(p) >= 4), key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        for part in self.parts:
            text = text.replace(part, "***")
        record.msg, record.args = text, None
        return True


@dataclass
class _Retry:
    target: int
    message: Message
    first_failed: float


class Delivery:
    def __init__(self, targets: list[Target], retry_for_s: float, source: str = "alerts") -> None:
        self.targets = targets
        self.retry_for_s = retry_for_s
        self._apprise: list[apprise.Apprise] = []
        self._redact = _Redact([t.url.get_secret_value() for t in targets])
        APPRISE_LOG.addFilter(self._redact)
        for index, target in enumerate(targets):
            obj = apprise.Apprise()
            if not obj.add(target.url.get_secret_value()):
                raise ConfigError(f"{source}: alerts target {index + 1} is not a valid apprise URL")
            self._apprise.append(obj)
        self._retries: list[_Retry] = []
        self._failing: set[int] = set()
        self.sent = 0
        self.failed = 0

    def send(self, notice: Notice) -> bool:
        """Send to every target that wants it; True when all of them took it."""
        message = render(notice)
        ok = True
        for index in self._wanted(notice):
            if not self._notify(index, message):
                ok = False
                self._retries.append(_Retry(index, message, time.monotonic()))
        return ok

    def retry(self) -> None:
        pending, self._retries = self._retries, []
        for item in pending:
            if self._notify(item.target, item.message):
                continue
            if time.monotonic() - item.first_failed < self.retry_for_s:
                self._retries.append(item)
            else:
                log.error(
                    "gave up delivering %r to alert target %d", item.message.title, item.target + 1
                )

    def close(self) -> None:
        APPRISE_LOG.removeFilter(self._redact)

    @property
    def waiting(self) -> int:
        return len(self._retries)

    def _wanted(self, notice: Notice) -> list[int]:
        alert = notice.alert
        wanted = []
        for index, target in enumerate(self.targets):
            if target.rules and alert.rule not in target.rules:
                continue
            if target.kelurahan and alert.kelurahan not in target.kelurahan:
                continue
            wanted.append(index)
        return wanted

    def _notify(self, index: int, message: Message) -> bool:
        try:
            ok = bool(
                self._apprise[index].notify(
                    body=message.body, title=message.title, notify_type=message.kind
                )
            )
        except Exception as exc:  # a plugin's bug must not stop the NOC
            log.warning("alert target %d raised %s", index + 1, type(exc).__name__)
            ok = False
        if ok:
            self.sent += 1
            if index in self._failing:
                self._failing.discard(index)
                log.info("alert target %d takes messages again", index + 1)
        else:
            self.failed += 1
            if index not in self._failing:
                self._failing.add(index)
                log.warning("alert target %d did not take %r (retrying)", index + 1, message.title)
        return ok
