"""A RouterOS router read through the API: the connection, its backoff, and one poll.

One poll walks the table in paths.py. A path that fails (a `!trap`, an unreadable reply) costs
only its own fields and becomes one issue. A connection error or timeout in the middle of a
reply leaves the session out of step: it is dropped, whatever was read so far is kept, and the
next connection is tried on a later poll after a backoff. While the router cannot be reached
the reading says `device_up=False`, which is not the same as an agent that is down.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
from typing import TYPE_CHECKING

from librouteros.api import Api
from librouteros.exceptions import (
    ConnectionClosed,
    FatalError,
    LibRouterosError,
    MultiTrapError,
    TrapError,
)

from pantau.agent.backoff import Backoff
from pantau.agent.sources.base import Reading, SourceIssue
from pantau.agent.sources.routeros import client
from pantau.agent.sources.routeros.paths import PATHS, Context, Rows
from pantau.shared.logs import PointLogger

if TYPE_CHECKING:
    from pantau.agent.clock import Clock
    from pantau.agent.sources.routeros.config import RouterOSSourceConfig

log = logging.getLogger(__name__)

# Anything that means the session can no longer be trusted to be in step.
CONNECTION_ERRORS = (OSError, LibRouterosError, EOFError, UnicodeError)


class PathFailedError(Exception):
    """One path answered with a trap: its fields stay null, the rest of the poll goes on."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


class RouterOSSource:
    kind = "routeros"

    def __init__(self, point: str, config: RouterOSSourceConfig, clock: Clock) -> None:
        self.point = point
        self.config = config
        self.clock = clock
        self.log = PointLogger(log, point)
        self._password = config.secret()  # config errors surface at start-up, not mid-run
        self._tls = client.ssl_context(config.tls) if config.tls is not None else None
        if config.tls is not None and config.tls.verify == "insecure":
            self.log.warning("api-ssl certificate of %s is not verified (insecure)", config.host)
        client.install_redaction()
        self._deadline = client.Deadline()
        self._api: Api | None = None
        self._ctx: Context | None = None
        self._backoff = Backoff(config.reconnect_min_s, config.reconnect_max_s)
        self._retry_at = 0.0
        self._down: SourceIssue | None = None
        self._path = "connection"
        self.round_trips = 0  # API commands sent; the benchmark reads it

    @property
    def where(self) -> str:
        return f"{self.config.host}:{self.config.api_port}"

    def read(self) -> Reading:
        self._deadline.start(self.config.timeout_s)
        reused = self._api is not None
        if not reused:
            now = self.clock.monotonic()
            if now < self._retry_at and self._down is not None:
                return Reading(device_up=False, at_s=now, issues=(self._down,))
            if not self._connect():
                return self._unreachable()
        reading = self._poll(reused)
        if reading is None:
            # The idle session had died (router rebooted, a NAT forgot it): one fresh try now.
            if not self._connect():
                return self._unreachable()
            reading = self._poll(reused=False)
        assert reading is not None
        return reading

    def close(self) -> None:
        self._drop()

    def _unreachable(self) -> Reading:
        issues = (self._down,) if self._down is not None else ()
        return Reading(device_up=False, at_s=self.clock.monotonic(), issues=issues)

    def _connect(self) -> bool:
        self._path = "connection"
        try:
            self._api = client.open_api(
                self.config, self._password.get_secret_value(), self._tls, self._deadline
            )
        except client.LoginRefusedError as exc:
            self._fail(SourceIssue("login", str(exc)))
            return False
        except (*CONNECTION_ERRORS, ssl.SSLError) as exc:
            self._fail(SourceIssue("connection", f"{self.where}: {describe(exc)}"))
            return False
        self._ctx = Context(config=self.config, clock=self.clock)
        self._backoff.reset()
        if self._down is not None:
            self.log.info("connected to %s again", self.where)
        self._down = None
        return True

    def _poll(self, reused: bool) -> Reading | None:
        """One walk through the table; None when a reused session turned out dead at once."""
        assert self._api is not None and self._ctx is not None
        ctx = self._ctx
        fields: dict[str, object] = {}
        issues: list[SourceIssue] = []
        read_any = False
        for spec in PATHS:
            if spec.once and spec.path in ctx.done:
                continue
            self._path = spec.path
            try:
                fields.update(spec.read(ctx, self._call))
            except PathFailedError as exc:
                issues.append(SourceIssue(exc.path, exc.message))
                read_any = True
                continue
            except ValueError as exc:
                issues.append(SourceIssue(spec.path, f"unreadable reply: {exc}"))
                read_any = True
                continue
            except CONNECTION_ERRORS as exc:
                if reused and not read_any and not isinstance(exc, TimeoutError):
                    self._drop()
                    return None
                issue = SourceIssue(self._path, f"{self.where}: {describe(exc)}")
                self._fail(issue)
                issues.append(issue)
                break
            read_any = True
            if spec.once:
                ctx.done.add(spec.path)
        at_s = fields.pop("at_s", None)
        return Reading(
            device_up=read_any,
            at_s=at_s if isinstance(at_s, float) else self.clock.monotonic(),
            facts=dict(ctx.facts),
            issues=tuple(issues),
            **fields,  # type: ignore[arg-type]
        )

    def _call(self, path: str, command: str, *words: str) -> Rows:
        """One API round trip. A trap is this path's failure; anything else ends the session."""
        assert self._api is not None
        self._path = path
        self.round_trips += 1
        try:
            return list(self._api.rawCmd(f"{path}/{command}" if command else path, *words))
        except MultiTrapError as exc:
            raise PathFailedError(path, str(exc)) from None
        except TrapError as exc:
            raise PathFailedError(path, str(exc)) from None

    def _fail(self, issue: SourceIssue) -> None:
        """Drop the session and wait before the next try; log a new kind of failure once."""
        if self._down is None or self._down.message != issue.message:
            self.log.warning("%s: %s", issue.path, issue.message)
        self._down = issue
        self._drop()
        self._retry_at = self.clock.monotonic() + self._backoff.next_delay()

    def _drop(self) -> None:
        api, self._api, self._ctx = self._api, None, None
        if api is not None:
            with contextlib.suppress(OSError):
                api.close()


def describe(exc: BaseException) -> str:
    """One line for an operator: what went wrong, without a traceback."""
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out (no answer within the poll's time budget)"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (API service off, or wrong port)"
    if isinstance(exc, client.CertificateMismatchError):
        return f"TLS: {exc.args[0]}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS: certificate not trusted: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc.reason or exc}"
    if isinstance(exc, FatalError):
        return f"router closed the session: {exc}"
    if isinstance(exc, ConnectionClosed):
        return "connection closed by the router"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"
