"""Event data keeps one type per field, whoever sends it: a real broker, collector and InfluxDB.

InfluxDB 1.x fixes a field's type at its first write in a shard and refuses every later line
that gives another. Every point's events share the measurements `event` and `capacity`, so one
point's wrongly typed datum must be refused at the collector, and the agent's own event kinds
must agree on each name's type (a deferral's `user_traffic_bps` and a result's). Lines InfluxDB
refuses nonetheless (a shard typed before this rule) are counted as InfluxDB counts them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from pantau.agent.capacity.result import Measurement
from pantau.collector.influxdb.client import Influx
from pantau.collector.lab.services import Service
from pantau.shared import topics
from pantau.shared.contract import encode_event
from tests.pipeline import Proc, collector_config, influx, registry_file, start_collector, wait_for

POINTS = ["cit-01", "cit-02"]


@dataclass
class Agent:
    """An MQTT v5 client publishing as the points do, with receipts asked for."""

    client: mqtt.Client
    receipts: list[dict[str, Any]] = field(default_factory=list)

    def publish(self, point: str, payload: bytes, message_id: str) -> None:
        props = Properties(PacketTypes.PUBLISH)
        props.CorrelationData = message_id.encode()
        info = self.client.publish(topics.event_topic(point), payload, qos=1, properties=props)
        info.wait_for_publish(5)

    def receipt_of(self, message_id: str) -> str:
        """'stored' or 'refused', once the collector's receipt names the message."""

        def said() -> str | None:
            for receipt in list(self.receipts):
                for verdict in ("stored", "refused"):
                    if message_id in receipt.get(verdict, []):
                        return verdict
            return None

        return str(wait_for(said, 30, f"the receipt of {message_id}"))


@pytest.fixture
def stack(
    tmp_path: Path, mosquitto: Service, influxd: Service, database: str
) -> Iterator[tuple[Proc, Agent, Influx]]:
    registry = registry_file(tmp_path / "registry.yaml", POINTS)
    config = collector_config(
        tmp_path / "collector.yaml", mosquitto.port, influxd.url, database, registry, workers=1
    )
    collector = start_collector(config, tmp_path / "collector.log")
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5
    )
    agent = Agent(client)
    client.on_message = lambda _c, _u, msg: agent.receipts.append(json.loads(msg.payload))
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    try:
        for point in POINTS:
            client.subscribe(topics.receipt_topic(point), qos=1)[1]
        yield collector, agent, influx(influxd.url, database)
    finally:
        client.loop_stop()
        client.disconnect()
        collector.stop()


def result_data() -> dict[str, Any]:
    """A capacity result's data, built by the agent's own code."""
    m = Measurement(
        method="http",
        server="speed.noc",
        streams=4,
        duration_s=10.0,
        down_mbps=48.2,
        up_mbps=19.7,
        rtt_ms=8.5,
        down_bytes=60_000_000,
        up_bytes=25_000_000,
    )
    return m.data(user_traffic_bps=1_000_000.0, in_peak=True, trigger="schedule")


def raw_event(point: str, ts_ms: int, kind: str, data: dict[str, Any]) -> bytes:
    """An event as any client may write it: the JSON types as given, no contract applied."""
    return json.dumps({"v": 2, "point": point, "ts_ms": ts_ms, "kind": kind, "data": data}).encode()


def count(db: Influx, measurement: str, point: str, column: str) -> int:
    rows = db.query(f'SELECT COUNT("{column}") FROM "{measurement}" WHERE "point" = \'{point}\'')
    return int(rows[0]["count"]) if rows else 0


def field_types(db: Influx, measurement: str) -> dict[str, str]:
    return {
        r["fieldKey"]: r["fieldType"] for r in db.query(f'SHOW FIELD KEYS FROM "{measurement}"')
    }


def final_stats(collector: Proc) -> dict[str, Any]:
    lines = [line for line in collector.log().splitlines() if "stats {" in line]
    return dict(json.loads(lines[-1].split("stats ", 1)[1]))


def test_a_datum_of_another_type_is_refused_and_other_points_results_are_stored(
    stack: tuple[Proc, Agent, Influx],
) -> None:
    collector, agent, db = stack
    ts = int(time.time() * 1000) - 60_000
    # the fields a real result carries, with other JSON types: each alone would fix its type
    poison = {"down_mbps": 30.0, "up_mbps": 10.0, "method": "http", "bytes": "0"}
    agent.publish("cit-01", raw_event("cit-01", ts, "capacity", poison), "p-bytes")
    flag = result_data() | {"in_peak": "yes"}
    agent.publish("cit-01", raw_event("cit-01", ts + 1, "capacity", flag), "p-in-peak")
    number = result_data() | {"user_traffic_bps": True}
    agent.publish("cit-01", raw_event("cit-01", ts + 2, "capacity", number), "p-traffic")
    assert agent.receipt_of("p-bytes") == "refused"
    assert agent.receipt_of("p-in-peak") == "refused"
    assert agent.receipt_of("p-traffic") == "refused"

    real = encode_event("cit-02", ts + 5_000, "capacity", None, result_data())
    agent.publish("cit-02", real, "v1")
    assert agent.receipt_of("v1") == "stored"
    assert count(db, "capacity", "cit-02", "mbps") == 2
    assert count(db, "event", "cit-02", "message") == 1
    assert count(db, "capacity", "cit-01", "mbps") == 0
    assert field_types(db, "capacity") == {
        "bytes": "integer",
        "down_bytes": "integer",
        "duration_s": "float",
        "in_peak": "boolean",
        "mbps": "float",
        "rtt_ms": "float",
        "server": "string",
        "streams": "integer",
        "trigger": "string",
        "up_bytes": "integer",
        "user_traffic_bps": "float",
    }
    collector.stop()
    stats = final_stats(collector)
    assert stats["rejected"] == {"invalid": 3}
    assert stats["lines_refused"] == 0
    rejected = [line for line in collector.log().splitlines() if "rejected message" in line]
    assert len(rejected) == 1, rejected  # the others of the point and reason: counted
    assert "invalid: capacity event data.bytes should be an integer, got a string" in rejected[0]


def test_a_deferral_and_a_result_agree_on_user_traffic(stack: tuple[Proc, Agent, Influx]) -> None:
    """An older agent wrote a deferral's user_traffic_bps as an integer; a result's is a float.
    Both land in `event` as data_user_traffic_bps: stored as a float, both rows are there."""
    collector, agent, db = stack
    ts = int(time.time() * 1000) - 60_000
    deferral = {
        "reason": "user_traffic",
        "trigger": "schedule",
        "attempt": 1,
        "user_traffic_bps": 3_400_000,
        "threshold_bps": 2_000_000,
        "retry_in_s": 300.0,
        "gave_up": False,
        "in_peak": False,
        "spent_bytes": 0,
        "cost_bytes": 75_000_000,
    }
    agent.publish("cit-01", raw_event("cit-01", ts, "test_deferred", deferral), "d1")
    assert agent.receipt_of("d1") == "stored"
    agent.publish(
        "cit-02", encode_event("cit-02", ts + 5_000, "capacity", None, result_data()), "v1"
    )
    assert agent.receipt_of("v1") == "stored"
    assert count(db, "event", "cit-01", "message") == 1
    assert count(db, "event", "cit-02", "message") == 1
    assert count(db, "capacity", "cit-02", "mbps") == 2
    types = field_types(db, "event")
    assert types["data_user_traffic_bps"] == "float"
    assert types["data_threshold_bps"] == "float"
    assert types["data_attempt"] == "integer"
    rows = db.query('SELECT "data_user_traffic_bps" FROM "event" WHERE "point" = \'cit-01\'')
    assert [r["data_user_traffic_bps"] for r in rows] == [3_400_000]
    collector.stop()
    stats = final_stats(collector)
    assert stats["rejected"] == {}
    assert stats["lines_refused"] == 0


def test_lines_influxdb_refuses_are_counted_as_it_counts_them(
    stack: tuple[Proc, Agent, Influx],
) -> None:
    """A shard typed before this rule (data_user_traffic_bps an integer there): InfluxDB stores
    the result's two `capacity` rows and refuses its `event` row; one line refused, two written,
    one log line with InfluxDB's reason, and the batch kept for inspection."""
    collector, agent, db = stack
    ts = int(time.time() * 1000) - 60_000
    db.write([f"event,kind=test_deferred,point=cit-01 data_user_traffic_bps=5i {ts}"])
    agent.publish(
        "cit-02", encode_event("cit-02", ts + 5_000, "capacity", None, result_data()), "v1"
    )
    assert agent.receipt_of("v1") == "stored"
    assert count(db, "capacity", "cit-02", "mbps") == 2
    assert count(db, "event", "cit-02", "message") == 0
    collector.stop()
    stats = final_stats(collector)
    assert (stats["lines_refused"], stats["lines_written"]) == (1, 2)
    refused = [line for line in collector.log().splitlines() if "InfluxDB refused" in line]
    assert len(refused) == 1, refused
    assert "InfluxDB refused 1 of 3 line(s)" in refused[0]
    assert "field type conflict" in refused[0] and "data_user_traffic_bps" in refused[0]
