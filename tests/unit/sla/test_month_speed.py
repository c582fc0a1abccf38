"""A point's month with the contract's speed schedule and coverage minimum, computed by hand.

October 2026: 44 640 minutes. Every hour has 60 samples at a declared 60 s (coverage 100 %)
unless a case says otherwise. Default speed terms: brackets on the peak-window median (19:00–
23:00 WIB) as % of 47.8 Mbit/s (50 less the 4.4 % goodput allowance), five peak tests needed.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pantau.collector.sla.capacity import CapacityTest
from pantau.collector.sla.hourly import HourRollup
from pantau.collector.sla.month import plan_point, point_month
from pantau.collector.sla.periods import month
from tests.unit.sla.helpers import registry, rollups, wib

OCT = month("2026-10")


def sampled(rows: dict[int, HourRollup], samples: int = 60) -> dict[int, HourRollup]:
    return {h: dataclasses.replace(r, samples_n=samples, interval_s=60.0) for h, r in rows.items()}


def peak_tests(mbps: float, days: int, first_day: int = 1) -> list[CapacityTest]:
    return [
        CapacityTest(wib(2026, 10, first_day + d, 20, 0), "down", mbps) for d in range(days)
    ] + [CapacityTest(wib(2026, 10, first_day + d, 10, 0), "down", 50.0) for d in range(days)]


def figures(tests: list[CapacityTest], spans: Any = (), samples: int = 60, **terms: Any) -> Any:
    reg = registry(**({"speed": {}, "min_coverage_pct": 90} | terms))
    plan = plan_point(reg, reg.points[0], OCT)
    assert plan is not None
    return point_month(plan, OCT, sampled(rollups(OCT, list(spans)), samples), tests).figures


def test_twenty_mbps_at_peak_deducts_half_the_fee() -> None:
    """20 / 47.8 = 41.84 % (the daytime tests at 50 do not count): under 60 → 50 %."""
    f = figures(peak_tests(20.0, 31))
    assert (f.speed_verdict, f.speed_peak_pct, f.speed_judged_mbps, f.peak_tests_n) == (
        "short",
        41.84,
        47.8,
        31,
    )
    assert (f.deduction_availability_pct, f.deduction_speed_pct, f.deduction_pct) == (0, 50, 50)
    assert (f.deduction_idr, f.deduction_speed_idr, f.net_payable_idr) == (
        250_000,
        250_000,
        250_000,
    )
    assert (f.to_be_decided_reason, f.points_speed_short_n) == (None, 1)


def test_availability_and_speed_add_up() -> None:
    """Down 4 days (5 760 of 44 640 min: 87.10 % → 25 %) and 30 Mbps (62.76 % → 25 %): 50 %."""
    f = figures(peak_tests(30.0, 31), [(wib(2026, 10, 3, 0, 0), 4 * 1440, "D")])
    assert (f.deduction_availability_pct, f.deduction_speed_pct, f.deduction_pct) == (25, 25, 50)
    assert (f.deduction_availability_idr, f.deduction_speed_idr) == (125_000, 125_000)
    max_rule = figures(
        peak_tests(30.0, 31), [(wib(2026, 10, 3, 0, 0), 4 * 1440, "D")], combine="max"
    )
    assert (max_rule.deduction_idr, max_rule.deduction_availability_idr) == (125_000, 125_000)


def test_four_peak_tests_are_not_enough_for_a_verdict() -> None:
    f = figures(peak_tests(20.0, 4))
    assert (f.speed_verdict, f.points_not_enough_tests_n, f.speed_peak_pct) == (
        "not_enough_tests",
        1,
        41.84,
    )
    assert (f.to_be_decided_reason, f.to_be_decided_idr, f.net_payable_idr) == (
        "not_enough_tests",
        500_000,
        None,
    )


def test_coverage_under_the_minimum_is_to_be_decided() -> None:
    """53 of 60 samples an hour: 88.33 % < 90 %; 54 of 60: 90 %, decided."""
    low = figures(peak_tests(50.0, 31), samples=53)
    assert (low.coverage_pct, low.to_be_decided_reason, low.to_be_decided_idr) == (
        100 * 53 / 60,
        "low_coverage",
        500_000,
    )
    enough = figures(peak_tests(50.0, 31), samples=54)
    assert (enough.coverage_pct, enough.to_be_decided_reason, enough.net_payable_idr) == (
        90.0,
        None,
        500_000,
    )


def test_maintenance_all_month_is_billed_without_a_speed_verdict() -> None:
    reg = registry(
        [{"maintenance": [{"start": "2026-09-01T00:00", "end": "2026-12-01T00:00"}]}],
        speed={},
        min_coverage_pct=90,
    )
    plan = plan_point(reg, reg.points[0], OCT)
    assert plan is not None
    f = point_month(plan, OCT, {}, []).figures
    assert (f.speed_verdict, f.to_be_decided_reason, f.net_payable_idr) == (
        "not_judged",
        None,
        500_000,
    )


def test_compliance_latency_from_the_peak_hours() -> None:
    """Peak hours 19–22 WIB: 124 of them. Six with a median RTT of 180 ms: 118/124 = 95.16 %
    ≤ 100 ms, passes; eight: 116/124 = 93.55 %, fails → 25 %."""
    reg = registry(speed={"kind": "compliance"}, min_coverage_pct=90)
    plan = plan_point(reg, reg.points[0], OCT)
    assert plan is not None

    def month_with(slow_hours: int) -> Any:
        rows = sampled(rollups(OCT, []))
        slow = {wib(2026, 10, 1 + d, 20, 0) for d in range(slow_hours)}
        rows = {
            h: dataclasses.replace(r, rtt_median_ms=180.0 if h in slow else 20.0)
            for h, r in rows.items()
        }
        return point_month(plan, OCT, rows, peak_tests(45.0, 31)).figures

    ok, failing = month_with(6), month_with(8)
    assert (ok.latency_ok_pct, ok.speed_tests_reaching_pct, ok.speed_verdict) == (
        95.16,
        100.0,
        "met",
    )
    assert (failing.latency_ok_pct, failing.speed_verdict, failing.deduction_idr) == (
        93.55,
        "short",
        125_000,
    )
