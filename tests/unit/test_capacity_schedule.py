"""When capacity tests run and when they wait: pure functions, hand-computed cases."""

from __future__ import annotations

import datetime as dt
import math
import random

import pytest

from pantau.agent.capacity.schedule import (
    Decision,
    Ledger,
    Limits,
    Pending,
    Plan,
    Planner,
    decide,
    estimate_bytes,
    in_peak,
    local_day,
    peak_slot,
    peak_window,
    random_gap_s,
)

WIB = dt.timezone(dt.timedelta(hours=7))
H = 3600.0
PEAK = (dt.time(19), dt.time(23))
LATE = (dt.time(22), dt.time(2))  # a window past midnight


def wib(day: int, hour: int, minute: int = 0, second: int = 0) -> float:
    return dt.datetime(2025, 1, day, hour, minute, second, tzinfo=WIB).timestamp()


@pytest.mark.parametrize(
    ("u", "expected"),
    [
        (0.0, 1 * H),  # a zero gap is clamped up to the minimum
        (1 - math.exp(-1), 6 * H),  # the mean
        (0.5, 6 * H * math.log(2)),  # the median of an exponential
        (0.99, 12 * H),  # a long gap is clamped down to the maximum
        (1.0, 12 * H),  # never log(0)
    ],
)
def test_random_gap(u: float, expected: float) -> None:
    assert random_gap_s(u, 6 * H, 1 * H, 12 * H) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("at", "window", "inside"),
    [
        (wib(31, 18, 59, 59), PEAK, False),
        (wib(31, 19), PEAK, True),
        (wib(31, 22, 59, 59), PEAK, True),
        (wib(31, 23), PEAK, False),
        (wib(31, 23, 30), LATE, True),
        (wib(31, 1, 59), LATE, True),
        (wib(31, 2), LATE, False),
        (wib(31, 12), LATE, False),
    ],
)
def test_in_peak(at: float, window: tuple[dt.time, dt.time], inside: bool) -> None:
    assert in_peak(at, WIB, *window) is inside


def test_peak_window_is_wib_and_may_cross_midnight() -> None:
    day = dt.date(2025, 1, 31)
    assert peak_window(day, WIB, *PEAK) == (wib(31, 19), wib(31, 23))
    assert peak_window(day, WIB, *LATE) == (wib(31, 22), wib(31, 22) + 4 * H)
    # 19:00 WIB is 12:00 UTC
    assert (
        peak_window(day, WIB, *PEAK)[0] == dt.datetime(2025, 1, 31, 12, tzinfo=dt.UTC).timestamp()
    )


@pytest.mark.parametrize(
    ("now", "u", "window", "expected"),
    [
        (wib(30, 8), 0.0, PEAK, wib(30, 19)),  # opens the window
        (wib(30, 8), 1.0, PEAK, wib(30, 23) - 60),  # room for a whole test before it closes
        (wib(30, 8), 0.5, PEAK, (wib(30, 19) + wib(30, 23) - 60) / 2),
        (wib(30, 20), 0.0, PEAK, wib(30, 20)),  # inside the window: from now
        (wib(30, 22, 59, 30), 0.0, PEAK, wib(31, 19)),  # no room left today: tomorrow
        (wib(31, 1), 0.0, LATE, wib(31, 1)),  # inside yesterday's late window
        (wib(31, 3), 0.0, LATE, wib(31, 22)),
    ],
)
def test_peak_slot(now: float, u: float, window: tuple[dt.time, dt.time], expected: float) -> None:
    assert peak_slot(now, u, WIB, *window, test_s=60) == pytest.approx(expected)


def test_ledger_turns_with_the_local_day() -> None:
    # 23:30 WIB on the 30th is still the 30th locally though it is the 30th 16:30 UTC
    assert local_day(wib(30, 23, 30), WIB) == dt.date(2025, 1, 30)
    assert local_day(wib(31, 0, 30), WIB) == dt.date(2025, 1, 31)
    ledger = Ledger(dt.date(2025, 1, 30)).charged(1000, peak=True).charged(500, peak=False)
    assert ledger == Ledger(dt.date(2025, 1, 30), bytes=1500, tests=2, peak_tests=1)
    assert ledger.on(dt.date(2025, 1, 30)) is ledger
    assert ledger.on(dt.date(2025, 1, 31)) == Ledger(dt.date(2025, 1, 31))


@pytest.mark.parametrize(
    ("last", "expected"),
    [
        (None, int(50e6 / 8 * 12 * 2)),  # 50 Mbps for 12 s each way: 150 MB
        (0, int(50e6 / 8 * 12 * 2)),
        (88_000_000, 88_000_000),  # what the last test really cost
    ],
)
def test_estimate_bytes(last: int | None, expected: int) -> None:
    assert estimate_bytes(last, 50.0, 12.0, 2) == expected


LIMITS = Limits(defer_above_bps=5e6, retry_s=300, max_deferrals=2, budget_bytes=1_000_000_000)
NOW = wib(31, 10)


@pytest.mark.parametrize(
    ("traffic", "free", "spent", "deferrals", "deadline", "expected"),
    [
        (1e6, True, 0, 0, None, Decision(True)),
        (5e6, True, 0, 0, None, Decision(True)),  # at the threshold is not above it
        (6e6, True, 0, 0, None, Decision(False, "user_traffic", NOW + 300)),
        (None, True, 0, 0, None, Decision(False, "no_traffic_reading", NOW + 300)),
        (1e6, False, 0, 1, None, Decision(False, "uplink_busy", NOW + 300)),
        (6e6, True, 0, 2, None, Decision(False, "user_traffic", None)),  # deferred enough
        (6e6, True, 0, 0, NOW + 299, Decision(False, "user_traffic", None)),  # peak is over
        (6e6, True, 0, 0, NOW + 300, Decision(False, "user_traffic", NOW + 300)),
        (1e6, True, 850_000_000, 0, None, Decision(False, "budget", None)),
        (1e6, True, 849_999_999, 0, None, Decision(True)),  # 150 MB still fit
        (9e9, False, 850_000_000, 0, None, Decision(False, "budget", None)),  # budget first
    ],
)
def test_decide(
    traffic: float | None,
    free: bool,
    spent: int,
    deferrals: int,
    deadline: float | None,
    expected: Decision,
) -> None:
    got = decide(NOW, traffic, free, spent, 150_000_001, deferrals, LIMITS, deadline)
    assert got == expected


def plan(**changes: object) -> Plan:
    base: dict[str, object] = {
        "mean_s": 6 * H,
        "min_s": 1 * H,
        "max_s": 12 * H,
        "first_after_s": None,
        "zone": WIB,
        "peak_start": PEAK[0],
        "peak_end": PEAK[1],
        "peak_per_day": 1,
        "test_s": 30.0,
    }
    return Plan(**(base | changes))  # type: ignore[arg-type]


def test_planner_first_test_and_random_gaps() -> None:
    rng = random.Random(7)
    planner = Planner(plan(first_after_s=20.0), rng, NOW)
    first = planner.next()
    assert first == Pending("first", NOW + 20.0)
    draws = random.Random(7)
    draws.random()  # the peak slot's draw, made when the planner was built
    planner.done(first, NOW + 50, peak_tests_today=0)
    expected_gap = random_gap_s(draws.random(), 6 * H, 1 * H, 12 * H)
    assert planner.random == Pending("random", NOW + 50 + expected_gap)


def test_planner_gaps_stay_within_limits_and_average_near_the_mean() -> None:
    planner = Planner(plan(peak_per_day=0), random.Random(3), NOW)
    assert planner.peak is None
    gaps = []
    at = NOW
    for _ in range(2000):
        pending = planner.next()
        gaps.append(pending.due_s - at)
        at = pending.due_s
        planner.done(pending, at, peak_tests_today=0)
    assert min(gaps) >= 1 * H and max(gaps) <= 12 * H
    # the clamped exponential's mean: min + mean (e^-min/mean - e^-max/mean) ≈ 5.27 h
    clamped_mean = 1 * H + 6 * H * (math.exp(-1 / 6) - math.exp(-2))
    assert sum(gaps) / len(gaps) == pytest.approx(clamped_mean, rel=0.05)


def test_planner_forces_one_test_into_each_peak() -> None:
    planner = Planner(plan(mean_s=96 * H, min_s=60 * H, max_s=96 * H), random.Random(1), NOW)
    peak = planner.next()
    assert peak.trigger == "peak"
    assert wib(31, 19) <= peak.due_s <= wib(31, 23) - 30
    assert peak.deadline_s == wib(31, 23) - 30
    planner.done(peak, peak.due_s + 30, peak_tests_today=1)
    tomorrow = planner.next()
    assert tomorrow.trigger == "peak"
    assert (
        dt.datetime(2025, 2, 1, 19, tzinfo=WIB).timestamp()
        <= tomorrow.due_s
        <= dt.datetime(2025, 2, 1, 23, tzinfo=WIB).timestamp() - 30
    )


def test_planner_peak_deferred_then_given_up_moves_to_tomorrow() -> None:
    planner = Planner(plan(mean_s=96 * H, min_s=60 * H, max_s=96 * H), random.Random(2), NOW)
    peak = planner.next()
    planner.deferred(peak, peak.due_s + 300)
    again = planner.next()
    assert again == Pending("peak", peak.due_s + 300, peak.deadline_s, deferrals=1)
    planner.done(again, again.due_s, peak_tests_today=0, gave_up=True)
    assert planner.next().due_s >= dt.datetime(2025, 2, 1, 19, tzinfo=WIB).timestamp()


def test_planner_two_peak_tests_a_day() -> None:
    planner = Planner(
        plan(mean_s=96 * H, min_s=60 * H, max_s=96 * H, peak_per_day=2), random.Random(4), NOW
    )
    first = planner.next()
    planner.done(first, first.due_s + 30, peak_tests_today=1)
    second = planner.next()
    assert first.due_s + 30 <= second.due_s <= wib(31, 23) - 30


def test_a_random_test_in_the_peak_covers_it() -> None:
    planner = Planner(plan(), random.Random(5), NOW)
    peak = Pending("peak", wib(31, 20), wib(31, 23) - 30)
    assert planner.peak_covered(peak, peak_tests_today=1)
    assert not planner.peak_covered(peak, peak_tests_today=0)
    assert not planner.peak_covered(Pending("random", wib(31, 20)), peak_tests_today=5)
