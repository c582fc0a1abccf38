"""Missing, late or absent evidence: never paid silently. Each case computed by hand.

October 2026 (44 640 minutes), default contract (Rp500.000, 95 % target). A point-hour whose
`sla_hourly` row says raw data was written after its rollup started (`marked_ms > rolled_ms`)
is "missing" without a rollup and "stale" with one; any such active hour of the month or of the
day either side, or a month without a single minute to judge, holds the whole fee back as "to
be decided": no deduction, no net payable.
"""

from __future__ import annotations

from typing import Any

import pytest

from pantau.collector.sla.capacity import CapacityTest
from pantau.collector.sla.daily import PointHours
from pantau.collector.sla.groups import group_figures
from pantau.collector.sla.month import CONTEXT_MS, PointDetail, plan_point, point_month
from pantau.collector.sla.periods import month
from tests.unit.sla.helpers import registry, rollups, wib

OCT = month("2026-10")
M = 44_640
H = wib(2026, 10, 7, 3, 0)  # an hour inside the month
BEFORE = wib(2026, 9, 30, 12, 0)  # inside the day of context before the month
OUTSIDE = wib(2026, 9, 29, 12, 0)  # before the context: not read by the report
DECIDED = {
    "to_be_decided_reason": None,
    "to_be_decided_idr": 0,
    "points_to_be_decided_n": 0,
    "evidence_missing_hours": 0,
    "evidence_stale_hours": 0,
}
HELD_BACK = {
    "to_be_decided_idr": 500_000,
    "points_to_be_decided_n": 1,
    "deduction_pct": None,
    "deduction_idr": None,
    "net_payable_idr": None,
    "idr_per_mbps": None,
    "fee_idr": 500_000,
}

# name, point fields, contract terms, fill letter, hours without a rollup, marks, expected
CASES: list[tuple[str, dict, dict, str, list[int], dict[int, tuple], dict[str, Any]]] = [
    (
        "every hour rolled up after its last mark",
        {},
        {},
        "U",
        [],
        {H: (1_000, 2_000), BEFORE: (1_000, 2_000)},
        DECIDED | {"net_payable_idr": 500_000, "deduction_idr": 0},
    ),
    (
        "rows without marks (written before marks existed) are taken as they are",
        {},
        {},
        "U",
        [],
        {},
        DECIDED | {"net_payable_idr": 500_000},
    ),
    (
        "raw data marked, never rolled up: missing, read as no sample, fee to be decided",
        {},
        {},
        "U",
        [H],
        {H: (1_000, 0)},
        HELD_BACK
        | {
            "to_be_decided_reason": "rollup_missing",
            "evidence_missing_hours": 1,
            "evidence_stale_hours": 0,
            "minutes_no_sample": 60,
            "availability_pct": 100.0,
        },
    ),
    (
        "a rollup older than raw data marked since: stale",
        {},
        {},
        "U",
        [],
        {H: (3_000, 0)},
        HELD_BACK
        | {
            "to_be_decided_reason": "rollup_stale",
            "evidence_missing_hours": 0,
            "evidence_stale_hours": 1,
        },
    ),
    (
        "a mark the rollup started after (same millisecond) is reflected",
        {},
        {},
        "U",
        [],
        {H: (2_000, 2_000)},
        DECIDED,
    ),
    (
        "missing and stale hours: missing is named",
        {},
        {},
        "U",
        [H],
        {H: (1_000, 0), H + 3_600_000: (5_000, 4_000), H + 7_200_000: (5_000, 4_000)},
        HELD_BACK
        | {
            "to_be_decided_reason": "rollup_missing",
            "evidence_missing_hours": 1,
            "evidence_stale_hours": 2,
        },
    ),
    (
        "a missing hour in the day before the month counts: it may hold an outage's start",
        {},
        {},
        "U",
        [BEFORE],
        {BEFORE: (1_000, 0)},
        HELD_BACK | {"to_be_decided_reason": "rollup_missing", "evidence_missing_hours": 1},
    ),
    (
        "a missing hour outside the month and its context is not the report's",
        {},
        {},
        "U",
        [],
        {OUTSIDE: (1_000, 0)},
        DECIDED,
    ),
    (
        "installed 16 Oct: a missing hour before installation is not judged",
        {"installed": "2026-10-16"},
        {},
        "U",
        [H],
        {H: (1_000, 0)},
        DECIDED | {"fee_idr": 258_065, "net_payable_idr": 258_065},
    ),
    (
        "installed 16 Oct: a missing hour after installation is",
        {"installed": "2026-10-16"},
        {},
        "U",
        [wib(2026, 10, 20, 3, 0)],
        {wib(2026, 10, 20, 3, 0): (1_000, 0)},
        HELD_BACK
        | {
            "to_be_decided_reason": "rollup_missing",
            "fee_idr": 258_065,
            "to_be_decided_idr": 258_065,
        },
    ),
    (
        "not one minute with data: nothing to judge by, fee to be decided",
        {},
        {},
        "N",
        [],
        {},
        HELD_BACK
        | {
            "to_be_decided_reason": "no_data",
            "availability_pct": None,
            "minutes_no_data": M,
            "evidence_missing_hours": 0,
        },
    ),
    (
        "router unreachable all month: no data either",
        {},
        {},
        "X",
        [],
        {},
        HELD_BACK | {"to_be_decided_reason": "no_data", "minutes_device_unreachable": M},
    ),
    (
        "no data all month, counted as down by the contract: 0 % → 100 % deduction, decided",
        {},
        {"no_data_counts_as_down": True},
        "N",
        [],
        {},
        DECIDED | {"availability_pct": 0.0, "deduction_pct": 100.0, "net_payable_idr": 0},
    ),
    (
        "declared maintenance all month: billed, not judged, decided",
        {
            "maintenance": [
                {"start": "2026-10-01T00:00:00+07:00", "end": "2026-11-01T00:00:00+07:00"}
            ]
        },
        {},
        "N",
        [],
        {},
        DECIDED | {"availability_pct": None, "minutes_excluded": M, "net_payable_idr": 500_000},
    ),
]


def hours_of(rows: dict, marks: dict[int, tuple]) -> PointHours:
    return PointHours.from_rollups(rows, OCT.start_ms - CONTEXT_MS, OCT.end_ms + CONTEXT_MS, marks)


@pytest.mark.parametrize(
    ("name", "point", "terms", "fill", "dropped", "marks", "expected"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_evidence_and_money(
    name: str,
    point: dict[str, Any],
    terms: dict[str, Any],
    fill: str,
    dropped: list[int],
    marks: dict[int, tuple],
    expected: dict[str, Any],
) -> None:
    reg = registry([point], **terms)
    plan = plan_point(reg, reg.points[0], OCT)
    assert plan is not None
    rows = rollups(OCT, [], fill)
    for hour in dropped:
        del rows[hour]
    figures = point_month(plan, OCT, hours_of(rows, marks), []).figures
    assert {key: getattr(figures, key) for key in expected} == pytest.approx(expected), name


def test_the_oldest_incomplete_hour_and_hours_with_data() -> None:
    reg = registry()
    plan = plan_point(reg, reg.points[0], OCT)
    assert plan is not None
    rows = rollups(OCT, [])
    del rows[H]
    marks = {H + 3_600_000: (5, 0), H: (5, 0), OUTSIDE: (5, 0)}
    detail = point_month(plan, OCT, hours_of(rows, marks), [])
    assert detail.oldest_incomplete_ms == H
    assert detail.hours_with_data == 744  # 743 rollups and one hour marked without one
    empty = point_month(plan, OCT, hours_of({}, {}), [])
    assert (empty.oldest_incomplete_ms, empty.hours_with_data) == (None, 0)


def test_hours_must_cover_the_month_and_its_context() -> None:
    reg = registry()
    plan = plan_point(reg, reg.points[0], OCT)
    assert plan is not None
    short = PointHours.from_rollups({}, OCT.start_ms, OCT.end_ms)
    with pytest.raises(ValueError, match="the report needs"):
        point_month(plan, OCT, short, [])


def _detail(point_id: str, fill_spans: list, dropped: list[int], marks: dict, down: float) -> Any:
    reg = registry([{"id": point_id}])
    plan = plan_point(reg, reg.points[0], OCT)
    assert plan is not None
    rows = rollups(OCT, fill_spans)
    for hour in dropped:
        del rows[hour]
    tests = [CapacityTest(wib(2026, 10, 3, 10, 0), "down", down)]
    return point_month(plan, OCT, hours_of(rows, marks), tests)


def test_a_group_adds_money_decided_and_to_be_decided() -> None:
    details: list[PointDetail] = [
        # 4 days and 6 hours down: 86.29 % → 25 % deduction, Rp125.000
        _detail("citangkil-01", [(wib(2026, 10, 20, 0, 0), 6120, "D")], [], {}, 40.0),
        _detail("citangkil-02", [], [H], {H: (1, 0)}, 50.0),  # rollup missing
        _detail("citangkil-03", [], [], {}, 45.0),
    ]
    f = group_figures("kelurahan", "Citangkil", details)
    expected = {
        "points": 3,
        "fee_idr": 1_500_000,
        "deduction_idr": 125_000,
        "net_payable_idr": 375_000 + 500_000,
        "to_be_decided_idr": 500_000,
        "points_to_be_decided_n": 1,
        "evidence_missing_hours": 1,
        "evidence_stale_hours": 0,
        "deduction_pct": 12.5,  # of the Rp1.000.000 decided
        "idr_per_mbps": 875_000 / (40 + 45),  # the point to be decided has no net yet
        "to_be_decided_reason": None,
    }
    assert {key: getattr(f, key) for key in expected} == pytest.approx(expected)
    assert f.fee_idr == f.deduction_idr + f.net_payable_idr + f.to_be_decided_idr
