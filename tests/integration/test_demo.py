"""`pantau demo` end to end, kept small: two kelurahan, three days, the last two hours of them
at the agents' real 10-s interval."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

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
    args = ["--out", str(out), "--month", "2026-10", "--kelurahan-count", "2", "--days", "3"]
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


# -- stopping ----------------------------------------------------------------------------------
STOP_S = 5.0  # what a Ctrl-C or SIGTERM may take, every process the demo started included
CENTRAL = ["mosquitto", "influxd", " collector "]
LIVE = [*CENTRAL, "agent-host.yaml", "agent-sim.yaml"]


def _wait_for(path: Path, text: str, demo: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if text in path.read_text(errors="replace"):
            return
        assert demo.poll() is None, path.read_text(errors="replace")[-3000:]
        time.sleep(0.2)
    raise AssertionError(f"no {text!r} within {timeout_s} s: {path.read_text()[-3000:]}")


def _gone(process: psutil.Process) -> bool:
    try:
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _stop_demo(
    tmp_path: Path,
    signum: int,
    extra: list[str],
    running: str,
    expect: list[str],
    group: bool = False,
) -> None:
    """Start the real demo, wait for `running` in its output, send `signum` (to its whole
    process group with `group`, as a terminal's Ctrl-C does): the demo exits within STOP_S and
    every process it started (broker, database, collector, agents, replay workers) is gone.
    `expect`: words of the command lines that must be running when the signal is sent."""
    out = tmp_path / "demo"
    log = tmp_path / "demo.out"
    args = ["--out", str(out), "--month", "2026-10", "--kelurahan-count", "2", *extra]
    with log.open("wb") as stream:
        demo = subprocess.Popen(
            [sys.executable, "-m", "pantau.shared.cli", "demo", *args],
            stdout=stream,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as in a terminal
        )
    children: list[psutil.Process] = []
    try:
        _wait_for(log, running, demo, 180)
        deadline = time.monotonic() + 60
        while True:  # every process that should be running at this moment
            children = psutil.Process(demo.pid).children(recursive=True)
            commands = [" ".join(c.cmdline()) for c in children]
            if all(any(name in c for c in commands) for name in expect):
                break
            assert time.monotonic() < deadline, commands
            time.sleep(0.05)
        sent = time.monotonic()
        if group:
            os.killpg(demo.pid, signum)
        else:
            demo.send_signal(signum)
        code = demo.wait(STOP_S + 10)
        took = time.monotonic() - sent
        deadline = time.monotonic() + 2
        while not all(_gone(c) for c in children) and time.monotonic() < deadline:
            time.sleep(0.05)  # an orphan's exit is reaped by init, not by us
        left = [" ".join(c.cmdline()) for c in children if not _gone(c)]
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(10)
        for child in children:  # whatever a failed stop left: not on this machine for good
            if not _gone(child):
                child.kill()
    output = log.read_text(errors="replace")
    assert took <= STOP_S, f"{took:.1f} s: {output[-2000:]}"
    assert left == []
    assert code == 128 + signum, output[-2000:]
    assert "Traceback" not in output, output[-3000:]
    assert "demo stopped" in output


def test_ctrl_c_stops_the_demo_and_everything_it_started(tmp_path: Path) -> None:
    """During the live run: the agents, the collector, the broker and the database. A terminal
    sends the signal to every process of the foreground group."""
    extra = ["--days", "1", "--live-seconds", "120"]
    _stop_demo(tmp_path, signal.SIGINT, extra, "agent reading this host", LIVE, group=True)


def test_sigint_to_the_demo_alone_stops_everything(tmp_path: Path) -> None:
    """`kill -INT <pid>`: only the demo hears it, and it stops what it started."""
    extra = ["--days", "1", "--live-seconds", "120"]
    _stop_demo(tmp_path, signal.SIGINT, extra, "agent reading this host", LIVE)


def test_sigterm_stops_the_demo_during_the_month(tmp_path: Path) -> None:
    """During the month replay: its worker processes too."""
    extra = ["--days", "20", "--live-seconds", "1"]
    workers = [*CENTRAL, " demo "]  # the forked workers have the demo's command line
    _stop_demo(tmp_path, signal.SIGTERM, extra, "samples per point every", workers)
