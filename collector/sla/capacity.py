"""Delivered speed from active capacity tests only (passive counters show demand, not capacity).

Per point: median measured Mbps and its % of committed, the share of tests at ≥ 100 % and
≥ 80 % of committed, the peak-window median, and the speed the point reaches in 80 % of its
tests. Per group (kelurahan, kecamatan, provider): the "80/80" speed (the speed that 80 % of
points reach at least 80 % of the time) and the split of points by median % of committed
(≥ 95 %, 80–95 %, < 80 %), as FCC Measuring Broadband America reports it.

A low result counts against the provider only when the test server was not the bottleneck
(`fates`): the agent marks a result low (under its retest threshold), says whether the
server reported itself loaded or refused some of the test's streams, and retests a result
that may be the server's fault. Every figure here is over counted tests only; the others are
counted by the reason they were discarded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from pantau.collector.sla.periods import DAY_MS, HOUR_MS
from pantau.collector.sla.stats import median, reached_by, share_at_least

CLASS_GE95 = "ge95"
CLASS_80TO95 = "80to95"
CLASS_LT80 = "lt80"
WIB_OFFSET_MS = 7 * HOUR_MS


@dataclass(frozen=True, slots=True)
class CapacityTest:
    """One direction of one test, with what the agent said of it (docs/capacity.md). A row
    without the retest fields (an older agent) is a plain result: it counts."""

    ts_ms: int
    direction: str  # "down" or "up"
    mbps: float
    method: str = ""
    low: bool = False  # the download was under the agent's retest threshold
    server_loaded: bool = False  # the test server reported load over the agent's thresholds
    server_busy: bool = False  # the test server refused some of the test's streams (503)
    retest: str = ""  # "awaiting": the agent retests this result
    retest_of_ms: int | None = None  # a retest: the time of the result it checks

    @property
    def flagged(self) -> bool:
        """Carries anything the counting rule looks at."""
        return bool(
            self.low
            or self.server_loaded
            or self.server_busy
            or self.retest
            or self.retest_of_ms is not None
        )


# What became of a test (fates): it counts, it confirms an earlier low result (which
# counts in its place), or it is discarded for one of the reasons.
COUNTED = "counted"
CONFIRMATION = "confirmation"
SERVER_LOADED = "server_loaded"  # low, and the server reported itself loaded
SERVER_BUSY = "server_busy"  # low, and the server refused some of its streams
RETEST_PASSED = "retest_passed"  # low, and its retest was not
NOT_CONFIRMED = "not_confirmed"  # low, and no retest confirmed it (none ran, or it was loaded)
DISCARD_REASONS = (SERVER_LOADED, SERVER_BUSY, RETEST_PASSED, NOT_CONFIRMED)
AWAITING = "awaiting"


def _alone(t: CapacityTest) -> str:
    if t.low and t.server_loaded:
        return SERVER_LOADED
    if t.low and t.server_busy:
        return SERVER_BUSY
    return COUNTED


def _valid_low(t: CapacityTest) -> bool:
    return t.low and not t.server_loaded and not t.server_busy


def fates(tests: Iterable[CapacityTest]) -> dict[int, str]:
    """Test time → what became of the test (both directions of a test share it). Pure.

    - a plain result counts, unless it is low on a loaded or busy server;
    - a low result awaiting a retest counts only when it was on a server neither loaded nor
      busy and its retest is low too on such a server (confirmed); it is then the one that
      counts, its retest a confirmation. Else it is discarded: server loaded or busy, retest
      passed (the retest was not low), or not confirmed (no retest, or one on a loaded or busy
      server);
    - a retest that does not confirm counts as a result of its own (the same rule as a plain
      one), so a pair never counts twice;
    - a result retested only because the server was loaded or busy (not low) counts unless its
      retest counts in its place."""
    events: dict[int, CapacityTest] = {}
    for t in tests:
        events.setdefault(t.ts_ms, t)
    retest_of = {t.retest_of_ms: t for t in events.values() if t.retest_of_ms is not None}
    out: dict[int, str] = {}
    confirmed: set[int] = set()
    for ts, t in events.items():  # low results awaiting a retest
        if t.retest != AWAITING or t.retest_of_ms is not None or not t.low:
            continue
        again = retest_of.get(ts)
        if t.server_loaded:
            out[ts] = SERVER_LOADED
        elif t.server_busy:
            out[ts] = SERVER_BUSY
        elif again is None:
            out[ts] = NOT_CONFIRMED
        elif not again.low:
            out[ts] = RETEST_PASSED
        elif _valid_low(again):
            out[ts] = COUNTED
            confirmed.add(ts)
        else:
            out[ts] = NOT_CONFIRMED
    for ts, t in events.items():  # retests
        if t.retest_of_ms is not None:
            out[ts] = CONFIRMATION if t.retest_of_ms in confirmed else _alone(t)
    for ts, t in events.items():  # the rest: plain results, and loaded or busy but not low
        if ts in out:
            continue
        again = retest_of.get(ts) if t.retest == AWAITING else None
        if again is not None and out.get(again.ts_ms) == COUNTED:
            out[ts] = SERVER_LOADED if t.server_loaded else SERVER_BUSY
        else:
            out[ts] = _alone(t)
    return out


def in_peak(ts_ms: int, start: dt.time, end: dt.time) -> bool:
    """Whether a moment falls in the WIB peak window [start, end) (which may wrap midnight)."""
    return _peak_test(start, end)(ts_ms)


def _peak_test(start: dt.time, end: dt.time) -> Callable[[int], bool]:
    """in_peak for one window. WIB is UTC+7 without daylight saving, so the time of day is
    arithmetic on the epoch ms."""
    lo, hi = _microseconds(start), _microseconds(end)

    def test(ts_ms: int) -> bool:
        t = ((ts_ms + WIB_OFFSET_MS) % DAY_MS) * 1000  # microseconds since 00:00 WIB
        return lo <= t < hi if lo < hi else (t >= lo or t < hi)

    return test


def _microseconds(moment: dt.time) -> int:
    return ((moment.hour * 60 + moment.minute) * 60 + moment.second) * 1_000_000 + (
        moment.microsecond
    )


def _pct(value: float | None, committed: float) -> float | None:
    return None if value is None else 100.0 * value / committed


@dataclass(frozen=True, slots=True)
class PointCapacity:
    committed_down_mbps: float
    committed_up_mbps: float
    down_mbps: tuple[float, ...]  # every counted download test in the period, in time order
    peak_down_mbps: tuple[float, ...]
    up_mbps: tuple[float, ...]
    discarded: tuple[tuple[str, int], ...] = ()  # download tests not counted, by reason
    peak_discarded: tuple[tuple[str, int], ...] = ()  # of them, those in the peak window
    confirmations_n: int = 0  # download retests that confirmed a low result (counted in theirs)

    @property
    def discarded_n(self) -> int:
        return sum(n for _, n in self.discarded)

    @property
    def tests_n(self) -> int:
        return len(self.down_mbps)

    @property
    def down_median_mbps(self) -> float | None:
        return median(self.down_mbps)

    @property
    def down_median_pct(self) -> float | None:
        return _pct(self.down_median_mbps, self.committed_down_mbps)

    @property
    def tests_ge_100_pct(self) -> float | None:
        return share_at_least(self.down_mbps, self.committed_down_mbps)

    @property
    def tests_ge_80_pct(self) -> float | None:
        return share_at_least(self.down_mbps, 0.8 * self.committed_down_mbps)

    @property
    def peak_down_median_mbps(self) -> float | None:
        return median(self.peak_down_mbps)

    @property
    def peak_down_median_pct(self) -> float | None:
        return _pct(self.peak_down_median_mbps, self.committed_down_mbps)

    @property
    def up_median_mbps(self) -> float | None:
        return median(self.up_mbps)

    @property
    def up_median_pct(self) -> float | None:
        return _pct(self.up_median_mbps, self.committed_up_mbps)

    @property
    def down_80_mbps(self) -> float | None:
        """The speed this point reaches in at least 80 % of its tests."""
        return reached_by(self.down_mbps, 80)

    @property
    def speed_class(self) -> str | None:
        return speed_class(self.down_median_pct)


def speed_class(pct: float | None) -> str | None:
    if pct is None:
        return None
    if pct >= 95:
        return CLASS_GE95
    return CLASS_80TO95 if pct >= 80 else CLASS_LT80


def point_capacity(
    tests: Iterable[CapacityTest],
    committed_down_mbps: float,
    committed_up_mbps: float,
    peak_start: dt.time,
    peak_end: dt.time,
) -> PointCapacity:
    """The point's figures over its counted tests; the others counted by why not."""
    ordered = sorted(tests, key=lambda t: t.ts_ms)
    status = fates(t for t in ordered if t.flagged) if any(t.flagged for t in ordered) else {}
    counted = [t for t in ordered if status.get(t.ts_ms, COUNTED) == COUNTED]
    down = [t for t in counted if t.direction == "down"]
    peak = _peak_test(peak_start, peak_end)
    dropped = [
        (status[t.ts_ms], peak(t.ts_ms))
        for t in ordered
        if t.direction == "down" and status.get(t.ts_ms, COUNTED) in DISCARD_REASONS
    ]
    return PointCapacity(
        committed_down_mbps=committed_down_mbps,
        committed_up_mbps=committed_up_mbps,
        down_mbps=tuple(t.mbps for t in down),
        peak_down_mbps=tuple(t.mbps for t in down if peak(t.ts_ms)),
        up_mbps=tuple(t.mbps for t in counted if t.direction == "up"),
        discarded=_by_reason(reason for reason, _ in dropped),
        peak_discarded=_by_reason(reason for reason, in_window in dropped if in_window),
        confirmations_n=sum(
            1 for t in ordered if t.direction == "down" and status.get(t.ts_ms) == CONFIRMATION
        ),
    )


def _by_reason(reasons: Iterable[str]) -> tuple[tuple[str, int], ...]:
    found = list(reasons)
    return tuple((r, found.count(r)) for r in DISCARD_REASONS if r in found)


@dataclass(frozen=True, slots=True)
class GroupCapacity:
    points_tested: int
    tests_n: int
    down_median_mbps: float | None
    down_median_pct: float | None
    tests_ge_100_pct: float | None
    tests_ge_80_pct: float | None
    peak_down_median_mbps: float | None
    up_median_mbps: float | None
    speed_80_80_mbps: float | None
    speed_80_80_pct: float | None
    points_ge95_n: int
    points_80to95_n: int
    points_lt80_n: int


def group_capacity(points: Sequence[PointCapacity]) -> GroupCapacity:
    """Pool the tests of a group's points; 80/80 and the split count tested points only."""
    tested = [p for p in points if p.tests_n]
    down = [v for p in tested for v in p.down_mbps]
    down_pct = [100.0 * v / p.committed_down_mbps for p in tested for v in p.down_mbps]
    classes = [p.speed_class for p in tested]
    p80 = [reached_by(p.down_mbps, 80) or 0.0 for p in tested]
    p80_pct = [100.0 * v / p.committed_down_mbps for p, v in zip(tested, p80, strict=True)]
    return GroupCapacity(
        points_tested=len(tested),
        tests_n=len(down),
        down_median_mbps=median(down),
        down_median_pct=median(down_pct),
        tests_ge_100_pct=share_at_least(down_pct, 100.0),
        tests_ge_80_pct=share_at_least(down_pct, 80.0),
        peak_down_median_mbps=median([v for p in tested for v in p.peak_down_mbps]),
        up_median_mbps=median([v for p in points for v in p.up_mbps]),
        speed_80_80_mbps=reached_by(p80, 80),
        speed_80_80_pct=reached_by(p80_pct, 80),
        points_ge95_n=classes.count(CLASS_GE95),
        points_80to95_n=classes.count(CLASS_80TO95),
        points_lt80_n=classes.count(CLASS_LT80),
    )
