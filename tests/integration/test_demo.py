"""`pantau demo` end to end, kept small: two kelurahan, three days, the last two hours of them
at the agents' real 10-s interval."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

from pantau.collector.lab.demo import replay, scenario
from pantau.shared.registry import load_registry
from tests.city import expected_minutes

DAY_MIN = 1440


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


def played() -> list[replay.Segment]:
    """70 hourly samples per point, then 720 at 10 s (22:00 to 24:00 WIB of the third day)."""
    start, _ = scenario.month_bounds("2026-10")
    end = start + dt.timedelta(days=3)
    segments = replay.plan_segments(start.timestamp(), end.timestamp(), 3600, 10, 2 * 3600)
    assert [(s.ticks, s.interval_s) for s in segments] == [(70, 3600), (720, 10)]
    return segments


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
    # 20 points x (70 hourly samples + 2 hours x 360 at 10 s)
    assert "15800 samples of the month stored" in result.stdout
    # 20 points x 72 hours each with its rollup; 20 points x 2 hours at 10 s, 360 samples each
    assert "hourly rollups: 1,440 point-hours holding 15,800 samples" in result.stdout
    assert "at 10-s samples: 40 point-hours holding 14,400 samples" in result.stdout
    assert "every point-hour with samples has its rollup, with exactly its samples" in result.stdout
    report = json.loads((out / "pantau-report-2026-10.json").read_text())
    assert report["month"] == "2026-10"
    assert len(report["points"]) == 20
    assert {p["kelurahan"] for p in report["points"]} == {"Cibeber", "Kedaleman"}
    assert {p["samples_received"] for p in report["points"]} == {70 + 720}
    # every minute of the three days is judged from its samples, the 10-s ones minute by minute
    registry = load_registry(out / "registry.yaml")
    plan = scenario.build([(p.id, p.kelurahan) for p in registry.points], "2026-10")
    segments = played()
    month_min = 31 * DAY_MIN
    for point in report["points"]:
        source = next(s.source() for s in plan if s.point == point["id"])
        want = expected_minutes(source, segments)
        assert sum(want.values()) == 3 * DAY_MIN
        got = (
            point["minutes_up"],
            point["minutes_provider_down"],
            point["minutes_device_unreachable"],
        )
        assert got == (want["U"], want["D"], want["X"]), point["id"]
        assert point["minutes_no_sample"] == month_min - 3 * DAY_MIN, point["id"]
    assert {p["id"]: p["tests_n"] for p in report["points"]} == expected_tests(
        out / "registry.yaml"
    )
    html = (out / "pantau-report-2026-10.html").read_text()
    assert html.count("<svg") >= 4
