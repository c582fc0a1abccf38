"""`workers`: one supervisor, several ingest processes on one shared subscription; real
mosquitto, influxd, agents and kills, exact counts (every seq of every point once)."""

from __future__ import annotations

import json
import os
import re
import signal
import urllib.request
from pathlib import Path

import pytest

from pantau.collector.lab.services import Service, free_port
from tests.integration.test_faults import Rig, rows, wait_taken
from tests.pipeline import Proc, assert_exactly_once, spooled, wait_for


def worker_pids(collector: Proc) -> dict[int, int]:
    """Worker number -> pid of its latest start, from the supervisor's log."""
    found = re.findall(r"worker (\d+) started \(pid (\d+)\)", collector.log())
    return {int(index): int(pid) for index, pid in found}


def all_subscribed(collector: Proc, workers: int) -> bool:
    return collector.log().count("subscribed to 3 topic filter(s)") >= workers


def metric(port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} not in /metrics"
    return float(match.group(1))


@pytest.mark.parametrize("workers", [1, 2])
def test_pipeline_with_workers(
    tmp_path: Path, mosquitto: Service, influxd: Service, database: str, workers: int
) -> None:
    rig = Rig(tmp_path, mosquitto, influxd, database)
    port = free_port()
    try:
        collector = rig.collector(workers=workers, metrics={"port": port})
        wait_for(lambda: all_subscribed(collector, workers), 30, "every worker subscribed")
        agent = rig.agent(interval_s=0.02)
        wait_for(lambda: rows(rig) >= 500, 60, "data flowing")
        agent.stop()
        assert spooled(rig.state()) == 0, "every sample receipted"
        taken = rig.finish(["agent"])
        assert_exactly_once(rig.db, taken)
        total = sum(taken.values())
        # one /metrics for the whole collector: the workers' counts added up
        wait_for(
            lambda: metric(port, "pantau_collector_samples_accepted_total") >= total,
            20,
            "/metrics counting every sample",
        )
        assert metric(port, "pantau_collector_mqtt_connected") == 1
        assert collector.stop() == 0
        log = collector.log()
        final = json.loads(log.splitlines()[-1].split("stats ", 1)[1])  # the whole collector's
        assert (final["samples"], final["seq_gaps"], final["seq_duplicates"]) == (total, 0, 0)
        if workers == 2:
            assert said_how_it_shares(log, workers)
            for index in (1, 2):
                assert f"[worker {index}]: stopped; stats" in log
            # the broker spread the points' messages over both workers
            accepted = re.findall(r"\[worker \d\]: stopped; stats .*\"accepted\": (\d+)", log)
            assert len(accepted) == 2 and all(int(n) > 0 for n in accepted), accepted
            assert (tmp_path / "collector-state" / "worker-2" / "buffer.sqlite").exists()
    finally:
        rig.stop_all()


def said_how_it_shares(log: str, workers: int) -> bool:
    """The supervisor said how many workers and which share group it used."""
    return f"{workers} workers on $share/pantau" in log and "share_group is not set" in log


def test_worker_killed_mid_batch(
    tmp_path: Path, mosquitto: Service, influxd: Service, database: str
) -> None:
    """SIGKILL one worker while it holds unacknowledged messages: the supervisor starts it
    again on its own session, which the broker still holds them for; nothing lost or doubled."""
    rig = Rig(tmp_path, mosquitto, influxd, database)
    batch = {"max_lines": 200, "max_delay_s": 2.0}
    port = free_port()
    try:
        collector = rig.collector(workers=2, batch=batch, metrics={"port": port})
        wait_for(lambda: all_subscribed(collector, 2), 30, "both workers subscribed")
        rig.agent(interval_s=0.02)
        kills = (1, 2, 1)
        for round_, index in enumerate(kills, start=1):
            starts = kills[:round_].count(index) + 1
            wait_for(lambda r=round_: rows(rig) >= 100 * r, 30, "data flowing")
            wait_for(  # each kill hits a worker at work, not one still starting
                lambda r=round_: all_subscribed(collector, 1 + r), 60, "every worker subscribed"
            )
            os.kill(worker_pids(collector)[index], signal.SIGKILL)
            wait_for(
                lambda r=round_: collector.log().count("died (signal 9)") >= r,
                30,
                f"the supervisor seeing worker {index} die",
            )
            wait_for(
                lambda i=index, n=starts: (
                    len(re.findall(rf"worker {i} started", collector.log())) >= n
                ),
                60,
                f"worker {index} started again",
            )
            wait_taken(rig.state(), 200, "samples taken after the kill")
        wait_for(lambda: all_subscribed(collector, 5), 60, "every worker back on its session")
        assert metric(port, "pantau_collector_worker_restarts_total") == 3
        written = rows(rig)
        wait_for(lambda: rows(rig) >= written + 200, 30, "the workers writing")
        rig.procs[1].stop()  # the agent
        assert spooled(rig.state()) == 0
        taken = rig.finish(["agent"])
        assert_exactly_once(rig.db, taken)
        assert collector.stop() == 0
    finally:
        rig.stop_all()


def test_supervisor_killed_mid_batch(
    tmp_path: Path, mosquitto: Service, influxd: Service, database: str
) -> None:
    """SIGKILL the supervisor: its workers see it gone and stop; the next supervisor's workers
    wait for them to leave their folders, then carry on from the same sessions."""
    rig = Rig(tmp_path, mosquitto, influxd, database)
    batch = {"max_lines": 200, "max_delay_s": 2.0}
    try:
        first = rig.collector(workers=2, batch=batch)
        rig.agent(interval_s=0.02)
        for _ in range(2):
            wait_for(lambda: rows(rig) >= 100, 30, "data flowing")
            pids = list(worker_pids(first).values())
            first.kill()
            wait_for(lambda p=pids: not any(_alive(pid) for pid in p), 30, "the workers stopping")
            wait_taken(rig.state(), 200, "samples taken while no collector runs")
            first = rig.collector(workers=2, batch=batch)
        written = rows(rig)
        wait_for(lambda: rows(rig) >= written + 200, 30, "the last collector writing")
        rig.procs[1].stop()  # the agent
        assert spooled(rig.state()) == 0
        taken = rig.finish(["agent"])
        assert_exactly_once(rig.db, taken)
    finally:
        rig.stop_all()


def _alive(pid: int) -> bool:
    """A process that exists and is not a zombie (a worker of a killed supervisor is
    reparented and reaped by init)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status
