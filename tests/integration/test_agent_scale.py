"""One agent process serves 1,100 points end to end: polled, spooled, published, stored.

Each point keeps its own MQTT session (its own login, birth and Will), and all of them are
driven by one network thread on epoll, so descriptors numbered past 1,024 work like any other
(paho's select() loop lost them). Real 10-s sample timestamps, played four times faster
(the agent's virtual clock), through a real mosquitto, a real `pantau collector` and influxd.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

from pantau.agent.spool import Spool
from pantau.collector.lab.services import Service
from tests.pipeline import (
    agent_config,
    collector_config,
    influx,
    registry_file,
    spooled_before,
    start_agent,
    start_collector,
    stored_seqs,
    taken_samples,
    taken_so_far,
    wait_for,
)

POINTS = [f"skala-{i:04d}" for i in range(1, 1101)]
SPEED = 4.0  # virtual seconds per real second: a 10-s tick every 2.5 s
TICKS = 6  # samples per point before the check (one virtual minute)
THREADS_MAX = 40  # main, network, 4 connectors, scheduler, 32 sampling, the spool's forgetting


def proc_status(pid: int, field: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+)", text, re.M)
    assert match, field
    return int(match.group(1))


def test_one_agent_serves_1100_points(
    tmp_path: Path, mosquitto: Service, influxd: Service, database: str
) -> None:
    db = influx(influxd.url, database)
    registry = registry_file(tmp_path / "registry.yaml", POINTS)
    collector = start_collector(
        collector_config(
            tmp_path / "collector.yaml", mosquitto.port, influxd.url, database, registry
        ),
        tmp_path / "collector.log",
    )
    start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    config = agent_config(
        tmp_path / "agent" / "agent.yaml",
        mosquitto.port,
        [{"id": p, "source": {"kind": "simulated", "fixed_rx_bps": 2e6}} for p in POINTS],
        interval_s=10,
        clock={"start": start.isoformat(), "speed": SPEED},
        spool={"sync": "normal"},
    )
    state = tmp_path / "agent" / "agent-state"
    agent = start_agent(config, tmp_path / "agent.log")
    try:
        agent.wait_log("room for", 60)
        assert agent.process is not None
        pid = agent.process.pid
        broker_log = mosquitto.workdir / "mosquitto.log"

        def connected() -> set[str]:
            text = broker_log.read_text()
            return set(re.findall(r"connected from \S+ as pantau-agent-(skala-\d+)", text))

        wait_for(lambda: connected() >= set(POINTS), 120, "every point connected")
        wait_for(
            lambda: taken_so_far(state) >= TICKS * len(POINTS), 240, f"{TICKS} samples a point"
        )
        before = taken_samples(state)
        assert set(before) == set(POINTS)
        threads = proc_status(pid, "Threads")
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        wait_for(lambda: spooled_before(state, before) == 0, 240, "receipts for every sample")
        assert threads <= THREADS_MAX, threads
        assert fds <= len(POINTS) + 100, fds
        log = agent.log()
        assert "disconnected from broker" not in log, "a session dropped"
        assert "sample skipped" not in log
        assert agent.stop() == 0
    finally:
        agent.stop()
        collector.stop()

    # Every sample taken is stored once or still waits in the spool: nothing lost, no doubles.
    taken = taken_samples(state)
    spool = Spool(state / "spool.sqlite", max_samples_per_point=10**6, sync="normal")
    try:
        for point in POINTS:
            seqs = stored_seqs(db, point)
            assert len(seqs) == len(set(seqs)), f"{point}: a sample stored twice"
            assert set(range(before[point])) <= set(seqs), f"{point}: a receipted sample lost"
            waiting = {r.seq for r in spool.peek(point, 0, 10_000) if r.kind == "telemetry"}
            assert set(seqs) | waiting == set(range(taken[point])), point
    finally:
        spool.close()
