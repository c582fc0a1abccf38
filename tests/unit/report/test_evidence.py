"""The report never pays silently: missing or late rollups, months not over, months not begun
and months without data, in every format, from rows held in memory."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

import pytest

from pantau.collector.admin.registry_cli import generate
from pantau.collector.report.cli import compute, render
from pantau.collector.report.compute import Filters, MonthReport, ReportError
from pantau.collector.sla.periods import HOUR_MS, month
from pantau.shared.registry import Registry, parse_registry
from tests.report_fixtures import MemorySource, synthetic_month
from tests.unit.sla.helpers import wib

KELURAHAN = [
    {"kecamatan": "Jombang", "kelurahan": "Masigit", "kelurahan_code": "36.72.05.1003"},
    {"kecamatan": "Citangkil", "kelurahan": "Citangkil", "kelurahan_code": "36.72.08.1007"},
]
NOW = wib(2026, 11, 15, 12, 0)  # mid-November: October is over, November is not
MISSING = (wib(2026, 10, 9, 8, 0), wib(2026, 10, 9, 9, 0))  # masigit-01: marked, no rollup
STALE = wib(2026, 9, 30, 20, 0)  # citangkil-02, in the day before October: rolled, marked since
FIRST_LINE = (
    "EVIDENCE INCOMPLETE: 2 point-hours with telemetry but no rollup, 1 with a rollup older"
    " than their telemetry, at 2 point(s), from 2026-09-30 20:00 WIB;"
    " fix: pantau rollup rebuild --month 2026-10"
    " | TO BE DECIDED: Rp1,000,000 (2 point(s)) left out of the net payable"
)


def registry(**point: Any) -> Registry:
    data = generate(KELURAHAN, 3, "Awinet")
    for row in data["points"]:
        row.update(point)
    return parse_registry(data, "test")


def source(label: str = "2026-10", reg: Registry | None = None) -> MemorySource:
    return synthetic_month(reg or registry(), month(label))


def incomplete() -> MonthReport:
    memory = source()
    rows = memory._rollups
    for hour in MISSING:
        del rows["masigit-01"][hour]
    marks = {
        "masigit-01": {hour: (NOW - 1000, 0) for hour in MISSING},
        "citangkil-02": {STALE: (NOW - 500, 0)},
        "citangkil-03": {wib(2026, 10, 9, 8, 0): (NOW - 500, NOW - 400)},  # rolled up since
    }
    return compute(registry(), MemorySource(rows, memory._tests, marks), "2026-10", Filters(), NOW)


def test_a_final_report_starts_as_before() -> None:
    report = compute(registry(), source(), "2026-10", Filters(), NOW)
    assert report.final and not report.provisional
    table = render(report, "table", "en")
    assert table.splitlines()[0] == "Public Wi-Fi SLA report · Kota Cilegon · 2026-10"
    assert render(report, "csv", "en").startswith("level,id,kelurahan,")
    data = json.loads(render(report, "json", "en"))
    assert (data["final"], data["provisional"], data["notices"]) == (True, False, [])
    assert data["evidence"] == {
        "complete": True,
        "missing_hours": 0,
        "stale_hours": 0,
        "points": [],
        "oldest_hour": None,
        "fix": None,
        "no_data_points": [],
        "low_coverage_points": [],
        "not_enough_tests_points": [],
        "unregistered_points": [],
    }
    assert data["generated"] == "2026-11-15T12:00:00+07:00"
    assert '<div class="notice">' not in render(report, "html", "en")


def test_missing_and_late_rollups_are_said_first_and_their_fees_held_back() -> None:
    report = incomplete()
    assert not report.final
    assert render(report, "table", "en").splitlines()[0] == FIRST_LINE
    text = render(report, "csv", "en")
    assert text.splitlines()[0] == "# " + FIRST_LINE
    rows = list(csv.DictReader(io.StringIO(text.split("\n", 1)[1])))
    by_id = {r["id"]: r for r in rows}
    assert {k: by_id["masigit-01"][k] for k in ("to_be_decided_reason", "net_payable_idr")} == {
        "to_be_decided_reason": "rollup_missing",
        "net_payable_idr": "",
    }
    data = json.loads(render(report, "json", "en"))
    assert data["notices"] == FIRST_LINE.split(" | ")
    assert (data["final"], data["provisional"]) == (False, False)
    assert data["evidence"] == {
        "complete": False,
        "missing_hours": 2,
        "stale_hours": 1,
        "points": ["citangkil-02", "masigit-01"],
        "oldest_hour": "2026-09-30T20:00:00+07:00",
        "fix": "pantau rollup rebuild --month 2026-10",
        "no_data_points": [],
        "low_coverage_points": [],
        "not_enough_tests_points": [],
        "unregistered_points": [],
    }
    points = {p["id"]: p for p in data["points"]}
    money = ("fee_idr", "deduction_idr", "net_payable_idr", "to_be_decided_idr")
    assert {k: points["masigit-01"][k] for k in money} == {
        "fee_idr": 500_000,
        "deduction_idr": None,
        "net_payable_idr": None,
        "to_be_decided_idr": 500_000,
    }
    assert points["citangkil-02"]["to_be_decided_reason"] == "rollup_stale"
    assert points["citangkil-03"]["to_be_decided_reason"] is None  # rolled up after its mark
    total = data["total"]
    assert {k: total[k] for k in (*money, "points_to_be_decided_n")} == {
        "fee_idr": 3_000_000,
        "deduction_idr": 550_000,  # the synthetic Masigit is slow at peak: speed deductions
        "net_payable_idr": 1_450_000,
        "to_be_decided_idr": 1_000_000,
        "points_to_be_decided_n": 2,
    }


def test_the_html_opens_with_the_notice_and_lists_the_points_to_be_decided() -> None:
    html = render(incomplete(), "html", "en")
    body = html.split("<body>\n", 1)[1]
    assert body.startswith(
        '<div class="notice"><p>' + FIRST_LINE.split(" | ")[0] + "</p><p>"
        "TO BE DECIDED: Rp1,000,000 (2 point(s)) left out of the net payable</p></div>"
    )
    section = html.split("<h2>Points to be decided</h2>", 1)[1]
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", section.split("</table>", 1)[0])
    assert cells == [
        "citangkil-02", "Citangkil", "rollup late", "0", "1", cells[5], "Rp500,000",
        "masigit-01", "Masigit", "rollup missing", "2", "0", cells[12], "Rp500,000",
    ]  # fmt: skip


def test_the_table_marks_what_is_held_back() -> None:
    table = render(incomplete(), "table", "id")
    assert table.splitlines()[0].startswith("BUKTI BELUM LENGKAP: 2 jam-titik berisi telemetri")
    total = next(line for line in table.splitlines() if line.lstrip().startswith("total"))
    assert total.split()[-3:] == ["0,55", "1,45", "*"]
    assert table.rstrip().splitlines()[-1] == (
        "? / * Belum diputuskan: Rp1.000.000 (2 titik), tidak termasuk jumlah dibayar"
    )
    drilled = render(
        compute(
            registry(),
            source(),
            "2026-10",
            Filters(kelurahan="Masigit"),
            NOW,
        ),
        "table",
        "en",
    )
    assert drilled.splitlines()[0].startswith("Public Wi-Fi SLA report")
    held = render(_masigit_missing(), "table", "en")
    row = next(line for line in held.splitlines() if line.startswith(" masigit-01"))
    assert row.split()[-2:] == ["?", "?"]


def _masigit_missing() -> MonthReport:
    memory = source()
    del memory._rollups["masigit-01"][MISSING[0]]
    marks = {"masigit-01": {MISSING[0]: (NOW, 0)}}
    return compute(
        registry(),
        MemorySource(memory._rollups, memory._tests, marks),
        "2026-10",
        Filters(kelurahan="Masigit"),
        NOW,
    )


def test_only_marks_and_no_rollup_at_all_holds_every_fee_back() -> None:
    """The issue's case: the collector stored raw data, no rollup was ever made."""
    memory = source()
    marks = {
        point: {hour: (NOW, 0) for hour in rows if month("2026-10").start_ms <= hour}
        for point, rows in memory._rollups.items()
    }
    report = compute(registry(), MemorySource({}, memory._tests, marks), "2026-10", Filters(), NOW)
    total = report.total
    assert (total.fee_idr, total.net_payable_idr, total.to_be_decided_idr) == (
        3_000_000,
        0,
        3_000_000,
    )
    assert (report.evidence.missing_hours, report.evidence.stale_hours) == (6 * 768, 0)
    assert total.points_to_be_decided_n == 6


def test_a_month_not_over_is_provisional() -> None:
    report = compute(registry(), source("2026-11"), "2026-11", Filters(), NOW)
    assert report.provisional and not report.final
    line = (
        "PROVISIONAL: 2026-11 is not over (report of 2026-11-15 12:00 WIB);"
        " figures and amounts will change"
    )
    # the synthetic citangkil-03 is dead for 3 of the 14.5 days over: coverage 79 % so far
    low = (
        "LOW COVERAGE: 1 point(s) with data coverage under the contract's 90 %: citangkil-03"
        " | TO BE DECIDED: Rp500,000 (1 point(s)) left out of the net payable"
    )
    assert render(report, "table", "en").splitlines()[0] == f"{line} | {low}"
    data = json.loads(render(report, "json", "en"))
    assert (data["provisional"], data["final"]) == (True, False)
    assert data["notices"] == [line, *low.split(" | ")]
    assert (
        render(report, "csv", "id")
        .splitlines()[0]
        .startswith(
            "# SEMENTARA: 2026-11 belum berakhir (laporan per 2026-11-15 12:00 WIB);"
            " angka dan jumlah akan berubah | "
        )
    )


def test_the_last_minute_of_a_month_is_still_provisional() -> None:
    end = month("2026-10").end_ms
    assert compute(registry(), source(), "2026-10", Filters(), end - 1).provisional
    assert not compute(registry(), source(), "2026-10", Filters(), end).provisional


@pytest.mark.parametrize(
    ("label", "now", "message"),
    [
        ("2026-12", NOW, "2026-12 has not begun yet (it is 2026-11-15 12:00 WIB): nothing to report"),
        ("2026-11", wib(2026, 10, 31, 23, 59), "2026-11 has not begun yet (it is 2026-10-31 23:59 WIB)"),
    ],
)  # fmt: skip
def test_a_month_not_begun_is_an_error(label: str, now: int, message: str) -> None:
    with pytest.raises(ReportError, match=f"^{re.escape(message)}"):
        compute(registry(), source(), label, Filters(), now)


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        (
            Filters(),
            "no data for 2026-10: no rollup and no raw telemetry for the 6 point(s) in service;"
            " check the collector, --influx-url and --database",
        ),
        (
            Filters(kelurahan="Masigit"),
            "no data for 2026-10: no rollup and no raw telemetry for the 3 point(s)"
            " (kelurahan Masigit) in service; check the collector, --influx-url and --database",
        ),
    ],
)
def test_a_month_without_any_data_is_an_error(filters: Filters, message: str) -> None:
    with pytest.raises(ReportError, match=f"^{re.escape(message)}$"):
        compute(registry(), MemorySource({}, {}), "2026-10", filters, NOW)


def test_data_only_in_the_day_before_the_month_is_not_data_for_it() -> None:
    september = source("2026-09")
    start = month("2026-10").start_ms
    for point, rows in september._rollups.items():
        september._rollups[point] = {h: r for h, r in rows.items() if h < start}
    assert max(max(rows) for rows in september._rollups.values()) == start - HOUR_MS
    with pytest.raises(ReportError, match=r"^no data for 2026-10: "):
        compute(registry(), september, "2026-10", Filters(), NOW)


def test_a_month_before_every_installation_is_an_error() -> None:
    reg = registry(installed="2026-11-05")
    with pytest.raises(
        ReportError, match=r"^no point is in service in 2026-10: nothing to report$"
    ):
        compute(reg, source(reg=reg), "2026-10", Filters(), NOW)


def test_points_with_data_for_part_of_the_month() -> None:
    """Installed on 16 October (the registry says so): judged and billed from then on. An agent
    that started on 16 October at a point in service all month: the first half is no data, its
    coverage (52 %) is under the contract's 90 %: to be decided. A point silent all month beside
    them: to be decided."""
    data = generate(KELURAHAN, 3, "Awinet")
    next(p for p in data["points"] if p["id"] == "citangkil-01")["installed"] = "2026-10-16"
    reg = parse_registry(data, "test")
    memory = source(reg=reg)
    half = wib(2026, 10, 16, 0, 0)
    for point in ("citangkil-01", "citangkil-02"):
        memory._rollups[point] = {h: r for h, r in memory._rollups[point].items() if h >= half}
    memory._rollups["citangkil-03"] = {}
    report = compute(reg, memory, "2026-10", Filters(), NOW)
    points = {d.figures.id: d.figures for d in report.points}
    installed, started, silent = (points[f"citangkil-0{i}"] for i in (1, 2, 3))
    assert (installed.minutes_active, installed.minutes_no_sample) == (16 * 1440, 0)
    # the synthetic peak median is under 90 % of the judged 47.8 Mbps: 10 % speed deduction
    assert (installed.fee_idr, installed.deduction_speed_idr, installed.net_payable_idr) == (
        258_065,
        25_807,
        232_258,
    )
    assert (started.minutes_active, started.minutes_no_sample) == (44_640, 15 * 1440)
    assert (started.to_be_decided_reason, started.to_be_decided_idr) == ("low_coverage", 500_000)
    assert started.coverage_pct == 100 * 16 / 31
    assert (silent.to_be_decided_reason, silent.to_be_decided_idr) == ("no_data", 500_000)
    assert report.evidence.no_data_points == ("citangkil-03",)
    assert report.evidence.complete
    line = render(report, "table", "en").splitlines()[0]
    assert line == (
        "NO DATA: 1 point(s) without a single minute to judge: citangkil-03"
        " | LOW COVERAGE: 1 point(s) with data coverage under the contract's 90 %: citangkil-02"
        " | TO BE DECIDED: Rp1,000,000 (2 point(s)) left out of the net payable"
    )
