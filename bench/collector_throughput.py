"""End-to-end collector throughput: a separate process publishes N one-sample telemetry messages
at QoS 1 to a real mosquitto; a real `pantau collector` writes them to a real influxd. Reports
messages per second until every row is readable, rows lost, and the raw InfluxDB ingest rate of
the same points written straight in 5,000-line batches. Last line: one JSON object.

    .venv/bin/python bench/collector_throughput.py [--messages 50000] [--points 100]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pantau.collector.ingest import Accepted, ingest  # noqa: E402
from pantau.collector.lab import services  # noqa: E402
from pantau.shared.registry import Registry  # noqa: E402
from tests.pipeline import collector_config, count_rows, influx, registry_file, start_collector  # noqa: E402

MOSQUITTO_PUB = shutil.which("mosquitto_pub") or "/usr/bin/mosquitto_pub"
T0_MS = 1_790_000_000_000  # 2026-09-21, fixed so runs are comparable


def point_ids(points: int) -> list[str]:
    return [f"bench-{i:04d}" for i in range(points)]


def payload(point: str, seq: int) -> bytes:
    sample = {
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
    return json.dumps({"v": 1, "point": point, "samples": [sample]}, separators=(",", ":")).encode()


def publish_all(
    port: int, points: int, per_point: int, workdir: Path
) -> list[subprocess.Popen[bytes]]:
    """One `mosquitto_pub -l` per point (C, QoS 1), the way separate agents publish: the load
    generator must not be the bottleneck it measures."""
    procs = []
    for point in point_ids(points):
        lines = workdir / f"{point}.jsonl"
        lines.write_bytes(b"\n".join(payload(point, seq) for seq in range(per_point)) + b"\n")
        with lines.open("rb") as stdin:
            procs.append(
                subprocess.Popen(
                    [
                        MOSQUITTO_PUB,
                        "-h",
                        "127.0.0.1",
                        "-p",
                        str(port),
                        "-V",
                        "mqttv5",
                        "-q",
                        "1",
                        "-i",
                        f"pub-{point}",
                        "-t",
                        f"pantau/v1/{point}/telemetry",
                        "-l",
                    ],
                    stdin=stdin,
                )
            )
    return procs


def raw_ingest_rate(db_url: str, points: int, per_point: int) -> float:
    """The same lines, built by the collector's own code, written straight to InfluxDB."""
    registry = Registry.model_validate(
        {
            "contracts": [{"provider": "Awinet"}],
            "points": [
                {"id": p, "kelurahan": "Citangkil", "kecamatan": "Citangkil", "provider": "Awinet"}
                for p in point_ids(points)
            ],
        }
    ).by_id()
    lines: list[str] = []
    received_ms = T0_MS + per_point * 10_000  # as if they arrived just after the last sample
    for seq in range(per_point):
        for point in point_ids(points):
            result = ingest(
                f"pantau/v1/{point}/telemetry",
                payload(point, seq),
                False,
                registry,
                1 << 20,
                received_ms,
            )
            assert isinstance(result, Accepted), result
            lines += result.lines
    db = influx(db_url, "raw")
    db.query_raw('CREATE DATABASE "raw"')
    started = time.perf_counter()
    for start in range(0, len(lines), 5000):
        db.write(lines[start : start + 5000])
    return len(lines) / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument(
        "--collectors", type=int, default=1, help="collector processes on one shared subscription"
    )
    args = parser.parse_args()
    per_point = max(1, args.messages // args.points)
    total = per_point * args.points
    work = Path(tempfile.mkdtemp(prefix="pantau-bench-"))
    broker = services.mosquitto(work / "mosquitto").start()
    database = services.influxd(work / "influxd").start()
    try:
        registry = registry_file(work / "registry.yaml", point_ids(args.points))
        collectors = []
        for index in range(args.collectors):
            config = collector_config(
                work / f"collector-{index}.yaml",
                broker.port,
                database.url,
                "bench",
                registry,
                mqtt={"client_id": f"bench-collector-{index}", "share_group": "bench"},
                state_dir=str(work / f"collector-state-{index}"),
                limits={"max_age_s": 3650 * 86_400},  # T0_MS is fixed in the past
            )
            collectors.append(start_collector(config, work / f"collector-{index}.log"))
        db = influx(database.url, "bench")
        print(f"publishing {total} messages from {args.points} points ...", file=sys.stderr)
        (work / "pub").mkdir()
        t0 = time.perf_counter()
        publishers = publish_all(broker.port, args.points, per_point, work / "pub")
        landed = 0
        deadline = t0 + 300
        while time.perf_counter() < deadline:
            landed = count_rows(db, "telemetry")
            print(f"  {landed}/{total} rows readable", file=sys.stderr)
            if landed >= total:
                break
            time.sleep(0.25)
        elapsed = time.perf_counter() - t0
        for publisher in publishers:
            publisher.wait(60)
        for collector in collectors:
            collector.stop()
        raw = raw_ingest_rate(database.url, args.points, per_point)
    finally:
        broker.stop()
        database.stop()
    msgs_per_s = total / elapsed
    result = {
        "messages": total,
        "points": args.points,
        "collectors": args.collectors,
        "seconds": round(elapsed, 2),
        "msgs_per_s": round(msgs_per_s),
        "raw_points_per_s": round(raw),
        "ratio": round(msgs_per_s / raw, 3),
        "lost": total - landed,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
