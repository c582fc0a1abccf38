"""The collector's own health: its /metrics endpoint, and the alerts when the centre fails.

Real faults: InfluxDB stopped while samples arrive (the collector buffers on disk), the collector
SIGKILLed. The alert process must say so, once each, recover, and meanwhile keep quiet about
points that only look silent because the data stopped at the centre.
"""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from prometheus_client.parser import text_string_to_metric_families

from pantau.collector.lab import services
from pantau.collector.lab.services import Service, free_port
from pantau.collector.noc.observe import STATE_CODES, PointState
from pantau.shared import topics
from tests.noc_rounds import since, states, wait_rounds
from tests.pipeline import (
    Proc,
    agent_config,
    collector_config,
    count_rows,
    influx,
    registry_file,
    start_agent,
    start_collector,
    wait_for,
)
from tests.webhook import Receiver

POINTS = ["cit-01", "cit-02"]
SILENT = STATE_CODES[PointState.SILENT]
SILENT_AFTER_S = 6


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def metric(values: dict, name: str, **labels: str) -> float:
    return values[(name, tuple(sorted(labels.items())))]


def publish_raw(broker: int, items: list[tuple[str, bytes]]) -> None:
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id="raw",
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    client.connect("127.0.0.1", broker)
    client.loop_start()
    try:
        for topic, payload in items:
            client.publish(topic, payload, qos=1).wait_for_publish(5)
    finally:
        client.loop_stop()
        client.disconnect()


def simulated(point: str) -> dict[str, Any]:
    return {"id": point, "source": {"kind": "simulated", "fixed_rx_bps": 1e6, "fixed_clients": 2}}


def test_metrics_and_central_alerts(tmp_path: Path, mosquitto: Service, database: str) -> None:
    own_influx = services.influxd(tmp_path / "influxd").start()  # this test stops it
    receiver = Receiver().start()
    port = free_port()
    config = collector_config(
        tmp_path / "collector.yaml",
        mosquitto.port,
        own_influx.url,
        database,
        registry_file(tmp_path / "registry.yaml", POINTS),
        batch={"max_delay_s": 0.2},
        metrics={"port": port},
        alerts={
            "evaluate_every_s": 0.3,
            "silent_after_s": 4,
            "clear_s": 1,
            "status_every_s": 0.3,  # its point_status rows show the test each round
            "targets": [{"url": receiver.url}],
            "rules": {
                "silent": {"after_s": SILENT_AFTER_S},
                "kelurahan_down": {"after_s": 4},
                "collector": {
                    "buffer_after_s": 2,
                    "down_after_s": 2,
                    "behind_after_s": 60,
                },
            },
        },
    )
    db = influx(own_influx.url, database)
    procs: list[Proc] = []
    try:
        procs.append(start_collector(config, tmp_path / "collector.log"))
        procs.append(
            start_agent(
                agent_config(
                    tmp_path / "agent" / "agent.yaml",
                    mosquitto.port,
                    [simulated(p) for p in POINTS],
                    interval_s=0.5,
                ),
                tmp_path / "agent.log",
            )
        )
        publish_raw(
            mosquitto.port,
            [
                (topics.telemetry_topic("nowhere-01"), b'{"v":1}'),
                (topics.telemetry_topic("cit-01"), b"not json"),
                (topics.telemetry_topic("cit-01"), b"also not json"),
            ],
        )
        wait_for(lambda: count_rows(db, "telemetry") >= 10, 20, "samples stored")

        # -- /metrics while all is well ----------------------------------------------------
        values = scrape(port)
        assert (
            metric(values, "pantau_collector_messages_rejected_total", reason="unknown_point") == 1
        )
        assert metric(values, "pantau_collector_messages_rejected_total", reason="not_json") == 2
        received = metric(values, "pantau_collector_messages_received_total")
        accepted = metric(values, "pantau_collector_messages_accepted_total")
        assert received == accepted + 3
        assert metric(values, "pantau_collector_samples_accepted_total") >= 10
        assert metric(values, "pantau_collector_lines_total", outcome="written") >= 10
        assert metric(values, "pantau_collector_lines_total", outcome="buffered") == 0
        assert metric(values, "pantau_collector_write_seconds_count") >= 1
        assert metric(values, "pantau_collector_write_seconds_bucket", le="+Inf") == metric(
            values, "pantau_collector_write_seconds_count"
        )
        assert metric(values, "pantau_collector_buffer_lines") == 0
        assert metric(values, "pantau_collector_influx_up") == 1
        assert metric(values, "pantau_collector_mqtt_connected") == 1
        assert metric(values, "pantau_collector_seq_gaps_total") == 0
        assert metric(values, "pantau_collector_registry_points") == 2
        for point in POINTS:
            age = metric(values, "pantau_collector_point_last_seen_age_seconds", point=point)
            assert 0 <= age < 5

        runner = Proc(["alerts", "--config", str(config)], tmp_path / "alerts.log").start()
        procs.append(runner)
        wait_for(lambda: "alerts started" in runner.log(), 20, "alert runner up")
        wait_rounds(db, int(time.time() * 1000), rounds=2)
        assert receiver.footers() == [], "nothing is wrong yet"

        # -- InfluxDB away: the collector buffers on disk ----------------------------------
        own_influx.stop()
        wait_for(
            lambda: (
                {
                    "alert: collector_buffer collector · firing",
                    "alert: influx_unreachable influxdb · firing",
                }
                <= set(receiver.footers())
            ),
            20,
            "buffer and InfluxDB alerts",
        )
        values = scrape(port)
        assert metric(values, "pantau_collector_buffer_lines") > 0
        assert metric(values, "pantau_collector_influx_up") == 0
        own_influx.start()
        wait_for(
            lambda: (
                {
                    "alert: collector_buffer collector · resolved",
                    "alert: influx_unreachable influxdb · resolved",
                }
                <= set(receiver.footers())
            ),
            40,
            "recoveries",
        )
        values = scrape(port)
        assert metric(values, "pantau_collector_buffer_lines") == 0
        assert metric(values, "pantau_collector_lines_total", outcome="replayed") > 0

        # -- the collector killed ------------------------------------------------------------
        procs[0].kill()
        wait_for(
            lambda: "alert: collector_down collector · firing" in receiver.footers(),
            20,
            "collector down alert",
        )
        # the points look silent now, for longer than the silent rule waits; that is the
        # centre's fault, not theirs: no silent alert
        wait_for(lambda: states(db) == {p: SILENT for p in POINTS}, 30, "silent-looking points")
        silent_from = max(since(db).values())
        wait_rounds(db, silent_from + SILENT_AFTER_S * 1000, rounds=2)
        procs[0] = start_collector(config, tmp_path / "collector.log")
        wait_for(
            lambda: "alert: collector_down collector · resolved" in receiver.footers(),
            20,
            "collector back",
        )
        wait_rounds(db, int(time.time() * 1000), rounds=3)  # nothing else may arrive
        assert sorted(receiver.footers()) == sorted(
            [
                "alert: collector_buffer collector · firing",
                "alert: collector_buffer collector · resolved",
                "alert: influx_unreachable influxdb · firing",
                "alert: influx_unreachable influxdb · resolved",
                "alert: collector_down collector · firing",
                "alert: collector_down collector · resolved",
            ]
        )
        rows = db.query('SELECT "status" FROM "alert"')
        assert len(rows) == 6
    finally:
        for proc in reversed(procs):
            proc.stop()
        receiver.stop()
        own_influx.stop()
