"""Money worked out by hand, through the whole pipeline: telemetry (with the collector's marks)
and capacity rows written to a real influxd, rollups rebuilt by the real `pantau rollup
rebuild`, and the real `pantau report --format json`.

October 2026: 31 days, 44 640 minutes. Every point samples every 600 s (a sample covers 10
minutes; 4 464 a month), WAN up, unless said. Each day a speed test at 10:00 WIB (50 Mbit/s,
outside the peak window: never judged) and one at 20:00 WIB (in the peak window, the one
judged). Contract of Awinet: Rp500.000, brackets on the peak median as % of 50 × (1 − 4.4 %) =
47.8 Mbit/s (< 90 → 10 %, < 80 → 25 %, < 60 → 50 %, < 40 → 75 %), availability brackets
(< 95 → 10 %, < 90 → 25 %, < 80 → 50 %, < 50 → 100 %), added and capped at the fee, 5 peak
tests and 90 % coverage needed. Amounts are rounded half up to the rupiah.

- edge-80: peak tests 15 × 30, 15 × 45 and 38.24: median 38.24 = 80.00 % of 47.8, not under
  80 → 10 %: deduction 50 000, net 450 000.
- edge-79: the same with 38.23: 79.979… → 79.98 % → 25 %: deduction 125 000, net 375 000.
- few-tests: peak tests on 1–4 Oct only (the 31 daytime tests do not count): not enough tests,
  the whole 500 000 to be decided.
- low-cov: silent 10–14 Oct (576 samples): 3 888 / 4 464 = 87.10 % < 90 %: low coverage,
  500 000 to be decided.
- mid-install: installed 17 Oct: 15 days, fee 500 000 × 21 600 / 44 640 = 241 935.48 → 241 935;
  peak tests 17–31 Oct at 20.0 (those before installation at 50 do not count): 41.84 % → 50 %:
  deduction 120 967.5 → 120 968, net 120 967.
- cap: WAN down 5 Oct 00:00 → 15 Oct 00:00 (14 400 min): availability 30 240 / 44 640 =
  67.74 % → 50 %; peak tests on the up days at 15.0: 31.38 % → 75 %; 125 % capped at 100 %:
  deduction 500 000 (250 000 availability, 250 000 speed), net 0.
- removed: removed 21 Oct (first day out of service): 20 days, fee 500 000 × 28 800 / 44 640 =
  322 580.6 → 322 581; peak tests 1–20 Oct at 40.0 (after removal at 10: not counted):
  83.68 % → 10 %: deduction 32 258.06 → 32 258, net 290 323.
- per-mbps (provider Biznet, `per_mbps`): peak tests at 30.0: 62.76 % delivered: pays
  500 000 × 62.76 % = 313 800, deduction 186 200.

Awinet: fee 2 500 000 + 241 935 + 322 581 = 3 064 516; deduction 50 000 + 125 000 + 120 968 +
500 000 + 32 258 = 828 226; to be decided 1 000 000; net 1 236 290 (= fee − deduction − to be
decided). Total with Biznet: fee 3 564 516, deduction 1 014 426, net 1 550 090.

Speed tests the test server may have held down (registry of two points, both Awinet, every
sample up; the 10:00 tests at 50.0 as above). loaded-srv, at 20:00 WIB: 1–20 Oct 20.0, marked
low on a server that reported itself loaded, awaiting a retest that never ran: discarded
(server loaded, 20); 21–22 Oct 20.0, low, retested at 20:30 on a second server at 44.0: the
first discarded (retest passed, 2), the retest counts; 23–31 Oct 44.0. Counted peak tests: 11
at 44.0: 44 / 47.8 = 92.05 % → no deduction: net 500 000. loaded-plain has the same results
without the agent's marks (an older agent): its 33 peak tests have median 20.0 = 41.84 % →
50 %: deduction 250 000, net 250 000. The discarded tests are the whole difference.

Also: September 2026 reported as of 16 Sep 00:00 WIB (SOURCE_DATE_EPOCH) is provisional: the
point's 15 days of samples are its whole expected coverage so far, its 15 peak tests at 40.0
(83.68 %) deduct 10 %: net 450 000 so far, `final` false. August has no data: no report, exit 2.
"""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from pantau.collector.influxdb.client import Influx
from pantau.collector.lab.services import Service
from pantau.collector.lines import capacity_lines, telemetry_lines
from pantau.collector.report.discards import COUNT_COLUMNS
from pantau.collector.report.i18n import DISCARD_COLUMN_ID
from pantau.collector.rollup import mark_lines, touched
from pantau.collector.sla.periods import DAY_MS, month
from pantau.shared.registry import Registry, load_registry
from pantau.shared.wire import Event, Sample, Telemetry
from tests.pipeline import PANTAU, influx, write_yaml
from tests.unit.sla.helpers import wib

OCT = month("2026-10")
SEP = month("2026-09")
STEP = 600_000
DATABASE = "report_money"
LOADED_DATABASE = "report_money_loaded"
MARKED_MS = wib(2026, 11, 2, 9, 0)

POINTS: dict[str, dict[str, Any]] = {
    "edge-80": {},
    "edge-79": {},
    "few-tests": {},
    "low-cov": {},
    "mid-install": {"installed": "2026-10-17"},
    "cap": {},
    "removed": {"removed": "2026-10-21"},
    "per-mbps": {"provider": "Biznet"},
}


def registry_yaml(path: Path, points: dict[str, dict[str, Any]]) -> Path:
    rows = [
        {"id": pid, "kelurahan": pid.title(), "kecamatan": "Cilegon", "provider": "Awinet"} | extra
        for pid, extra in points.items()
    ]
    return write_yaml(
        path,
        {
            "city": "Kota Cilegon",
            "contracts": [
                {"id": "awinet-2024", "provider": "Awinet", "valid_from": "2024-01-01"},
                {
                    "id": "biznet-2026",
                    "provider": "Biznet",
                    "valid_from": "2026-01-01",
                    "terms": {"speed": {"kind": "per_mbps"}},
                },
            ],
            "points": rows,
        },
    )


def samples(period_start: int, days: int, down: tuple[int, int] | None = None) -> list[Sample]:
    out = []
    for i in range(days * 144):
        ts = period_start + i * STEP
        wan = not (down and down[0] <= ts < down[1])
        out.append(
            Sample(
                ts_ms=ts,
                seq=i,
                boot="b1",
                device_up=True,
                wan_up=wan,
                interval_s=600,
                rtt_ms=20.0 if wan else None,
                rx_bps=4e6,
                clients_hotspot=3,
            )
        )
    return out


def day(d: int, hour: int, base: int = OCT.start_ms) -> int:
    return base + (d - 1) * DAY_MS + hour * 3_600_000


def peak_tests(point: str) -> dict[int, float]:
    """Day of October → the 20:00 WIB test's download Mbit/s."""
    every = range(1, 32)
    if point in ("edge-80", "edge-79"):
        middle = 38.24 if point == "edge-80" else 38.23
        return {d: 30.0 if d <= 15 else (middle if d == 16 else 45.0) for d in every}
    if point == "few-tests":
        return {d: 50.0 for d in range(1, 5)}
    if point == "low-cov":
        return {d: 50.0 for d in every}
    if point == "mid-install":
        return {d: 20.0 if d >= 17 else 50.0 for d in every}
    if point == "cap":
        return {d: 15.0 for d in every if not 5 <= d < 15}
    if point == "removed":
        return {d: 40.0 if d <= 20 else 10.0 for d in every}
    assert point == "per-mbps"
    return {d: 30.0 for d in every}


def capacity(
    reg: Registry, point: str, ts: int, down: float, **marks: str | int | bool
) -> list[str]:
    event = Event(
        point=point,
        ts_ms=ts,
        kind="capacity",
        data={"method": "iperf3", "down_mbps": down, "up_mbps": 45.0} | marks,
    )
    return capacity_lines(event, reg.by_id()[point])


def store(db: Influx, reg: Registry, point: str, rows: list[Sample]) -> None:
    """Raw rows and the marks of the hours they touch, in one request (the collector's way)."""
    tags = reg.by_id()[point]
    for i in range(0, len(rows), 2_000):
        part = rows[i : i + 2_000]
        lines = telemetry_lines(Telemetry(point=point, samples=part), tags)
        lines += mark_lines(touched(point, part), lambda p: reg.by_id()[p].tags(), MARKED_MS)
        db.write(lines)


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PANTAU, *args], capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory, influxd: Service) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("money")
    path = registry_yaml(tmp / "registry.yaml", POINTS)
    reg = load_registry(path)
    db = influx(influxd.url, DATABASE)
    db.ensure_database()
    for point in POINTS:
        rows = samples(OCT.start_ms, 31, (day(5, 0), day(15, 0)) if point == "cap" else None)
        if point == "low-cov":
            rows = [s for s in rows if not day(10, 0) <= s.ts_ms < day(15, 0) - DAY_MS]
        store(db, reg, point, rows)
        lines = []
        for d in range(1, 32):
            lines += capacity(reg, point, day(d, 10), 50.0)
        for d, mbps in peak_tests(point).items():
            lines += capacity(reg, point, day(d, 20), mbps)
        db.write(lines)
    # speed tests the test server may have held down, and the same results unmarked: in a
    # database of their own, as the October registry does not list these points (a report
    # names stored points its registry lacks)
    loaded = registry_yaml(tmp / "loaded.yaml", {"loaded-srv": {}, "loaded-plain": {}})
    loaded_reg = load_registry(loaded)
    loaded_db = influx(influxd.url, LOADED_DATABASE)
    loaded_db.ensure_database()
    for point in ("loaded-srv", "loaded-plain"):
        store(loaded_db, loaded_reg, point, samples(OCT.start_ms, 31))
        loaded_db.write(
            [line for d in range(1, 32) for line in capacity(loaded_reg, point, day(d, 10), 50.0)]
        )
        loaded_db.write([line for line in loaded_tests(loaded_reg, point, point == "loaded-srv")])
    # September, reported while it was under way: one point, its first 15 days
    prov = registry_yaml(tmp / "provisional.yaml", {"prov-01": {}})
    prov_reg = load_registry(prov)
    store(db, prov_reg, "prov-01", samples(SEP.start_ms, 15))
    db.write(
        [
            line
            for d in range(1, 16)
            for line in capacity(prov_reg, "prov-01", day(d, 20, SEP.start_ms), 40.0)
        ]
    )
    store_args = ["--influx-url", influxd.url, "--database", DATABASE]
    loaded_args = ["--influx-url", influxd.url, "--database", LOADED_DATABASE]
    for registry, label, where in (
        (path, "2026-10", store_args),
        (prov, "2026-09", store_args),
        (loaded, "2026-10", loaded_args),
    ):
        rebuilt = run("rollup", "rebuild", "--month", label, "--registry", str(registry), *where)
        assert rebuilt.returncode == 0, rebuilt.stderr
    return {
        "registry": str(path),
        "provisional": str(prov),
        "loaded": str(loaded),
        "store": store_args,
        "store_loaded": loaded_args,
    }


def loaded_tests(reg: Registry, point: str, marked: bool) -> list[str]:
    """The peak tests of loaded-srv (marked as its agent marks them) or loaded-plain."""
    lines = []
    for d in range(1, 32):
        at = day(d, 20)
        if d <= 20:
            marks = {"low": True, "server_loaded": True, "retest": "awaiting"}
            lines += capacity(reg, point, at, 20.0, **(marks if marked else {}))
        elif d <= 22:
            first = {"low": True, "server_loaded": False, "retest": "awaiting"}
            again = {
                "low": False,
                "server_loaded": False,
                "trigger": "retest",
                "retest_of_ms": at,
                "retest_outcome": "superseded",
            }
            lines += capacity(reg, point, at, 20.0, **(first if marked else {}))
            lines += capacity(reg, point, at + 1_800_000, 44.0, **(again if marked else {}))
        else:
            lines += capacity(reg, point, at, 44.0, **({"low": False} if marked else {}))
    return lines


def report(stored: dict[str, Any], label: str, registry: str = "registry", **env: str) -> Any:
    import os

    where = stored["store_loaded" if registry == "loaded" else "store"]
    args = ["report", "--month", label, "--registry", stored[registry], *where]
    done = run(*args, "--format", "json", "--lang", "en", env=os.environ | env)
    return done


MONEY = ("fee_idr", "deduction_idr", "net_payable_idr", "to_be_decided_idr")
EXPECTED = {
    # point: (fee, deduction, net, to be decided, reason, speed verdict, peak %)
    "edge-80": (500_000, 50_000, 450_000, 0, None, "short", 80.0),
    "edge-79": (500_000, 125_000, 375_000, 0, None, "short", 79.98),
    "few-tests": (500_000, None, None, 500_000, "not_enough_tests", "not_enough_tests", 104.6),
    "low-cov": (500_000, None, None, 500_000, "low_coverage", "met", 104.6),
    "mid-install": (241_935, 120_968, 120_967, 0, None, "short", 41.84),
    "cap": (500_000, 500_000, 0, 0, None, "short", 31.38),
    "removed": (322_581, 32_258, 290_323, 0, None, "short", 83.68),
    "per-mbps": (500_000, 186_200, 313_800, 0, None, "short", 62.76),
}


def test_every_point_is_paid_what_was_worked_out_by_hand(stored: dict[str, Any]) -> None:
    done = report(stored, "2026-10")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    points = {p["id"]: p for p in data["points"]}
    got = {
        pid: (
            *(p[k] for k in MONEY),
            p["to_be_decided_reason"],
            p["speed_verdict"],
            p["speed_peak_pct"],
        )
        for pid, p in points.items()
    }
    assert got == EXPECTED
    assert {pid: p["peak_tests_n"] for pid, p in points.items()} == {
        "edge-80": 31,
        "edge-79": 31,
        "few-tests": 4,
        "low-cov": 31,
        "mid-install": 15,
        "cap": 21,
        "removed": 20,
        "per-mbps": 31,
    }
    cap = points["cap"]
    assert (cap["deduction_availability_idr"], cap["deduction_speed_idr"]) == (250_000, 250_000)
    assert (cap["deduction_availability_pct"], cap["deduction_speed_pct"]) == (50.0, 75.0)
    assert cap["deduction_pct"] == 100.0
    assert round(cap["availability_pct"], 2) == 67.74
    assert points["low-cov"]["coverage_pct"] == 100 * 3_888 / 4_464
    assert points["mid-install"]["minutes_active"] == 21_600
    assert points["removed"]["minutes_active"] == 28_800
    assert points["edge-80"]["speed_judged_mbps"] == 47.8
    assert points["per-mbps"]["speed_schedule"] == "per_mbps"


def test_groups_add_up_without_double_counting(stored: dict[str, Any]) -> None:
    data = json.loads(report(stored, "2026-10").stdout)
    providers = {p["id"]: tuple(p[k] for k in MONEY) for p in data["providers"]}
    assert providers == {
        "Awinet": (3_064_516, 828_226, 1_236_290, 1_000_000),
        "Biznet": (500_000, 186_200, 313_800, 0),
    }
    assert tuple(data["total"][k] for k in MONEY) == (3_564_516, 1_014_426, 1_550_090, 1_000_000)
    total = data["total"]
    assert (total["deduction_availability_idr"], total["deduction_speed_idr"]) == (
        250_000,
        764_426,
    )
    assert (total["points_speed_short_n"], total["points_not_enough_tests_n"]) == (6, 1)
    assert (data["final"], data["provisional"]) == (False, False)
    assert data["notices"] == [
        "LOW COVERAGE: 1 point(s) with data coverage under the contract's 90 %: low-cov",
        "NOT ENOUGH TESTS: 1 point(s) with fewer than 5 peak-window speed tests: few-tests",
        "TO BE DECIDED: Rp1,000,000 (2 point(s)) left out of the net payable",
    ]


def test_a_month_under_way_is_provisional_and_judged_on_what_is_over(
    stored: dict[str, Any],
) -> None:
    now_s = wib(2026, 9, 16, 0, 0) // 1000
    done = report(stored, "2026-09", "provisional", SOURCE_DATE_EPOCH=str(now_s))
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["provisional"], data["final"]) == (True, False)
    assert data["notices"] == [
        "PROVISIONAL: 2026-09 is not over (report of 2026-09-16 00:00 WIB); figures and"
        " amounts will change"
    ]
    point = data["points"][0]
    assert (point["samples_received"], point["samples_expected"], point["coverage_pct"]) == (
        2_160,
        2_160,
        100.0,
    )
    assert (point["peak_tests_n"], point["speed_peak_pct"], point["speed_verdict"]) == (
        15,
        83.68,
        "short",
    )
    assert tuple(point[k] for k in MONEY) == (500_000, 50_000, 450_000, 0)


def test_a_month_without_data_is_no_report(stored: dict[str, Any]) -> None:
    done = report(stored, "2026-08")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "pantau report: no data for 2026-08: no rollup and no raw telemetry for the 7 point(s)"
        " in service; check the collector, --influx-url and --database\n"
    )


VERDICTS = [
    "Awinet: pay Rp1,236,290 of Rp3,064,516 (Rp1,000,000 to be decided). Costs most: to be"
    " decided (not enough tests) in Few-Tests Rp500,000, to be decided (low coverage) in Low-Cov"
    " Rp500,000, availability in Cap Rp250,000.",
    "Biznet: pay Rp313,800 of Rp500,000. Costs most: speed in Per-Mbps Rp186,200.",
]


def test_the_verdict_lines_come_first(stored: dict[str, Any]) -> None:
    data = json.loads(report(stored, "2026-10").stdout)
    assert [v["line"] for v in data["verdicts"]] == VERDICTS
    args = ["report", "--month", "2026-10", "--registry", stored["registry"], *stored["store"]]
    table = run(*args, "--lang", "en", "--format", "table").stdout
    assert table.splitlines()[1] == "Public Wi-Fi SLA report · Kota Cilegon · 2026-10"
    words = " ".join(table.split())  # the lines wrap at the terminal's width
    assert words.index(VERDICTS[0]) < words.index(VERDICTS[1]) < words.index(" Kelurahan ")


def test_the_pdf_prints_the_verdict_and_numbers_every_page(
    stored: dict[str, Any], tmp_path: Path
) -> None:
    from pypdf import PdfReader

    out = tmp_path / "report.pdf"
    args = ["report", "--month", "2026-10", "--registry", stored["registry"], *stored["store"]]
    done = run(*args, "--lang", "en", "--format", "pdf", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{out}: pdf report for 2026-10, 8 point(s)\n"
    fingerprint = json.loads(report(stored, "2026-10").stdout)["fingerprint"]["sha256"]
    pages = [" ".join(page.extract_text().split()) for page in PdfReader(out).pages]
    assert len(pages) >= 5
    assert all(v in pages[0] for v in VERDICTS)
    for number, text in enumerate(pages, 1):
        assert f"Page {number} of {len(pages)}" in text
        assert "Period 2026-10-01 – 2026-10-31 WIB" in text
        assert f"sha256{fingerprint}" in text.replace(" ", "")  # the footer may wrap it
    assert all(role in pages[-1] for role in ("Prepared by", "Checked by", "Approved by"))
    assert "PROVISIONAL" not in " ".join(pages)


def test_the_workbook_has_a_sheet_per_level_the_contract_and_the_outages(
    stored: dict[str, Any], tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    out = tmp_path / "report.xlsx"
    args = ["report", "--month", "2026-10", "--registry", stored["registry"], *stored["store"]]
    done = run(*args, "--lang", "en", "--format", "xlsx", "--out", str(out))
    assert done.returncode == 0, done.stderr
    book = load_workbook(out, read_only=True)
    assert book.sheetnames == [
        "report",
        "point",
        "kelurahan",
        "kecamatan",
        "provider",
        "total",
        "contract",
        "outages",
    ]

    def rows(sheet: str) -> list[dict[str, Any]]:
        values = list(book[sheet].iter_rows(values_only=True))
        return [dict(zip(values[0], row, strict=True)) for row in values[1:]]

    points = {r["id"]: r for r in rows("point")}
    assert {p: tuple(r[k] for k in MONEY) for p, r in points.items()} == {
        p: (e[0], e[1], e[2], e[3]) for p, e in EXPECTED.items()
    }
    (total,) = rows("total")
    assert tuple(total[k] for k in MONEY) == (3_564_516, 1_014_426, 1_550_090, 1_000_000)
    for level in ("point", "kelurahan", "kecamatan", "provider"):
        assert sum(r["fee_idr"] for r in rows(level)) == 3_564_516
        assert sum(r["deduction_idr"] or 0 for r in rows(level)) == 1_014_426
    settings = {
        (r["provider"], r["kelurahan"] or "", r["setting"]): r["value"] for r in rows("contract")
    }
    assert settings[("Awinet", "", "speed.kind")] == "brackets"
    assert settings[("Biznet", "", "speed.kind")] == "per_mbps"
    assert settings[("Awinet", "", "speed.goodput_allowance_pct")] == 4.4
    assert settings[("Awinet", "", "fee_idr")] == 500_000
    outages = rows("outages")
    assert [(o["point"], o["start"], o["duration_s"]) for o in outages] == [
        ("cap", "2026-10-05T00:00:00+07:00", 864_000)
    ]
    report_sheet = {r[0]: r[1] for r in book["report"].iter_rows(values_only=True)}
    assert report_sheet["month"] == "2026-10"
    assert len(report_sheet["fingerprint_sha256"]) == 64


def test_a_low_result_the_test_server_held_down_costs_the_provider_nothing(
    stored: dict[str, Any], tmp_path: Path
) -> None:
    """Counted the same in the JSON, the HTML (its first page too), every CSV file and every
    sheet of the workbook."""
    done = report(stored, "2026-10", "loaded")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    points = {p["id"]: p for p in data["points"]}
    got = {
        pid: (*(p[k] for k in MONEY), p["speed_verdict"], p["speed_peak_pct"], p["peak_tests_n"])
        for pid, p in points.items()
    }
    assert got == {
        "loaded-srv": (500_000, 0, 500_000, 0, "met", 92.05, 11),
        "loaded-plain": (500_000, 250_000, 250_000, 0, "short", 41.84, 33),
    }
    assert points["loaded-srv"]["tests_n"] == 31 + 11  # the 10:00 tests, and the counted peak
    discarded = data["speed_tests_discarded"]
    assert discarded == {
        "tests_discarded_n": 22,
        "tests_discarded": {"server_loaded": 20, "retest_passed": 2},
        "peak_tests_discarded": {"server_loaded": 20, "retest_passed": 2},
        "tests_confirmed_by_retest_n": 0,
        "points": {
            "loaded-srv": {
                "tests_discarded_n": 22,
                "tests_discarded": {"server_loaded": 20, "retest_passed": 2},
                "peak_tests_discarded": {"server_loaded": 20, "retest_passed": 2},
                "tests_confirmed_by_retest_n": 0,
            }
        },
    }
    args = ["report", "--month", "2026-10", "--registry", stored["loaded"], *stored["store_loaded"]]
    html = run(*args, "--lang", "en", "--format", "html").stdout
    assert (
        "22 download test(s) not counted against the provider (server loaded 20, retest passed"
        " 2); 22 of them in the peak window." in html
    )
    line = "22 speed test(s) discarded: 20 server loaded, 2 retest passed"
    assert html.count(f'<p class="discarded">{line}</p>') == 1  # on the first page
    # the same counts in every CSV file (Indonesian) and every sheet of the workbook
    srv, none = (22, 20, 0, 2, 0, 22, 0), (0,) * 7
    expected = {
        "point": {"loaded-plain": none, "loaded-srv": srv},
        "kelurahan": {"Loaded-Plain": none, "Loaded-Srv": srv},
        "kecamatan": {"Cilegon": srv},
        "provider": {"Awinet": srv},
        "total": {"total": srv},
    }
    done = run(*args, "--lang", "id", "--format", "csv", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    headers_id = [DISCARD_COLUMN_ID[c] for c in COUNT_COLUMNS]
    for level, rows in expected.items():
        text = (tmp_path / f"pantau-report-2026-10-{level}.csv").read_text()
        body = [row for row in text.splitlines() if not row.startswith("# ")]
        found = list(csv.DictReader(body, delimiter=";"))
        assert {r["id"]: tuple(int(r[h]) for h in headers_id) for r in found} == rows, level
    out = tmp_path / "loaded.xlsx"
    done = run(*args, "--lang", "en", "--format", "xlsx", "--out", str(out))
    assert done.returncode == 0, done.stderr
    book = load_workbook(out, read_only=True)
    for level, rows in expected.items():
        values = list(book[level].iter_rows(values_only=True))
        sheet = [dict(zip(values[0], row, strict=True)) for row in values[1:]]
        assert {r["id"]: tuple(r[c] for c in COUNT_COLUMNS) for r in sheet} == rows, level
    first = {r[0]: r[1] for r in book["report"].iter_rows(values_only=True)}
    assert first["speed_tests_discarded"] == line
    # the other registry's report has nothing discarded, and says so
    plain = json.loads(report(stored, "2026-10").stdout)["speed_tests_discarded"]
    assert (plain["tests_discarded_n"], plain["points"]) == (0, {})
