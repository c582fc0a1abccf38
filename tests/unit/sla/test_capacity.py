"""Capacity figures, 80/80, percentiles and money, computed by hand."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from pantau.collector.sla.capacity import CapacityTest, group_capacity, in_peak, point_capacity
from pantau.collector.sla.month import p95_mbps
from pantau.collector.sla.stats import median, reached_by, share_at_least
from pantau.shared.registry import Terms
from tests.unit.sla.helpers import wib

PEAK = (dt.time(19), dt.time(23))


@pytest.mark.parametrize(
    ("values", "pct", "expected"),
    [
        ([10, 20, 30, 40, 50], 80, 20),  # 4 of 5 reach 20
        ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 80, 3),  # 8 of 10 reach 3
        ([5], 80, 5),
        (list(range(1, 16)), 80, 4),  # 12 of 15 reach 4 (float 0.8·15 rounds up to 13 → 3)
        ([], 80, None),
    ],
)
def test_reached_by(values: list[float], pct: float, expected: float | None) -> None:
    assert reached_by(values, pct) == expected


@pytest.mark.parametrize(
    ("kbps", "expected_mbps"),
    [
        (list(range(1000, 21000, 1000)), 19.0),  # 20 values: the ⌈19⌉-th = 19 000 kbit/s
        (list(range(1, 101)), 0.095),  # 100 values: the 95th
        ([7000, 3000], 7.0),  # ⌈1.9⌉ = 2nd
        ([5000], 5.0),
        ([], None),
    ],
)
def test_p95_nearest_rank(kbps: list[int], expected_mbps: float | None) -> None:
    assert p95_mbps(np.array(kbps, dtype=np.int64)) == expected_mbps


def test_median_and_share() -> None:
    assert median([4, 1, 3, 2]) == 2.5
    assert share_at_least([10, 40, 50, 60], 40) == 75.0


def test_peak_window() -> None:
    assert in_peak(wib(2026, 10, 5, 19, 0), *PEAK)
    assert in_peak(wib(2026, 10, 5, 22, 59), *PEAK)
    assert not in_peak(wib(2026, 10, 5, 23, 0), *PEAK)
    assert not in_peak(wib(2026, 10, 5, 18, 59), *PEAK)
    assert in_peak(wib(2026, 10, 5, 1, 0), dt.time(22), dt.time(2))  # wraps midnight


@pytest.mark.parametrize(
    "window",
    [
        PEAK,
        (dt.time(22), dt.time(2)),
        (dt.time(0), dt.time(0, 0, 0, 1)),
        (dt.time(7, 30), dt.time(9)),
    ],
)
def test_peak_window_is_the_wib_wall_clock(window: tuple[dt.time, dt.time]) -> None:
    """The arithmetic agrees with the WIB wall clock to the millisecond, edges included."""
    from pantau.collector.sla.periods import from_ms

    start, end = window
    day = wib(2026, 10, 5, 0, 0)
    edges = [
        day + ((h * 60 + m) * 60 * 1000) + d for h in range(24) for m in (0, 30) for d in (-1, 0, 1)
    ]
    for ts in [*edges, day + 86_399_999, day + 86_400_000]:
        t = from_ms(ts).time()
        expected = start <= t < end if start < end else (t >= start or t < end)
        assert in_peak(ts, start, end) == expected, (from_ms(ts), window)


def test_point_capacity() -> None:
    day = (2026, 10, 5)
    tests = [
        CapacityTest(wib(*day, 9, 0), "down", 55.0),
        CapacityTest(wib(*day, 19, 30), "down", 10.0),
        CapacityTest(wib(*day, 12, 0), "down", 40.0),
        CapacityTest(wib(*day, 22, 0), "down", 20.0),
        CapacityTest(wib(*day, 23, 0), "down", 50.0),
        CapacityTest(wib(*day, 23, 0), "up", 30.0),
    ]
    cap = point_capacity(tests, 50.0, 50.0, *PEAK)
    assert cap.tests_n == 5
    assert cap.down_median_mbps == 40.0
    assert cap.down_median_pct == 80.0
    assert cap.tests_ge_100_pct == 40.0  # 50, 55
    assert cap.tests_ge_80_pct == 60.0  # 40, 50, 55
    assert cap.peak_down_mbps == (10.0, 20.0)
    assert cap.peak_down_median_mbps == 15.0
    assert cap.up_median_pct == 60.0
    assert cap.down_80_mbps == 20.0
    assert cap.speed_class == "80to95"


def test_group_80_80_and_split() -> None:
    def point(*mbps: float) -> object:
        return point_capacity(
            [CapacityTest(i, "down", v) for i, v in enumerate(mbps)], 50.0, 50.0, *PEAK
        )

    points = [
        point(50, 50, 50, 50, 50),  # 80 % speed 50, median 100 % → ge95
        point(48, 48, 48, 48, 10),  # 48, 96 % → ge95
        point(45, 45, 45, 45, 45),  # 45, 90 % → 80to95
        point(20, 20, 20, 20, 20),  # 20, 40 % → lt80
        point(30, 30, 30, 30, 30),  # 30, 60 % → lt80
        point_capacity([], 50.0, 50.0, *PEAK),  # untested: not in 80/80 nor split
    ]
    group = group_capacity(points)  # type: ignore[arg-type]
    assert group.points_tested == 5
    assert group.tests_n == 25
    assert group.speed_80_80_mbps == 30.0  # of 50, 48, 45, 20, 30: 4 of 5 reach 30
    assert group.speed_80_80_pct == 60.0
    assert (group.points_ge95_n, group.points_80to95_n, group.points_lt80_n) == (2, 1, 2)


@pytest.mark.parametrize(
    ("availability", "deduction"),
    [
        (100.0, 0),
        (95.0, 0),
        (94.99, 10),
        (90.0, 10),
        (89.9, 25),
        (79.0, 50),
        (49.0, 100),
        (None, 0),
    ],
)
def test_default_penalty_schedule(availability: float | None, deduction: float) -> None:
    assert Terms().deduction_pct(availability) == deduction
