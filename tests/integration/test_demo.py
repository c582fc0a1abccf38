"""`pantau demo` end to end, kept small: two kelurahan, three days."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

from pantau.collector.demo import scenario
from pantau.shared.registry import load_registry


def expected_tests(registry: Path) -> dict[str, int]:
    """Speed tests the scenario plans, less those that fall in an outage (they fail)."""
    start, _ = scenario.month_bounds("2026-10")
    end = start + dt.timedelta(days=3)
    points = load_registry(registry).points
    plan = scenario.build([(p.id, p.kelurahan) for p in points], "2026-10")
    expected = {}
    for item in plan:
        windows = item.wan_down + item.device_down
        moments = scenario.capacity_plan(item.point, start, end)
        expected[item.point] = sum(
            1
            for m in moments
            if not any(w.start.timestamp() <= m < w.end.timestamp() for w in windows)
        )
    return expected


def test_demo_runs_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    args = ["--out", str(out), "--month", "2026-10", "--kelurahan", "2", "--days", "3"]
    args += ["--live-seconds", "4", "--lang", "en"]
    result = subprocess.run(
        [sys.executable, "-m", "pantau.shared.cli", "demo", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "What landed in InfluxDB, per point" in result.stdout
    assert "1440 samples of the month stored" in result.stdout  # 20 points x 3 days x 24 hours
    report = json.loads((out / "pantau-report-2026-10.json").read_text())
    assert report["month"] == "2026-10"
    assert len(report["points"]) == 20
    assert {p["kelurahan"] for p in report["points"]} == {"Cibeber", "Kedaleman"}
    assert sum(p["samples_received"] for p in report["points"]) == 1440
    assert {p["id"]: p["tests_n"] for p in report["points"]} == expected_tests(
        out / "registry.yaml"
    )
    html = (out / "pantau-report-2026-10.html").read_text()
    assert html.count("<svg") >= 4
