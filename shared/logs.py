"""Loggers bound to a point, so every line says which of hundreds of points it is about."""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
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
