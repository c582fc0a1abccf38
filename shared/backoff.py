"""Exponential backoff with full jitter, so hundreds of agents never retry in step."""

from __future__ import annotations

import random


class Backoff:
    def __init__(
        self, minimum_s: float, maximum_s: float, rng: random.Random | None = None
    ) -> None:
        self.minimum_s = minimum_s
        self.maximum_s = maximum_s
        self._rng = rng or random.Random()
        self._attempt = 0

    def next_delay(self) -> float:
        """A random delay in [minimum, min(maximum, minimum * 2^attempt)]."""
        ceiling = min(self.maximum_s, self.minimum_s * (2**self._attempt))
        self._attempt = min(self._attempt + 1, 32)
        return self._rng.uniform(self.minimum_s, max(self.minimum_s, ceiling))

    def reset(self) -> None:
        self._attempt = 0


class TokenBucket:
    """Paces a backlog drain: at most `rate` takes per second, bursts up to `burst`."""

    def __init__(self, rate: float, burst: float, now_s: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._at = now_s

    def take(self, now_s: float) -> bool:
        self._tokens = min(self.burst, self._tokens + (now_s - self._at) * self.rate)
        self._at = now_s
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False
