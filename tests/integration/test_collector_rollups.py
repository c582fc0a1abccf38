"""The collector keeps `sla_hourly` in step with what it stores, late data included."""

from __future__ import annotations

from pathlib import Path

from pantau.collector.lab.services import Service
from tests.pipeline import (
    agent_config,
    collector_config,
    count_rows,
    influx,
    registry_file,
    start_agent,
    start_collector,
    taken_samples,
    taken_so_far,
    wait_for,
)

HOUR_MS = 3_600_000


def rollups(db, point: str) -> dict[int, int]:
    rows = db.query(f'SELECT "samples_n" FROM "sla_hourly" WHERE "point" = \'{point}\'')
    return {int(r["time"]): int(r["samples_n"]) for r in rows}


def raw_per_hour(db, point: str) -> dict[int, int]:
    rows = db.query(f'SELECT "seq" FROM "telemetry" WHERE "point" = \'{point}\'')
    hours: dict[int, int] = {}
    for row in rows:
        hour = int(row["time"]) - int(row["time"]) % HOUR_MS
        hours[hour] = hours.get(hour, 0) + 1
    return hours


def test_rollups_follow_live_and_late_data(
    tmp_path: Path, mosquitto: Service, influxd: Service, database: str
) -> None:
    registry = registry_file(tmp_path / "registry.yaml", ["citangkil-02"])
    config = collector_config(
        tmp_path / "collector.yaml",
        mosquitto.port,
        influxd.url,
        database,
        registry,
        rollup={"every_s": 0.5},
    )
    collector = start_collector(config, tmp_path / "collector.log")
    point = {
        "id": "citangkil-02",
        "source": {"kind": "simulated", "fixed_rx_bps": 2e6, "fixed_clients": 5},
    }
    # The agent stops while the collector is away: no receipt can come, so its goodbye is 1 s
    # (its samples are at the broker by then), not the 6 s it would wait for them.
    publish = {"goodbye_drain_s": 1.0}
    agent = start_agent(
        agent_config(
            tmp_path / "agent.yaml", mosquitto.port, [point], interval_s=0.2, publish=publish
        ),
        tmp_path / "agent.log",
    )
    db = influx(influxd.url, database)
    try:
        wait_for(lambda: sum(rollups(db, "citangkil-02").values()) >= 10, 30, "live rollups")
        collector.stop()  # late data: these samples wait at the broker in the collector's session
        away = taken_so_far(tmp_path / "agent-state")
        wait_for(
            lambda: taken_so_far(tmp_path / "agent-state") >= away + 10, 30, "10 samples taken"
        )
        agent.stop()
        taken = taken_samples(tmp_path / "agent-state")["citangkil-02"]
        collector = start_collector(config, tmp_path / "collector-2.log")
        wait_for(lambda: count_rows(db, "telemetry") == taken, 20, "every sample stored")
        wait_for(
            lambda: rollups(db, "citangkil-02") == raw_per_hour(db, "citangkil-02"),
            20,
            "rollups caught up",
        )
    finally:
        agent.stop()
        collector.stop()
    assert sum(rollups(db, "citangkil-02").values()) == taken
