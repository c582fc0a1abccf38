"""Representative NOC data in a real InfluxDB, written by the project's own code paths.

Telemetry, state and event rows come from collector/lines.py (the collector's serialiser),
`sla_hourly` from collector/rollup.py, and `point_status` and `alert` rows from real rounds of
the alert runner. The story it tells, ending now: one point provider-down for 20 minutes with
three slow capacity tests, one router unreachable for 15 minutes, one agent silent for 15
minutes, the rest up. Also: capacity results published over MQTT like an agent's.
"""

from __future__ import annotations

import random
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from pantau.collector import lines, rollup
from pantau.collector.config import CollectorConfig
from pantau.collector.influxdb.client import Influx
from pantau.collector.noc.runner import AlertRunner
from pantau.shared import topics
from pantau.shared.registry import Point, Registry
from pantau.shared.wire import Event, Sample, State, Telemetry, encode

MINUTE_MS = 60_000
PROVIDER_DOWN = "cibeber-01"
UNREACHABLE = "cibeber-02"
SILENT = "kedaleman-01"


def demo_points(registry: Registry) -> list[Point]:
    """The twenty points that report: all of Cibeber and of Kedaleman."""
    return [p for p in registry.points if p.kelurahan in ("Cibeber", "Kedaleman")]


def write_demo(
    db: Influx, registry: Registry, config: CollectorConfig, now_ms: int, hours: int = 6
) -> None:
    rng = random.Random(7)
    now_ms -= now_ms % 1000
    start = now_ms - hours * 3_600_000
    start -= start % MINUTE_MS
    points = demo_points(registry)
    out: list[str] = []
    for point in points:
        out += _telemetry(point, start, now_ms, rng)
        out.append(
            lines.state_line(
                State(point=point.id, state="online", boot=f"b-{point.id}", ts_ms=start),
                point,
                start,
            )
        )
        out += _tests(point, start, now_ms, rng)
        if len(out) > 5_000:
            db.write(out)
            out = []
    db.write(out)
    rollup.rebuild(db, start, now_ms, [p.id for p in points], lambda pid: _tags(registry, pid))
    runner = AlertRunner(config, registry)  # no broker, no targets: rounds only
    for t in range(now_ms - 30 * MINUTE_MS, now_ms + 1, 5 * MINUTE_MS):
        runner.round(t)


def _tags(registry: Registry, point_id: str) -> dict[str, str]:
    return registry.by_id()[point_id].tags()


def _telemetry(point: Point, start: int, now_ms: int, rng: random.Random) -> list[str]:
    samples = []
    seq = 0
    rx = tx = 0
    t = start
    while t <= now_ms:
        minutes_ago = (now_ms - t) / MINUTE_MS
        if point.id == SILENT and minutes_ago < 15:
            break
        device_up = not (point.id == UNREACHABLE and minutes_ago < 15)
        wan_up = not (point.id == PROVIDER_DOWN and minutes_ago < 20)
        clients = rng.randint(2, 30)
        rx_bps = clients * 600_000 * rng.uniform(0.7, 1.3) if wan_up else 0.0
        rx += int(rx_bps * 60 / 8)
        tx += int(rx_bps * 0.18 * 60 / 8)
        fields = {
            "ts_ms": t,
            "seq": seq,
            "boot": f"b-{point.id}",
            "interval_s": 60.0,
            "device_up": device_up,
        }
        if device_up:
            fields |= {
                "uptime_s": float((t - start) / 1000 + 86_400),
                "rx_bytes": rx,
                "tx_bytes": tx,
                "rx_bps": rx_bps,
                "tx_bps": rx_bps * 0.18,
                "link_up": True,
                "wan_up": wan_up,
                "rtt_ms": round(rng.uniform(8, 40), 1) if wan_up else None,
                "loss_pct": 0.0 if wan_up else 100.0,
                "clients_assoc": clients,
                "clients_hotspot": clients,
                "clients_dhcp": clients + 1,
                "cpu_pct": round(rng.uniform(3, 30), 1),
                "mem_used_pct": 41.0,
                "temp_c": round(rng.uniform(40, 55), 1),
                "clock_synced": True,
            }
        samples.append(Sample(**fields))
        seq += 1
        t += MINUTE_MS
    if not samples:
        return []
    return lines.telemetry_lines(Telemetry(point=point.id, samples=samples), point)


def _tests(point: Point, start: int, now_ms: int, rng: random.Random) -> list[str]:
    """A capacity test every two hours; the provider-down point's last three are slow."""
    out = []
    times = list(range(start + 30 * MINUTE_MS, now_ms - 25 * MINUTE_MS, 2 * 3_600_000))
    for index, t in enumerate(times):
        slow = point.id == PROVIDER_DOWN and index >= len(times) - 3
        down = rng.uniform(22, 33) if slow else rng.uniform(42, 55)
        event = Event(
            point=point.id,
            ts_ms=t,
            kind="capacity",
            message="http test",
            data={"method": "http", "down_mbps": round(down, 1), "up_mbps": round(down * 0.9, 1)},
        )
        out += lines.event_lines(event, point)
    reboot = Event(point=point.id, ts_ms=start + 90 * MINUTE_MS, kind="reboot", message="reboot")
    out += lines.event_lines(reboot, point)
    return out


def registry_path() -> Path:
    return Path(__file__).resolve().parents[1] / "examples" / "registry-cilegon.yaml"


def publish_capacity(broker: int, point: str, tests: list[tuple[int, float]]) -> None:
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"capacity-{point}",
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    client.connect("127.0.0.1", broker)
    client.loop_start()
    try:
        for ts_ms, mbps in tests:
            event = Event(
                point=point,
                ts_ms=ts_ms,
                kind="capacity",
                data={"method": "http", "down_mbps": mbps},
            )
            client.publish(topics.event_topic(point), encode(event), qos=1).wait_for_publish(5)
    finally:
        client.loop_stop()
        client.disconnect()
