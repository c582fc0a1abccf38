"""Every kind of bad message is refused with its reason; the collector lives on and the next
valid message lands."""

from __future__ import annotations

import json
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from pantau.collector.lab.services import Service
from tests.pipeline import (
    collector_config,
    count_rows,
    influx,
    registry_file,
    start_collector,
    wait_for,
)


def sample(seq: int, **extra: object) -> dict[str, object]:
    return {
        "ts_ms": int(time.time() * 1000) - 60_000 + seq,
        "seq": seq,
        "boot": "b1",
        "interval_s": 10,
        "device_up": True,
        "wan_up": True,
        **extra,
    }


def valid(point: str, seq: int) -> bytes:
    return json.dumps({"v": 1, "point": point, "samples": [sample(seq)]}).encode()


BAD = [
    (
        "not_json",
        "pantau/v1/bad-01/telemetry",
        b'{"v": 1, "point": "bad-01", "samples": [',
        "not_json",
    ),
    ("not_utf8", "pantau/v1/bad-01/telemetry", b'{"v": 1, "point": "\xff\xfe"}', "not_utf8"),
    ("oversize", "pantau/v1/bad-01/telemetry", b'{"pad": "' + b"x" * 70_000 + b'"}', "oversize"),
    (
        "invalid",
        "pantau/v1/bad-01/telemetry",
        json.dumps({"v": 1, "point": "bad-01", "samples": [sample(0, rx_bps=-5)]}).encode(),
        "invalid",
    ),
    ("unknown_point", "pantau/v1/stranger-99/telemetry", valid("stranger-99", 0), "unknown_point"),
    ("point_mismatch", "pantau/v1/bad-01/telemetry", valid("good-01", 0), "point_mismatch"),
]


@pytest.mark.parametrize(("name", "topic", "payload", "reason"), BAD, ids=[b[0] for b in BAD])
def test_bad_message_is_refused_and_next_lands(
    tmp_path: Path,
    mosquitto: Service,
    influxd: Service,
    database: str,
    name: str,
    topic: str,
    payload: bytes,
    reason: str,
) -> None:
    registry = registry_file(tmp_path / "registry.yaml", ["bad-01", "good-01"])
    config = collector_config(
        tmp_path / "collector.yaml",
        mosquitto.port,
        influxd.url,
        database,
        registry,
        max_payload_bytes=65_536,
    )
    collector = start_collector(config, tmp_path / "collector.log")
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5
    )
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    db = influx(influxd.url, database)
    try:
        client.publish(topic, payload, qos=1).wait_for_publish(5)
        client.publish("pantau/v1/good-01/telemetry", valid("good-01", 7), qos=1).wait_for_publish(
            5
        )
        wait_for(lambda: count_rows(db, "telemetry") == 1, 20, "the valid sample")
        wait_for(lambda: f": {reason}: " in collector.log(), 10, f"reason {reason} logged")
        assert collector.alive()
        rows = db.query('SELECT * FROM "telemetry"')
        assert [(r["point"], r["seq"]) for r in rows] == [("good-01", 7)]
    finally:
        client.loop_stop()
        client.disconnect()
        collector.stop()
    assert f'"rejected": {{"{reason}": 1}}' in collector.log()
    rejected_lines = [line for line in collector.log().splitlines() if "rejected message" in line]
    assert len(rejected_lines) == 1 and reason in rejected_lines[0]
