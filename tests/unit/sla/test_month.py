"""Point-month figures, each case computed by hand.

October 2026 has 31 days = 44 640 minutes, from 2026-09-30 17:00 UTC (1 Oct 00:00 WIB) to
2026-10-31 17:00 UTC (1 Nov 00:00 WIB). The default contract: threshold 300 s, fee Rp500.000,
deductions 10 % below 95 %, 25 % below 90 %, 50 % below 80 %, 100 % below 50 %.
"""

from __future__ import annotations

from typing import Any

import pytest

from pantau.collector.sla.month import plan_point, point_month
from pantau.collector.sla.periods import month
from tests.unit.sla.helpers import registry, rollups, wib

OCT = month("2026-10")
M = 44_640

CASES: list[tuple[str, dict[str, Any], dict[str, Any], list[tuple[int, int, str]], dict]] = [
    # name, point fields, contract terms, minute spans, expected figures
    (
        "all up",
        {},
        {},
        [],
        {"availability_pct": 100.0, "outages_n": 0, "fee_idr": 500_000, "deduction_idr": 0},
    ),
    (
        "down 5 min = threshold: an outage",
        {},
        {},
        [(wib(2026, 10, 3, 10, 0), 5, "D")],
        {
            "outages_n": 1,
            "outage_total_s": 300,
            "minutes_outage": 5,
            "minutes_up": M - 5,
            "availability_pct": 100 * (M - 5) / M,
            "short_interruptions_n": 0,
        },
    ),
    (
        "down 4 min, just under: a short interruption, counted as up",
        {},
        {},
        [(wib(2026, 10, 3, 10, 0), 4, "D")],
        {
            "outages_n": 0,
            "short_interruptions_n": 1,
            "minutes_short_interruption": 4,
            "minutes_provider_down": 4,
            "availability_pct": 100.0,
        },
    ),
    (
        "threshold 270 s: 5 minutes are over it, 4 minutes under",
        {},
        {"outage_threshold_s": 270},
        [(wib(2026, 10, 3, 10, 0), 5, "D"), (wib(2026, 10, 4, 10, 0), 4, "D")],
        {"outages_n": 1, "outage_total_s": 300, "short_interruptions_n": 1},
    ),
    (
        "outage across midnight 10→11 Oct, 23:50–00:20 WIB: one outage of 30 min",
        {},
        {},
        [(wib(2026, 10, 10, 23, 50), 30, "D")],
        {"outages_n": 1, "outage_total_s": 1800, "outage_longest_s": 1800, "mttr_s": 1800.0},
    ),
    (
        "across the month end 31 Oct 23:57 → 1 Nov 00:03: 6 min long, 3 in October",
        {},
        {},
        [(wib(2026, 10, 31, 23, 57), 6, "D")],
        {"outages_n": 1, "outage_total_s": 180, "minutes_outage": 3, "minutes_up": M - 3},
    ),
    (
        "across the month start 30 Sep 23:58 → 1 Oct 00:02: 4 min long, a short interruption",
        {},
        {},
        [(wib(2026, 9, 30, 23, 58), 4, "D")],
        {"outages_n": 0, "short_interruptions_n": 1, "minutes_short_interruption": 2},
    ),
    (
        "WIB month edges: down 30 Sep 23:00–24:00 and 1 Nov 00:00–01:00 is not October",
        {},
        {},
        [(wib(2026, 9, 30, 23, 0), 60, "D"), (wib(2026, 11, 1, 0, 0), 60, "D")],
        {"outages_n": 0, "minutes_provider_down": 0, "availability_pct": 100.0},
    ),
    (
        "maintenance covering a down hour: excluded, no outage",
        {
            "maintenance": [
                {"start": "2026-10-05T01:00:00+07:00", "end": "2026-10-05T02:00:00+07:00"}
            ]
        },
        {},
        [(wib(2026, 10, 5, 1, 0), 60, "D")],
        {"minutes_excluded": 60, "outages_n": 0, "availability_pct": 100.0, "fee_idr": 500_000},
    ),
    (
        "maintenance (naive time = WIB) covering half a down hour: 30 min outage remains",
        {"maintenance": [{"start": "2026-10-05T01:00:00", "end": "2026-10-05T01:30:00"}]},
        {},
        [(wib(2026, 10, 5, 1, 0), 60, "D")],
        {"minutes_excluded": 30, "outages_n": 1, "outage_total_s": 1800},
    ),
    (
        "installed 16 Oct: 16 days, fee prorated, earlier downtime ignored",
        {"installed": "2026-10-16"},
        {},
        [(wib(2026, 10, 2, 0, 0), 600, "D")],
        {
            "minutes_active": 16 * 1440,
            "active_days": 16.0,
            "outages_n": 0,
            "fee_idr": 258_065,  # 500 000 × 23 040 / 44 640 = 258 064.5
            "net_payable_idr": 258_065,
        },
    ),
    (
        "removed 11 Oct: 10 days; a run ending at removal is clipped there",
        {"removed": "2026-10-11"},
        {},
        [(wib(2026, 10, 10, 23, 0), 120, "D")],
        {
            "minutes_active": 10 * 1440,
            "outages_n": 1,
            "outage_total_s": 3600,
            "fee_idr": 161_290,  # 500 000 × 14 400 / 44 640 = 161 290.3
        },
    ),
    (
        "no data for 3 days, not counted: reported beside availability",
        {},
        {},
        [(wib(2026, 10, 2, 0, 0), 4320, "N")],
        {
            "availability_pct": 100.0,
            "minutes_no_data": 4320,
            "minutes_no_sample": 4320,
            "no_data_pct": 100 * 4320 / M,
            "deduction_idr": 0,
        },
    ),
    (
        "no data for 3 days, counted as down: 90.32 % → 10 % deduction",
        {},
        {"no_data_counts_as_down": True},
        [(wib(2026, 10, 2, 0, 0), 4320, "N")],
        {
            "availability_pct": 100 * (M - 4320) / M,
            "outages_n": 1,
            "outage_total_s": 4320 * 60,
            "deduction_pct": 10.0,
            "deduction_idr": 50_000,
            "net_payable_idr": 450_000,
        },
    ),
    (
        "router unreachable is no_data with its own reason",
        {},
        {},
        [(wib(2026, 10, 2, 0, 0), 10, "X"), (wib(2026, 10, 2, 1, 0), 7, "W")],
        {
            "minutes_no_data": 17,
            "minutes_device_unreachable": 10,
            "minutes_wan_unknown": 7,
            "minutes_no_sample": 0,
            "outages_n": 0,
        },
    ),
    (
        "four days down: 86.29 % → 25 % deduction",
        {},
        {},
        [(wib(2026, 10, 20, 0, 0), 4 * 1440 + 360, "D")],
        {
            "availability_pct": 100 * (M - 6120) / M,
            "deduction_pct": 25.0,
            "deduction_idr": 125_000,
            "outage_longest_s": 6120 * 60,
            "meets_target": False,
        },
    ),
]


@pytest.mark.parametrize(
    ("name", "point", "terms", "spans", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_point_month(
    name: str, point: dict[str, Any], terms: dict[str, Any], spans: list, expected: dict
) -> None:
    reg = registry([point], **terms)
    plan = plan_point(reg, reg.points[0], OCT)
    assert plan is not None
    figures = point_month(plan, OCT, rollups(OCT, spans), []).figures
    got = {key: getattr(figures, key) for key in expected}
    assert got == pytest.approx(expected), name


def test_outage_start_end_and_flags_at_month_end() -> None:
    reg = registry()
    plan = plan_point(reg, reg.points[0], OCT)
    assert plan is not None
    detail = point_month(plan, OCT, rollups(OCT, [(wib(2026, 10, 31, 23, 57), 6, "D")]), [])
    (outage,) = detail.availability.outages
    assert (outage.start_ms, outage.end_ms) == (wib(2026, 10, 31, 23, 57), OCT.end_ms)
    assert (outage.continues_before, outage.continues_after, outage.full_minutes) == (
        False,
        True,
        6,
    )


def test_point_removed_before_the_month_is_not_in_it() -> None:
    reg = registry([{"installed": "2026-01-01", "removed": "2026-10-01"}])
    assert plan_point(reg, reg.points[0], OCT) is None


def test_missing_rollup_hours_are_no_sample() -> None:
    reg = registry()
    plan = plan_point(reg, reg.points[0], OCT)
    assert plan is not None
    rows = rollups(OCT, [])
    del rows[wib(2026, 10, 7, 3, 0)]
    figures = point_month(plan, OCT, rows, []).figures
    assert (figures.minutes_no_sample, figures.minutes_up) == (60, M - 60)


def _contract_registry(contracts: list[dict[str, Any]]) -> Any:
    from pantau.shared.registry import parse_registry

    point = {"id": "masigit-01", "kelurahan": "Masigit", "kecamatan": "Jombang"}
    return parse_registry(
        {"contracts": contracts, "points": [point | {"provider": "Awinet"}]}, "test"
    )


@pytest.mark.parametrize(
    ("contracts", "expected"),
    [
        (  # the contract ends on 20 Oct (inclusive): 20 days billed and judged
            [{"provider": "Awinet", "valid_until": "2026-10-20"}],
            {"minutes_active": 20 * 1440, "fee_idr": 322_581},  # 500 000 × 20 / 31
        ),
        (  # a kelurahan override: Masigit pays Rp300.000 for 20 Mbit/s
            [
                {
                    "provider": "Awinet",
                    "kelurahan": {"Masigit": {"fee_idr": 300_000, "down_mbps": 20}},
                }
            ],
            {"fee_idr": 300_000, "committed_down_mbps": 20, "committed_up_mbps": 50},
        ),
        (  # back-to-back contracts: the month is judged by the one in force on its first day
            [
                {"provider": "Awinet", "valid_until": "2026-10-15", "terms": {"fee_idr": 400_000}},
                {"provider": "Awinet", "valid_from": "2026-10-16", "terms": {"fee_idr": 600_000}},
            ],
            {"minutes_active": 44_640, "fee_idr": 400_000},
        ),
    ],
)
def test_contract_periods_and_overrides(contracts: list[dict[str, Any]], expected: dict) -> None:
    reg = _contract_registry(contracts)
    plan = plan_point(reg, reg.points[0], OCT)
    assert plan is not None
    figures = point_month(plan, OCT, rollups(OCT, []), []).figures
    assert {key: getattr(figures, key) for key in expected} == expected


def test_capacity_against_an_overridden_commitment() -> None:
    from pantau.collector.sla.capacity import CapacityTest

    reg = _contract_registry(
        [
            {
                "provider": "Awinet",
                "terms": {"speed": None, "min_coverage_pct": 0},
                "kelurahan": {"Masigit": {"down_mbps": 20}},
            }
        ]
    )
    plan = plan_point(reg, reg.points[0], OCT)
    assert plan is not None
    tests = [CapacityTest(wib(2026, 10, 3, h, 0), "down", v) for h, v in ((9, 18.0), (20, 16.0))]
    figures = point_month(plan, OCT, rollups(OCT, []), tests).figures
    assert (figures.down_median_mbps, figures.down_median_pct, figures.speed_class) == (
        17.0,
        85.0,
        "80to95",
    )
    assert figures.idr_per_mbps == pytest.approx(500_000 / 17)
