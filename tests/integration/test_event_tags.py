"""One point's credential cannot grow InfluxDB's series: a real broker, collector and InfluxDB.

Event paths an agent makes up all land on one series (`subject=other`, the path a field), and
capacity results naming a method no agent runs are refused; every event is still stored.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from pantau.collector.lab.services import Service
from pantau.shared import topics
from tests.pipeline import collector_config, influx, registry_file, start_collector, wait_for

PATHS = 300
METHODS = 20


def event(ts_ms: int, kind: str, data: dict[str, object]) -> bytes:
    body = {"v": 2, "point": "cit-01", "ts_ms": ts_ms, "kind": kind, "message": "x", "data": data}
    return json.dumps(body).encode()


def test_made_up_paths_and_methods_make_no_series(
    tmp_path: Path, mosquitto: Service, influxd: Service, database: str
) -> None:
    registry = registry_file(tmp_path / "registry.yaml", ["cit-01"])
    config = collector_config(
        tmp_path / "collector.yaml", mosquitto.port, influxd.url, database, registry, workers=1
    )
    collector = start_collector(config, tmp_path / "collector.log")
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5
    )
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    db = influx(influxd.url, database)
    base = int(time.time() * 1000) - 3_600_000
    topic = topics.event_topic("cit-01")
    try:
        for i in range(PATHS):
            made_up = {"path": f"p{i:06d}-" + "z" * 180}
            client.publish(topic, event(base + i, "source_error", made_up), qos=1)
        client.publish(topic, event(base + PATHS, "source_error", {"path": "/interface"}), qos=1)
        for i in range(METHODS):
            bogus = {"down_mbps": 30.0, "method": f"m{i}"}
            client.publish(topic, event(base + PATHS + 1 + i, "capacity", bogus), qos=1)
        real = {"down_mbps": 30.0, "up_mbps": 10.0, "method": "http"}
        client.publish(topic, event(base + PATHS + METHODS + 1, "capacity", real), qos=1)

        def stored() -> int:
            rows = db.query('SELECT COUNT("message") FROM "event"')
            return int(rows[0]["count"]) if rows else 0

        wait_for(lambda: stored() == PATHS + 2, 60, "every path's event and the result")
        series = sorted(row["key"] for row in db.query("SHOW SERIES"))
        tags = "kecamatan=Citangkil,kelurahan=Citangkil,point=cit-01,provider=Awinet"
        assert series == [
            f"capacity,direction=down,{tags.replace(',point', ',method=http,point')}",
            f"capacity,direction=up,{tags.replace(',point', ',method=http,point')}",
            f"event,{tags.replace(',point', ',kind=capacity,point')}",
            f"event,{tags.replace(',point', ',kind=source_error,point')},subject=/interface",
            f"event,{tags.replace(',point', ',kind=source_error,point')},subject=other",
        ]
        paths = db.query('SELECT "data_path" FROM "event" WHERE "subject" = \'other\'')
        assert [row["data_path"] for row in paths] == [
            f"p{i:06d}-" + "z" * 180 for i in range(PATHS)
        ]
    finally:
        client.loop_stop()
        client.disconnect()
        collector.stop()
    stats = [line for line in collector.log().splitlines() if "stats {" in line]
    assert json.loads(stats[-1].split("stats ", 1)[1])["rejected"] == {"invalid": METHODS}
