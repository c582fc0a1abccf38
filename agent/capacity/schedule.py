"""When to test, and whether to test now. Pure: time, random draws and traffic come in as values.

Random tests come at exponential gaps (a Poisson process samples every hour of the day alike,
so the median over a month is fair); a forced test lands at a random moment inside each day's
peak window, unless a random test already covered the peak that day. Before a test the user
traffic is looked at: a busy link would only show what the users leave over, so the test waits.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, replace
from typing import Literal

Trigger = Literal["first", "random", "peak", "manual", "retest"]
DAY_S = 86_400.0


# --- days and the peak window --------------------------------------------------------------


def local_day(now_s: float, zone: dt.tzinfo) -> dt.date:
    return dt.datetime.fromtimestamp(now_s, zone).date()


def peak_window(day: dt.date, zone: dt.tzinfo, start: dt.time, end: dt.time) -> tuple[float, float]:
    """The window of a local day, as epoch seconds; a window past midnight ends the next day."""
    opens = dt.datetime.combine(day, start, zone)
    closes = dt.datetime.combine(day if end > start else day + dt.timedelta(days=1), end, zone)
    return opens.timestamp(), closes.timestamp()


def in_peak(now_s: float, zone: dt.tzinfo, start: dt.time, end: dt.time) -> bool:
    t = dt.datetime.fromtimestamp(now_s, zone).time()
    return start <= t < end if start < end else (t >= start or t < end)


def random_gap_s(u: float, mean_s: float, min_s: float, max_s: float) -> float:
    """Exponential gap from a uniform draw u in [0, 1), clamped to [min_s, max_s]."""
    gap = -mean_s * math.log(1.0 - min(max(u, 0.0), 1.0 - 1e-12))
    return min(max(gap, min_s), max_s)


def peak_slot(
    now_s: float,
    u: float,
    zone: dt.tzinfo,
    start: dt.time,
    end: dt.time,
    test_s: float,
    from_day: dt.date | None = None,
) -> float:
    """A uniform moment in the first peak window (from `from_day` on) that still has room for
    a whole test after `now_s`."""
    day = from_day or local_day(now_s, zone) - dt.timedelta(days=1)  # a window may span midnight
    for _ in range(4):
        opens, closes = peak_window(day, zone, start, end)
        first, last = max(opens, now_s), closes - test_s
        if last > first:
            return first + u * (last - first)
        day += dt.timedelta(days=1)
    raise ValueError("the peak window is shorter than one test")


# --- the daily ledger ----------------------------------------------------------------------


@dataclass(frozen=True)
class Ledger:
    """What one point's tests cost on one local day."""

    day: dt.date
    bytes: int = 0
    tests: int = 0
    peak_tests: int = 0

    def on(self, day: dt.date) -> Ledger:
        """The ledger for `day`: this one, or a fresh one when the day has turned."""
        return self if day == self.day else Ledger(day)

    def charged(self, moved: int, peak: bool) -> Ledger:
        return replace(
            self,
            bytes=self.bytes + max(0, moved),
            tests=self.tests + 1,
            peak_tests=self.peak_tests + (1 if peak else 0),
        )


def estimate_bytes(
    last_bytes: int | None, expected_mbps: float, seconds_per_direction: float, directions: int
) -> int:
    """Price of the next test: the last one's, or the expected speed over its whole run."""
    if last_bytes:
        return last_bytes
    return int(expected_mbps * 1e6 / 8 * seconds_per_direction * directions)


# --- go, wait, or give up ------------------------------------------------------------------

Reason = Literal["user_traffic", "no_traffic_reading", "uplink_busy", "budget", "server_busy"]


@dataclass(frozen=True)
class Decision:
    run: bool
    reason: Reason | None = None
    retry_at: float | None = None  # None with run False: this test is given up


@dataclass(frozen=True)
class Limits:
    defer_above_bps: float
    retry_s: float
    max_deferrals: int
    budget_bytes: int


def decide(
    now_s: float,
    traffic_bps: float | None,
    uplink_free: bool,
    spent_bytes: int,
    cost_bytes: int,
    deferrals: int,
    limits: Limits,
    deadline_s: float | None = None,
) -> Decision:
    """Run now, wait and retry, or give up.

    Over budget gives up at once (tomorrow has a new budget). Busy users, an unknown traffic
    level or a test already running on the uplink make it wait `retry_s`, at most
    `max_deferrals` times and never past `deadline_s` (a peak test must start in the peak)."""
    if spent_bytes + cost_bytes > limits.budget_bytes:
        return Decision(False, "budget", None)
    reason: Reason | None = None
    if traffic_bps is None:
        reason = "no_traffic_reading"
    elif traffic_bps > limits.defer_above_bps:
        reason = "user_traffic"
    elif not uplink_free:
        reason = "uplink_busy"
    if reason is None:
        return Decision(True)
    retry_at = now_s + limits.retry_s
    if deferrals >= limits.max_deferrals or (deadline_s is not None and retry_at > deadline_s):
        return Decision(False, reason, None)
    return Decision(False, reason, retry_at)


def busy_retry(
    now_s: float,
    retry_after_s: float | None,
    deferrals: int,
    limits: Limits,
    deadline_s: float | None = None,
) -> Decision:
    """The test server refused the test (every slot taken): no test took place, so it waits
    what the server asked (at least a second) like any deferral, within the same limits."""
    retry_at = now_s + max(1.0, retry_after_s or limits.retry_s)
    if deferrals >= limits.max_deferrals or (deadline_s is not None and retry_at > deadline_s):
        return Decision(False, "server_busy", None)
    return Decision(False, "server_busy", retry_at)


# --- the plan of one point -----------------------------------------------------------------


@dataclass(frozen=True)
class Pending:
    trigger: Trigger
    due_s: float
    deadline_s: float | None = None  # latest start (peak tests)
    deferrals: int = 0
    retest_of_ms: int | None = None  # a retest: the time of the result it checks


@dataclass(frozen=True)
class Plan:
    """Settings the planner needs, in seconds."""

    mean_s: float
    min_s: float
    max_s: float
    first_after_s: float | None
    zone: dt.tzinfo
    peak_start: dt.time
    peak_end: dt.time
    peak_per_day: int
    test_s: float  # how long one test runs, both directions


class Planner:
    """The next random test and the next forced peak test of one point. Pure: the caller
    passes the time and owns the random generator (seeded in tests)."""

    def __init__(self, plan: Plan, rng: random.Random, now_s: float) -> None:
        self.plan = plan
        self.rng = rng
        first = plan.first_after_s
        self.random = Pending(
            "first" if first is not None else "random",
            now_s + (first if first is not None else self._gap()),
        )
        self.peak: Pending | None = self._peak_after(now_s, None) if plan.peak_per_day else None
        self.retests: list[Pending] = []  # results waiting to be checked again

    def _gap(self) -> float:
        p = self.plan
        return random_gap_s(self.rng.random(), p.mean_s, p.min_s, p.max_s)

    def _peak_after(self, now_s: float, from_day: dt.date | None) -> Pending:
        p = self.plan
        at = peak_slot(
            now_s, self.rng.random(), p.zone, p.peak_start, p.peak_end, p.test_s, from_day
        )
        _, closes = peak_window(self._window_day(at), p.zone, p.peak_start, p.peak_end)
        return Pending("peak", at, deadline_s=closes - p.test_s)

    def _window_day(self, at_s: float) -> dt.date:
        """The local day whose peak window holds `at_s` (a late window belongs to the day
        it opened on)."""
        p = self.plan
        day = local_day(at_s, p.zone)
        opens, _ = peak_window(day, p.zone, p.peak_start, p.peak_end)
        return day if at_s >= opens else day - dt.timedelta(days=1)

    def next(self) -> Pending:
        due = self.random
        if self.peak is not None and self.peak.due_s < due.due_s:
            due = self.peak
        for retest in self.retests:
            if retest.due_s < due.due_s:
                due = retest
        return due

    def retest(self, of_ms: int, due_s: float) -> None:
        """Check the result taken at `of_ms` again at `due_s`."""
        self.retests.append(Pending("retest", due_s, retest_of_ms=of_ms))

    def in_peak(self, now_s: float) -> bool:
        p = self.plan
        return in_peak(now_s, p.zone, p.peak_start, p.peak_end)

    def peak_covered(self, pending: Pending, peak_tests_today: int) -> bool:
        """A forced peak test is not needed when that day's peak already had its tests."""
        return pending.trigger == "peak" and peak_tests_today >= self.plan.peak_per_day

    def done(
        self, pending: Pending, now_s: float, peak_tests_today: int, gave_up: bool = False
    ) -> None:
        """The pending test ran, was given up, or was not needed: plan the next of its kind.
        Another peak test the same evening only while that day still lacks one and this one
        was not given up."""
        if pending.trigger == "retest":
            self.retests = [r for r in self.retests if r.retest_of_ms != pending.retest_of_ms]
            return
        if pending.trigger in ("random", "first"):
            self.random = Pending("random", now_s + self._gap())
            return
        day = self._window_day(pending.due_s)
        if gave_up or peak_tests_today >= self.plan.peak_per_day:
            day += dt.timedelta(days=1)
        self.peak = self._peak_after(now_s, day)

    def deferred(self, pending: Pending, retry_at: float) -> None:
        again = replace(pending, due_s=retry_at, deferrals=pending.deferrals + 1)
        if pending.trigger == "retest":
            self.retests = [
                again if r.retest_of_ms == pending.retest_of_ms else r for r in self.retests
            ]
        elif pending.trigger == "peak":
            self.peak = again
        else:
            self.random = again
