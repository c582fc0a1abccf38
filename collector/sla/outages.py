"""Outages and availability from a run of minute-state letters. Pure.

The letters cover a context wider than the report period (a day before and after), so a run
of provider_down that crosses the period's edge is judged by its whole length, and reported
clipped to the period with a flag saying it continues.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from pantau.collector.sla.hourly import DOWN, NO_DATA_LETTERS, UP
from pantau.collector.sla.periods import MINUTE_MS


@dataclass(frozen=True, slots=True)
class Run:
    """A run of down minutes, clipped to the period. Times in UTC epoch ms."""

    start_ms: int
    end_ms: int
    continues_before: bool
    continues_after: bool
    full_minutes: int  # the whole run, as seen in the context

    @property
    def duration_s(self) -> int:
        return (self.end_ms - self.start_ms) // 1000

    @property
    def minutes(self) -> int:
        return (self.end_ms - self.start_ms) // MINUTE_MS


@dataclass(frozen=True, slots=True)
class Availability:
    up_minutes: int  # up plus short interruptions
    outage_minutes: int
    short_minutes: int
    outages: tuple[Run, ...]
    short_interruptions: tuple[Run, ...]

    @property
    def pct(self) -> float | None:
        """up / (up + outage), in %; None when the period has neither."""
        total = self.up_minutes + self.outage_minutes
        return 100.0 * self.up_minutes / total if total else None


def down_letters(no_data_counts_as_down: bool) -> str:
    return DOWN + (NO_DATA_LETTERS if no_data_counts_as_down else "")


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _pattern(letters: str) -> re.Pattern[str]:
    pattern = _PATTERNS.get(letters)
    if pattern is None:
        pattern = _PATTERNS[letters] = re.compile(f"[{re.escape(letters)}]+")
    return pattern


def _runs(states: str, letters: str, pos: int) -> Iterator[tuple[int, int]]:
    """Spans of consecutive `letters` from pos on (str.find for one letter: a month of
    minutes is scanned per point, and most of it is up)."""
    if len(letters) > 1:
        for match in _pattern(letters).finditer(states, pos):
            yield match.span()
        return
    pattern = _pattern(letters)
    while True:
        a = states.find(letters, pos)
        if a < 0:
            return
        match = pattern.match(states, a)
        assert match is not None
        yield a, match.end()
        pos = match.end()


def availability(
    states: str,
    context_start_ms: int,
    period_start: int,
    period_end: int,
    threshold_s: int,
    no_data_counts_as_down: bool,
) -> Availability:
    """Judge the minutes states[period_start:period_end] (indices into `states`).

    `states[i]` is the minute starting at context_start_ms + i minutes. A run of down minutes
    whose whole length (within `states`) is ≥ threshold_s is an outage; shorter runs are short
    interruptions and count as up.
    """
    letters = down_letters(no_data_counts_as_down)
    outages: list[Run] = []
    shorts: list[Run] = []
    pos = period_start
    while pos > 0 and states[pos - 1] in letters:
        pos -= 1
    for a, b in _runs(states, letters, pos):
        if a >= period_end:
            break
        lo, hi = max(a, period_start), min(b, period_end)
        if lo >= hi:
            continue
        run = Run(
            start_ms=context_start_ms + lo * MINUTE_MS,
            end_ms=context_start_ms + hi * MINUTE_MS,
            continues_before=a < period_start,
            continues_after=b > period_end,
            full_minutes=b - a,
        )
        (outages if (b - a) * 60 >= threshold_s else shorts).append(run)
    window = states[period_start:period_end]
    up = window.count(UP)
    short_minutes = sum(r.minutes for r in shorts)
    outage_minutes = sum(r.minutes for r in outages)
    return Availability(
        up_minutes=up + short_minutes,
        outage_minutes=outage_minutes,
        short_minutes=short_minutes,
        outages=tuple(outages),
        short_interruptions=tuple(shorts),
    )
