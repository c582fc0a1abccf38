"""A day offline, then reconnect: how fast the backlog lands, and what the agent costs in memory.

1. A real `pantau agent` samples with the broker down until its spool holds 8,640 samples
   (24 hours at 10 s), its peak RSS measured meanwhile ("spooling").
2. The broker comes back: time until every sample is readable in InfluxDB, and peak RSS
   while draining.
3. Collector replay: with InfluxDB stopped, 20,000 messages go into the collector's disk buffer;
   InfluxDB returns; lines per second until all are readable.
Last line: one JSON object.   .venv/bin/python bench/backlog_drain.py
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.collector_throughput import point_ids, publish_all  # noqa: E402
from pantau.collector.lab import services  # noqa: E402
from tests.pipeline import (  # noqa: E402
    agent_config,
    collector_config,
    count_rows,
    influx,
    registry_file,
    spooled,
    start_agent,
    start_collector,
    taken_samples,
)

BACKLOG = 8_640


class PeakRss(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = 0
        self.running = True

    def run(self) -> None:
        while self.running:
            try:
                rss = self.process.memory_info().rss
            except psutil.Error:
                return
            self.peak = max(self.peak, rss)
            time.sleep(0.05)

    def stop(self) -> float:
        self.running = False
        self.join(1)
        return round(self.peak / 2**20, 1)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=BACKLOG)
    parser.add_argument("--replay-messages", type=int, default=20_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pantau-drain-"))
    broker = services.mosquitto(work / "mosquitto").start()
    database = services.influxd(work / "influxd").start()
    result: dict[str, object] = {"backlog_samples": args.backlog}
    agent = collector = None
    try:
        points = ["citangkil-01", *point_ids(100)]
        registry = registry_file(work / "registry.yaml", points)
        collector = start_collector(
            collector_config(
                work / "collector.yaml",
                broker.port,
                database.url,
                "drain",
                registry,
                limits={"max_age_s": 400 * 86_400},  # the replay phase publishes fixed old times
            ),
            work / "collector.log",
        )
        broker.stop()
        point = {"id": "citangkil-01", "source": {"kind": "simulated", "peak_clients": 30}}
        config = agent_config(
            work / "agent" / "agent.yaml",
            broker.port,
            [point],
            interval_s=0.004,
            mqtt={
                "host": "127.0.0.1",
                "port": broker.port,
                "reconnect_min_s": 0.2,
                "reconnect_max_s": 0.5,
            },
        )
        agent = start_agent(config, work / "agent.log")
        state = work / "agent" / "agent-state"
        rss = PeakRss(agent.process.pid)  # type: ignore[union-attr]
        rss.start()
        log(f"spooling {args.backlog} samples with the broker down ...")
        while spooled(state) < args.backlog:
            time.sleep(0.5)
        result["agent_rss_spooling_mb"] = rss.stop()
        agent.stop()  # the outage is over; restart at the production interval to drain
        backlog = spooled(state)
        broker.start()
        while collector.log().count("subscribed to") < 2:  # the collector is back on the broker
            time.sleep(0.1)
        db = influx(database.url, "drain")
        config = agent_config(
            work / "agent" / "agent.yaml",
            broker.port,
            [point],
            interval_s=10,
            mqtt={"host": "127.0.0.1", "port": broker.port},
        )
        t0 = time.perf_counter()
        agent = start_agent(config, work / "agent-drain.log")
        rss = PeakRss(agent.process.pid)  # type: ignore[union-attr]
        rss.start()
        spool_empty_s = None
        while count_rows(db, "telemetry") < backlog:
            if spool_empty_s is None and spooled(state) == 0:
                spool_empty_s = time.perf_counter() - t0
            time.sleep(0.05)
        result["spool_empty_s"] = round(spool_empty_s or time.perf_counter() - t0, 2)
        result["drain_s"] = round(time.perf_counter() - t0, 2)
        result["drained_samples"] = backlog
        time.sleep(1)
        result["agent_rss_draining_mb"] = rss.stop()
        agent.stop()
        taken = taken_samples(state)["citangkil-01"]
        while count_rows(db, "telemetry") < taken:
            time.sleep(0.1)
        result["lost"] = taken - count_rows(db, "telemetry")

        log(f"collector replay: {args.replay_messages} messages while InfluxDB is down ...")
        database.stop()
        per_point = args.replay_messages // 100
        (work / "pub").mkdir()
        for publisher in publish_all(broker.port, 100, per_point, 1, work / "pub"):
            publisher.wait(120)
        while _buffered_lines(work / "collector-state") < per_point * 100:
            time.sleep(0.2)
        database.start()
        t1 = time.perf_counter()
        while count_rows(db, "telemetry") < taken + per_point * 100:
            time.sleep(0.1)
        replay_s = time.perf_counter() - t1
        result["replay_lines"] = per_point * 100
        result["replay_lines_per_s"] = round(per_point * 100 / replay_s)
    finally:
        for proc in (agent, collector):
            if proc is not None:
                proc.stop()
        broker.stop()
        database.stop()
    print(json.dumps(result))
    return 0


def _buffered_lines(state_dir: Path) -> int:
    """Lines waiting in the collector's disk buffers: one per worker (`worker-<n>/`)."""
    total = 0
    for path in state_dir.rglob("buffer.sqlite"):
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            total += db.execute("SELECT COALESCE(SUM(lines), 0) FROM pending").fetchone()[0]
        except sqlite3.OperationalError:  # a worker still creating its buffer
            pass
        finally:
            db.close()
    return total


if __name__ == "__main__":
    sys.exit(main())
