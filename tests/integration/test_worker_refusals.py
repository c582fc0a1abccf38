"""A worker whose files went bad after the collector started (here: the registry, edited into
something unreadable) says so in one line and is tried again with its usual backoff, never a
traceback per attempt; once the file is put right it comes back and stores again. Real
mosquitto, influxd, agent and kill."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from pantau.collector.lab.services import Service
from tests.integration.test_faults import Rig, rows
from tests.integration.test_workers import all_subscribed, worker_pids
from tests.pipeline import assert_exactly_once, wait_for


def test_a_worker_refusing_a_bad_registry_says_why_in_one_line_and_comes_back(
    tmp_path: Path, mosquitto: Service, influxd: Service, database: str
) -> None:
    rig = Rig(tmp_path, mosquitto, influxd, database)
    good = rig.registry.read_text()
    try:
        collector = rig.collector(workers=2)
        wait_for(lambda: all_subscribed(collector, 2), 30, "both workers subscribed")
        rig.registry.write_text("points: [\n")  # an edit saved half-way
        os.kill(worker_pids(collector)[2], signal.SIGKILL)
        refused = "worker 2 cannot run with the files it was given"
        wait_for(lambda: collector.log().count(refused) >= 2, 60, "two refused restarts")
        log = collector.log()
        assert "Traceback" not in log
        said = [line for line in log.splitlines() if "[worker 2]" in line and "ERROR" in line]
        assert said and all(str(rig.registry) in line for line in said), said
        assert len(said) == log.count(refused), (said, log.count(refused))

        rig.registry.write_text(good)
        starts = len(collector.log().split("worker 2 started")) - 1
        wait_for(
            lambda: (
                collector.log().count("worker 2 started") > starts and all_subscribed(collector, 3)
            ),
            90,
            "worker 2 back once the registry is whole",
        )
        agent = rig.agent(interval_s=0.02)
        wait_for(lambda: rows(rig) >= 300, 60, "data flowing")
        agent.stop()
        assert_exactly_once(rig.db, rig.finish(["agent"]))
        assert collector.stop() == 0
        assert "Traceback" not in collector.log()
    finally:
        rig.stop_all()
