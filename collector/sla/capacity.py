"""Delivered speed from active capacity tests only (passive counters show demand, not capacity).

Per point: median measured Mbps and its % of committed, the share of tests at ≥ 100 % and
≥ 80 % of committed, the peak-window median, and the speed the point reaches in 80 % of its
tests. Per group (kelurahan, kecamatan, provider): the "80/80" speed (the speed that 80 % of
points reach at least 80 % of the time) and the split of points by median % of committed
(≥ 95 %, 80–95 %, < 80 %), as FCC Measuring Broadband America reports it.
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
    ts_ms: int
    direction: str  # "down" or "up"
    mbps: float
    method: str = ""


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
    down_mbps: tuple[float, ...]  # every download test in the period, in time order
    peak_down_mbps: tuple[float, ...]
    up_mbps: tuple[float, ...]

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
    ordered = sorted(tests, key=lambda t: t.ts_ms)
    down = [t for t in ordered if t.direction == "down"]
    peak = _peak_test(peak_start, peak_end)
    return PointCapacity(
        committed_down_mbps=committed_down_mbps,
        committed_up_mbps=committed_up_mbps,
        down_mbps=tuple(t.mbps for t in down),
        peak_down_mbps=tuple(t.mbps for t in down if peak(t.ts_ms)),
        up_mbps=tuple(t.mbps for t in ordered if t.direction == "up"),
    )


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
