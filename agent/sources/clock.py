"""Time as the agent sees it: real by default, compressed for demos that play a month in minutes.

It lives with the sources, the lowest layer that reads time, so the sampler, the sources and the
capacity tests all import it one way.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Wall-clock seconds since the epoch (UTC)."""
        ...

    def monotonic(self) -> float: ...

    def sleep_until(self, wall_s: float, stop: threading.Event) -> bool:
        """Sleep until a wall-clock instant; False when `stop` was set first."""
        ...


class RealClock:
    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep_until(self, wall_s: float, stop: threading.Event) -> bool:
        return not stop.wait(max(0.0, wall_s - time.time()))


class CompressedClock:
    """Virtual time that runs `speed` times faster than real time from `start_s` on."""

    def __init__(self, start_s: float, speed: float) -> None:
        self.start_s = start_s
        self.speed = speed
        self._real0 = time.monotonic()

    def now(self) -> float:
        return self.start_s + (time.monotonic() - self._real0) * self.speed

    def monotonic(self) -> float:
        return (time.monotonic() - self._real0) * self.speed

    def sleep_until(self, wall_s: float, stop: threading.Event) -> bool:
        return not stop.wait(max(0.0, (wall_s - self.now()) / self.speed))


class SteppingClock:
    """Time that moves only when told to: replays a past period sample by sample (backfill)."""

    def __init__(self, start_s: float) -> None:
        self._now = start_s

    def set(self, wall_s: float) -> None:
        self._now = wall_s

    def now(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._now

    def sleep_until(self, wall_s: float, stop: threading.Event) -> bool:
        self._now = max(self._now, wall_s)
        return not stop.is_set()


def next_tick(now_s: float, interval_s: float) -> float:
    """The next wall-clock multiple of the interval, so every point samples at the same instant."""
    return (math.floor(now_s / interval_s) + 1) * interval_s
