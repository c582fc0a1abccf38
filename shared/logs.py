"""Loggers bound to a point, so every line says which of hundreds of points it is about, and
limits for lines that would otherwise repeat: once per key, or once per few minutes with a
count."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, MutableMapping
from typing import Any


class PointLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    def __init__(self, logger: logging.Logger, point: str) -> None:
        super().__init__(logger, {"point": point})
        self.point = point

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        return f"[{self.point}] {msg}", kwargs


class Once:
    """Remembers which messages were logged, to log a recurring failure once, not every poll."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def first(self, key: str) -> bool:
        if key in self._seen:
            return False
        self._seen.add(key)
        return True

    def clear(self, key: str) -> None:
        self._seen.discard(key)


class Throttle:
    """Logs a recurring problem the first time at once, then at most once per `every_s` with how
    many more there were since: never silent for good, never a line per occurrence.

        count = throttle.hit("invalid:cit-01", detail)
        if count:                                  # 1 the first time, else occurrences since
            log.warning(...)
        for key, count, detail in throttle.due():  # from an idle loop: the tail of a burst
            log.warning(...)

    One entry per key, so keys must come from a bounded set (a reason and a registered point).
    """

    def __init__(self, every_s: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.every_s = every_s
        self._clock = clock
        self._last_at: dict[str, float] = {}
        self._pending: dict[str, tuple[int, str]] = {}

    def hit(self, key: str, detail: str = "") -> int:
        """Record one occurrence; return how many to log now (0: stay quiet for now)."""
        now = self._clock()
        last = self._last_at.get(key)
        count = self._pending.get(key, (0, ""))[0] + 1
        if last is None or now - last >= self.every_s:
            self._last_at[key] = now
            self._pending.pop(key, None)
            return count
        self._pending[key] = (count, detail)
        return 0

    def due(self) -> list[tuple[str, int, str]]:
        """(key, count, latest detail) of the occurrences held back longer than `every_s`."""
        now = self._clock()
        ready = [k for k in self._pending if now - self._last_at[k] >= self.every_s]
        out = []
        for key in ready:
            count, detail = self._pending.pop(key)
            self._last_at[key] = now
            out.append((key, count, detail))
        return out
