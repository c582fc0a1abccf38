"""The real `pantau report` against a real influxd never pays silently on missing evidence.

Raw telemetry is written with its marks in the same request, as the collector writes it; some
hours are then left without a rollup, or get raw data after theirs. The report says so on its
first line and in its JSON, holds the fees of those points back, and `--strict` exits 3 until
`pantau rollup rebuild` has made the rollups again. A month not begun, a month without data and
a month not over are also said as such.

October 2026, three points sampling every 600 s (each sample covers 10 minutes, 4 464 a month),
the WAN up throughout:
- citangkil-01: complete.
- citangkil-02: one more sample at 20 Oct 12:05 WIB after its hour was rolled up: stale.
- masigit-01: silent 9 Oct 08:00–10:00 WIB (12 samples); they arrive after the rollups: two
  hours with raw data and no rollup.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pantau.collector.influxdb.client import Influx
from pantau.collector.lab.services import Service
from pantau.collector.lines import telemetry_lines
from pantau.collector.rollup import mark_lines, recompute, touched
from pantau.collector.rollup_daily import refresh_days
from pantau.collector.sla.periods import WIB, month
from pantau.shared.registry import Registry, load_registry
from pantau.shared.wire import Sample, Telemetry
from tests.pipeline import PANTAU, influx, write_yaml
from tests.unit.sla.helpers import wib

OCT = month("2026-10")
STEP = 600_000
N = 4_464
SILENT = (wib(2026, 10, 9, 8, 0), wib(2026, 10, 9, 10, 0))
LATE = wib(2026, 10, 20, 12, 5)
FIRST_LINE = (
    "EVIDENCE INCOMPLETE: 2 point-hours with telemetry but no rollup, 1 with a rollup older than"
    " their telemetry, at 2 point(s), from 2026-10-09 08:00 WIB;"
    " fix: pantau rollup rebuild --month 2026-10"
    " | TO BE DECIDED: Rp1,000,000 (2 point(s)) left out of the net payable"
)


def registry_yaml(path: Path) -> Path:
    points = [
        {"id": "citangkil-01", "kelurahan": "Citangkil", "kecamatan": "Citangkil"},
        {"id": "citangkil-02", "kelurahan": "Citangkil", "kecamatan": "Citangkil"},
        {"id": "masigit-01", "kelurahan": "Masigit", "kecamatan": "Jombang"},
    ]
    return write_yaml(
        path,
        {
            # no speed schedule (no capacity tests here): evidence is the matter
            "contracts": [
                {"provider": "Awinet", "valid_from": "2024-01-01", "terms": {"speed": None}}
            ],
            "points": [p | {"provider": "Awinet"} for p in points],
        },
    )


def sample(ts: int, seq: int) -> Sample:
    return Sample(
        ts_ms=ts,
        seq=seq,
        boot="b1",
        device_up=True,
        wan_up=True,
        interval_s=600,
        rtt_ms=20.0,
        rx_bps=4e6,
        clients_hotspot=3,
    )


def store(db: Influx, reg: Registry, point: str, samples: list[Sample], now_ms: int) -> None:
    """Raw rows and the marks of the hours they touch, in one request (the collector's way)."""
    lines = telemetry_lines(Telemetry(point=point, samples=samples), reg.by_id()[point])
    lines += mark_lines(touched(point, samples), lambda p: reg.by_id()[p].tags(), now_ms)
    db.write(lines)


def report(args: list[str], *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PANTAU, "report", *args, *extra], capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def month_stored(
    tmp_path_factory: pytest.TempPathFactory, influxd: Service
) -> tuple[Influx, Registry, list[str]]:
    tmp = tmp_path_factory.mktemp("evidence")
    path = registry_yaml(tmp / "registry.yaml")
    reg = load_registry(path)
    db = influx(influxd.url, "report_evidence")
    db.ensure_database()
    tags_for = {p.id: p.tags() for p in reg.points}.__getitem__
    now = wib(2026, 11, 2, 9, 0)
    for point in ("citangkil-01", "citangkil-02", "masigit-01"):
        samples = [sample(OCT.start_ms + i * STEP, i) for i in range(N)]
        if point == "masigit-01":
            samples = [s for s in samples if not SILENT[0] <= s.ts_ms < SILENT[1]]
        for i in range(0, len(samples), 1_000):
            store(db, reg, point, samples[i : i + 1_000], now)
        recompute(db, touched(point, samples), tags_for)
    refresh_days(
        db, [(p.id, h) for p in reg.points for h in range(OCT.start_ms, OCT.end_ms, 3_600_000)]
    )
    # after the rollups: the silent hours' samples arrive, and one more sample at citangkil-02
    late = [sample(ts, 5_000 + i) for i, ts in enumerate(range(SILENT[0], SILENT[1], STEP))]
    store(db, reg, "masigit-01", late, now + 60_000)
    store(db, reg, "citangkil-02", [sample(LATE, 9_000)], now + 60_000)
    args = ["--month", "2026-10", "--registry", str(path)]
    args += ["--influx-url", influxd.url, "--database", "report_evidence", "--lang", "en"]
    return db, reg, args


def test_the_first_line_says_what_is_missing_and_how_to_fix_it(month_stored: Any) -> None:
    _, _, args = month_stored
    done = report(args, "--format", "table")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == FIRST_LINE
    assert done.stderr == ""


def test_json_evidence_and_the_fees_held_back(month_stored: Any) -> None:
    _, _, args = month_stored
    done = report(args, "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["final"], data["provisional"]) == (False, False)
    assert data["notices"] == FIRST_LINE.split(" | ")
    assert data["evidence"] == {
        "complete": False,
        "missing_hours": 2,
        "stale_hours": 1,
        "points": ["citangkil-02", "masigit-01"],
        "oldest_hour": "2026-10-09T08:00:00+07:00",
        "fix": "pantau rollup rebuild --month 2026-10",
        "no_data_points": [],
        "low_coverage_points": [],
        "not_enough_tests_points": [],
        "unregistered_points": [],
    }
    money = ("to_be_decided_reason", "fee_idr", "deduction_idr", "net_payable_idr")
    points = {p["id"]: {k: p[k] for k in money} for p in data["points"]}
    assert points == {
        "citangkil-01": {
            "to_be_decided_reason": None,
            "fee_idr": 500_000,
            "deduction_idr": 0,
            "net_payable_idr": 500_000,
        },
        "citangkil-02": {
            "to_be_decided_reason": "rollup_stale",
            "fee_idr": 500_000,
            "deduction_idr": None,
            "net_payable_idr": None,
        },
        "masigit-01": {
            "to_be_decided_reason": "rollup_missing",
            "fee_idr": 500_000,
            "deduction_idr": None,
            "net_payable_idr": None,
        },
    }
    total = data["total"]
    assert (total["net_payable_idr"], total["to_be_decided_idr"]) == (500_000, 1_000_000)
    # the stderr names the same things when the report goes to a file or a machine
    assert done.stderr.splitlines() == [f"pantau report: {n}" for n in data["notices"]]


def test_strict_exits_3_until_the_rollups_are_rebuilt(month_stored: Any, tmp_path: Path) -> None:
    """Runs after the tests above, which read the month before its rollups are rebuilt."""
    _, _, args = month_stored
    out = tmp_path / "report.csv"
    done = report(args, "--format", "csv", "--strict", "--out", str(out))
    assert done.returncode == 3
    levels = ("point", "kelurahan", "kecamatan", "provider", "total")
    files = [tmp_path / f"report-{level}.csv" for level in levels]
    assert done.stdout == f"{', '.join(map(str, files))}: csv report for 2026-10, 3 point(s)\n"
    assert done.stderr.splitlines() == [
        *(f"pantau report: {n}" for n in FIRST_LINE.split(" | ")),
        "pantau report: --strict: the 2026-10 report is not final (exit 3)",
    ]
    for path in files:
        assert path.read_text().splitlines()[0] == f"# {FIRST_LINE}"
    assert path.read_text().splitlines()[1].startswith("level,id,kelurahan,")

    # the fix the report names
    base = [a for a in args if a != "--lang" and a != "en"]
    rebuilt = subprocess.run(
        [*PANTAU, "rollup", "rebuild", *base], capture_output=True, text=True, timeout=300
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    done = report(args, "--format", "json", "--strict")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["final"], data["notices"], data["evidence"]["complete"]) == (True, [], True)
    points = {p["id"]: p for p in data["points"]}
    assert {p: points[p]["samples_received"] for p in points} == {
        "citangkil-01": N,
        "citangkil-02": N + 1,
        "masigit-01": N,
    }
    assert {p: points[p]["net_payable_idr"] for p in points} == dict.fromkeys(points, 500_000)
    assert done.stderr == ""


def test_a_month_not_begun_or_without_data_is_one_line_and_exit_2(month_stored: Any) -> None:
    _, _, args = month_stored
    future = report([*args[2:], "--month", "2999-01"])
    assert future.returncode == 2 and future.stdout == ""
    assert len(future.stderr.splitlines()) == 1
    assert future.stderr.startswith("pantau report: 2999-01 has not begun yet (it is ")
    assert future.stderr.endswith(" WIB): nothing to report\n")
    empty = report([*args[2:], "--month", "2026-08", "--strict"])
    assert (empty.returncode, empty.stdout) == (2, "")
    assert empty.stderr == (
        "pantau report: no data for 2026-08: no rollup and no raw telemetry for the 3 point(s)"
        " in service; check the collector, --influx-url and --database\n"
    )


def test_the_month_under_way_is_provisional(month_stored: Any) -> None:
    db, reg, args = month_stored
    now = dt.datetime.now(WIB)
    label = f"{now:%Y-%m}"
    start = month(label).start_ms
    stamps = [max(start, int(now.timestamp() * 1000) - 1_800_000) + i * STEP for i in range(3)]
    samples = [sample(ts, 20_000 + i) for i, ts in enumerate(stamps)]
    store(db, reg, "citangkil-01", samples, int(now.timestamp() * 1000))
    recompute(db, touched("citangkil-01", samples), lambda p: reg.by_id()[p].tags())
    done = report([*args[2:], "--month", label, "--format", "json", "--strict"])
    assert done.returncode == 3, done.stderr
    data = json.loads(done.stdout)
    assert (data["provisional"], data["final"]) == (True, False)
    assert data["notices"][0].startswith(f"PROVISIONAL: {label} is not over (report of ")
    assert data["notices"][1] == (
        "NO DATA: 2 point(s) without a single minute to judge: citangkil-02, masigit-01"
    )
