"""Collector throughput beside the limits of its parts, measured in one run on the same stream.

One-sample messages: 100 `mosquitto_pub` processes (C, QoS 1, one per point, as separate agents
publish) send N one-sample telemetry messages to a real mosquitto. First a bare paho MQTT v5
subscriber that only acknowledges (manual acks, QoS 1) drains them: the most any Python MQTT
consumer can take here. Then the same stream, published the same way to a fresh broker, goes
through `pantau collector` (`workers: 1`, then `workers: 2`) into a real influxd, timed until
every row is readable.

Batched messages: the agents' backlog shape, 100 samples a message, through `pantau collector`,
beside the raw InfluxDB ingest of the same lines (built by the collector's own code) written
straight in 5,000-line batches.

Prints each rate and its ratio (collector / bare subscriber, collector / raw ingest, two
workers / one), and the CPU each part spent per message or sample while it was measured
(collector with its workers, influxd, mosquitto; for raw ingest, influxd and this process):
on a machine whose cores are all busy, a ratio below target is a matter of those microseconds.
Last line: one JSON object.

    .venv/bin/python bench/collector_throughput.py [--messages 50000] [--points 100]
        [--workers 1,2] [--batched-samples 200000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pantau.collector.ingest import Accepted, ingest  # noqa: E402
from pantau.collector.lab import services  # noqa: E402
from pantau.shared.registry import Registry  # noqa: E402
from tests.pipeline import collector_config, count_rows, influx, registry_file, start_collector  # noqa: E402

MOSQUITTO_PUB = shutil.which("mosquitto_pub") or "/usr/bin/mosquitto_pub"
T0_MS = 1_790_000_000_000  # 2026-09-21, fixed so runs are comparable
RAW_BATCH = 5_000


def point_ids(points: int) -> list[str]:
    return [f"bench-{i:04d}" for i in range(points)]


def sample(seq: int) -> dict[str, Any]:
    return {
        "ts_ms": T0_MS + seq * 10_000,
        "seq": seq,
        "boot": "bench",
        "interval_s": 10.0,
        "device_up": True,
        "uptime_s": 1000.0 + seq * 10,
        "rx_bytes": seq * 12_500_000,
        "tx_bytes": seq * 2_500_000,
        "rx_bps": 10_000_000.0,
        "tx_bps": 2_000_000.0,
        "link_up": True,
        "wan_up": True,
        "rtt_ms": 12.5,
        "loss_pct": 0.0,
        "clients_assoc": 17,
        "clients_hotspot": 15,
        "clients_dhcp": 19,
        "cpu_pct": 7.0,
        "mem_used_pct": 40.0,
        "clock_synced": True,
    }


def payload(point: str, first_seq: int, samples: int = 1) -> bytes:
    body = {"v": 1, "point": point, "samples": [sample(first_seq + i) for i in range(samples)]}
    return json.dumps(body, separators=(",", ":")).encode()


def messages_of(point: str, per_point: int, batch: int) -> list[bytes]:
    """`per_point` samples of one point, `batch` samples a message."""
    return [payload(point, seq, min(batch, per_point - seq)) for seq in range(0, per_point, batch)]


def publish_all(
    port: int, points: int, per_point: int, batch: int, workdir: Path
) -> list[subprocess.Popen[bytes]]:
    """One `mosquitto_pub -l` per point (C, QoS 1), the way separate agents publish: the load
    generator must not be the bottleneck it measures."""
    workdir.mkdir(parents=True, exist_ok=True)
    procs = []
    for point in point_ids(points):
        lines = workdir / f"{point}.jsonl"
        if not lines.exists():
            lines.write_bytes(b"\n".join(messages_of(point, per_point, batch)) + b"\n")
        with lines.open("rb") as stdin:
            procs.append(
                subprocess.Popen(
                    [
                        *(MOSQUITTO_PUB, "-h", "127.0.0.1", "-p", str(port), "-V", "mqttv5"),
                        *("-q", "1", "-i", f"pub-{point}", "-t", f"pantau/v1/{point}/telemetry"),
                        "-l",
                    ],
                    stdin=stdin,
                )
            )
    return procs


def bare_subscriber(port: int, expected: int) -> int:
    """Subprocess mode: a paho MQTT v5 client that only acknowledges, each message by hand at
    QoS 1 (what the collector does once a message is durable). Prints `ready` once subscribed,
    then one JSON line with the wall-clock time of the last message."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

    received = 0
    last = 0.0
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id="bench-bare",
        protocol=MQTTProtocolVersion.MQTTv5,
        manual_ack=True,
    )

    def on_connect(c: mqtt.Client, *_: Any) -> None:
        c.subscribe("pantau/v1/+/telemetry", qos=1)

    def on_subscribe(*_: Any) -> None:
        print("ready", flush=True)

    def on_message(c: mqtt.Client, _: Any, message: mqtt.MQTTMessage) -> None:
        nonlocal received, last
        c.ack(message.mid, message.qos)
        received += 1
        last = time.time()

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect("127.0.0.1", port)
    give_up = time.monotonic() + 600
    while received < expected and time.monotonic() < give_up:
        client.loop(timeout=0.05)
    client.disconnect()
    print(json.dumps({"received": received, "last": last}), flush=True)
    return 0


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) so far of a process and its children (a collector's workers),
    or of this process alone (its children are the servers, counted on their own)."""
    try:
        top = psutil.Process(pid)
        below = [] if pid == os.getpid() else top.children(recursive=True)
        total = 0.0
        for proc in [top, *below]:
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                total += times.user + times.system
        return total
    except psutil.Error:
        return 0.0


class Cpu:
    """CPU seconds each part spent between `start` and `stop`."""

    def __init__(self, parts: dict[str, int]) -> None:
        self.parts = parts
        self.spent: dict[str, float] = {}

    def start(self) -> Cpu:
        self._at = {name: cpu_seconds(pid) for name, pid in self.parts.items()}
        return self

    def stop(self) -> dict[str, float]:
        self.spent = {name: cpu_seconds(pid) - self._at[name] for name, pid in self.parts.items()}
        return self.spent


class Rig:
    """One influxd for the whole run; a fresh broker and database for each measurement, so no
    session or row of one run touches the next."""

    def __init__(self, work: Path, points: int) -> None:
        self.work = work
        self.points = points
        self.database = services.influxd(work / "influxd").start()
        self.registry = registry_file(work / "registry.yaml", point_ids(points))
        self.runs = 0
        self.cpu: dict[str, float] = {}  # CPU seconds per part of the last measurement

    def close(self) -> None:
        self.database.stop()

    def broker(self) -> services.Service:
        self.runs += 1
        return services.mosquitto(self.work / f"mosquitto-{self.runs}").start()

    def bare(self, per_point: int) -> tuple[float, int]:
        """(messages/s, received) of the bare subscriber."""
        broker = self.broker()
        total = per_point * self.points
        try:
            sub = subprocess.Popen(
                [sys.executable, __file__, "--bare-subscriber", str(broker.port), str(total)],
                stdout=subprocess.PIPE,
                text=True,
            )
            assert sub.stdout is not None
            assert sub.stdout.readline().strip() == "ready"
            t0 = time.time()
            publishers = publish_all(broker.port, self.points, per_point, 1, self.work / "pub-1")
            out = json.loads(sub.stdout.readline())
            sub.wait(30)
            for publisher in publishers:
                publisher.wait(60)
        finally:
            broker.stop()
        return out["received"] / (out["last"] - t0), out["received"]

    def collector(self, per_point: int, batch: int, workers: int) -> tuple[float, int]:
        """(samples/s until every row is readable, rows lost) of `pantau collector`."""
        self.runs += 1
        name = f"run{self.runs}"
        broker = services.mosquitto(self.work / f"mosquitto-{self.runs}").start()
        total = per_point * self.points
        proc = None
        try:
            config = collector_config(
                self.work / f"{name}.yaml",
                broker.port,
                self.database.url,
                name,
                self.registry,
                mqtt={"client_id": f"bench-{name}"},
                state_dir=str(self.work / f"{name}-state"),
                limits={"max_age_s": 3650 * 86_400},  # T0_MS is fixed in the past
                workers=workers,
            )
            proc = start_collector(config, self.work / f"{name}.log")
            if workers > 1:  # every worker subscribed, not only the first
                _wait(lambda: proc.log().count("subscribed") >= workers, 60)
            db = influx(self.database.url, name)
            assert proc.process is not None and broker.process is not None
            assert self.database.process is not None
            cpu = Cpu(
                {
                    "collector": proc.process.pid,
                    "influxd": self.database.process.pid,
                    "mosquitto": broker.process.pid,
                }
            ).start()
            t0 = time.time()
            publishers = publish_all(
                broker.port, self.points, per_point, batch, self.work / f"pub-{batch}"
            )
            # Each point's last sample is the last it publishes: looking for those is a small
            # read, so polling does not slow influxd the way counting every row each time would
            # (the raw ingest run has no reader beside it). Then one full count, to be sure.
            tail = f"time >= {T0_MS + (per_point - 1) * 10_000}ms"
            landed = 0
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                if count_rows(db, "telemetry", tail) >= self.points:
                    landed = count_rows(db, "telemetry")
                    if landed >= total:
                        break
                time.sleep(0.1)
            elapsed = time.time() - t0
            self.cpu = cpu.stop()
            landed = landed or count_rows(db, "telemetry")
            for publisher in publishers:
                publisher.wait(60)
        finally:
            if proc is not None:
                proc.stop(180)
            broker.stop()
        return total / elapsed, total - landed

    def raw_ingest(self, per_point: int, batch: int) -> float:
        """The same lines, built by the collector's own code, written straight to InfluxDB."""
        registry = Registry.model_validate(
            {
                "contracts": [{"provider": "Awinet"}],
                "points": [
                    {
                        "id": p,
                        "kelurahan": "Citangkil",
                        "kecamatan": "Citangkil",
                        "provider": "Awinet",
                    }
                    for p in point_ids(self.points)
                ],
            }
        ).by_id()
        lines: list[str] = []
        received_ms = T0_MS + per_point * 10_000  # as if they arrived just after the last sample
        for point in point_ids(self.points):
            for body in messages_of(point, per_point, batch):
                topic = f"pantau/v1/{point}/telemetry"
                result = ingest(topic, body, False, registry, 1 << 20, received_ms)
                assert isinstance(result, Accepted), result
                lines += result.lines
        self.runs += 1
        db = influx(self.database.url, f"raw{self.runs}")
        db.query_raw(f'CREATE DATABASE "raw{self.runs}"')
        assert self.database.process is not None
        cpu = Cpu({"influxd": self.database.process.pid, "client": os.getpid()}).start()
        started = time.perf_counter()
        for start in range(0, len(lines), RAW_BATCH):
            db.write(lines[start : start + RAW_BATCH])
        rate = len(lines) / (time.perf_counter() - started)
        self.cpu = cpu.stop()
        return rate


def _wait(predicate: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("timed out waiting for the collector's workers to subscribe")
        time.sleep(0.1)


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--bare-subscriber":
        return bare_subscriber(int(sys.argv[2]), int(sys.argv[3]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000, help="one-sample messages")
    parser.add_argument("--points", type=int, default=100, help="publishers, one per point")
    parser.add_argument(
        "--workers", default="1,2", help="collector worker counts to measure, comma-separated"
    )
    parser.add_argument(
        "--batched-samples", type=int, default=200_000, help="samples sent 100 a message"
    )
    parser.add_argument("--batch", type=int, default=100, help="samples a batched message")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    per_point = max(1, args.messages // args.points)
    batched_per_point = max(args.batch, args.batched_samples // args.points)
    total = per_point * args.points
    batched_total = batched_per_point * args.points
    work = Path(tempfile.mkdtemp(prefix="pantau-bench-"))
    rig = Rig(work, args.points)
    one: dict[str, Any] = {"messages": total, "collector_msgs_per_s": {}, "lost": {}}
    batched: dict[str, Any] = {"samples": batched_total, "collector_samples_per_s": {}}
    batched["lost"] = {}
    try:
        say(f"{total} one-sample messages from {args.points} publishers: bare subscriber ...")
        bare, received = rig.bare(per_point)
        one["bare_msgs_per_s"] = round(bare)
        say(f"  bare paho subscriber: {bare:,.0f} msgs/s ({received} received)")
        for n in counts:
            rate, lost = rig.collector(per_point, 1, n)
            one["collector_msgs_per_s"][str(n)] = round(rate)
            one["lost"][str(n)] = lost
            one.setdefault("cpu_us_per_msg", {})[str(n)] = per_item(rig.cpu, total)
            say(f"  collector, {n} worker(s): {rate:,.0f} msgs/s = {rate / bare:.2f} of bare")
            say(f"    CPU per message: {cpu_text(rig.cpu, total)}")
        say(f"{batched_total} samples, {args.batch} a message: raw InfluxDB ingest ...")
        raw = rig.raw_ingest(batched_per_point, args.batch)
        batched["raw_points_per_s"] = round(raw)
        batched["raw_cpu_us_per_sample"] = per_item(rig.cpu, batched_total)
        say(f"  raw influxd ingest, {RAW_BATCH} lines a write: {raw:,.0f} points/s")
        say(f"    CPU per sample: {cpu_text(rig.cpu, batched_total)}")
        for n in counts:
            rate, lost = rig.collector(batched_per_point, args.batch, n)
            batched["collector_samples_per_s"][str(n)] = round(rate)
            batched["lost"][str(n)] = lost
            batched.setdefault("cpu_us_per_sample", {})[str(n)] = per_item(rig.cpu, batched_total)
            say(f"  collector, {n} worker(s): {rate:,.0f} samples/s = {rate / raw:.2f} of raw")
            say(f"    CPU per sample: {cpu_text(rig.cpu, batched_total)}")
    finally:
        rig.close()
        if not os.environ.get("PANTAU_BENCH_KEEP"):
            shutil.rmtree(work, ignore_errors=True)
    rates = one["collector_msgs_per_s"]
    one["ratio_to_bare"] = {n: round(r / one["bare_msgs_per_s"], 3) for n, r in rates.items()}
    brates = batched["collector_samples_per_s"]
    batched["ratio_to_raw"] = {
        n: round(r / batched["raw_points_per_s"], 3) for n, r in brates.items()
    }
    result: dict[str, Any] = {
        "points": args.points,
        "cores": os.cpu_count(),
        "one_sample": one,
        "batched": batched,
    }
    if "1" in rates and "2" in rates:
        result["two_workers_vs_one"] = {
            "one_sample": round(rates["2"] / rates["1"], 3),
            "batched": round(brates["2"] / brates["1"], 3),
        }
    print(json.dumps(result))
    return 0


def per_item(cpu: dict[str, float], count: int) -> dict[str, float]:
    """CPU microseconds per message or sample, per part."""
    return {name: round(seconds * 1e6 / count, 1) for name, seconds in cpu.items()}


def cpu_text(cpu: dict[str, float], count: int) -> str:
    return ", ".join(f"{name} {us:.1f} µs" for name, us in per_item(cpu, count).items())


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
