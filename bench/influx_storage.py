"""What one point costs on InfluxDB's disk: a month of 10-second samples of a few points, built
by the collector's own code (shared/wire.py → collector/ingest.py lines, tags from the
registry), written to a real influxd, fully compacted, then the TSM files measured. The values
move the way a busy point's do (counters growing, rates and round trips varying), so the
compression is the real one, not that of constants. Last line: one JSON object.

    .venv/bin/python bench/influx_storage.py [--points 4] [--days 30]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pantau.collector.ingest import Accepted, ingest  # noqa: E402
from pantau.collector.lab import services  # noqa: E402
from pantau.shared.registry import Registry  # noqa: E402
from pantau.shared.wire import Sample, Telemetry, encode  # noqa: E402
from tests.pipeline import influx  # noqa: E402

INTERVAL_S = 10
BATCH = 100  # samples per message, as an agent sends a backlog
T0_MS = 1_790_000_000_000  # fixed, so runs are comparable
DATABASE = "storage"


def registry(points: list[str]) -> dict[str, object]:
    return Registry.model_validate(
        {
            "contracts": [{"provider": "Awinet"}],
            "points": [
                {"id": p, "kelurahan": "Citangkil", "kecamatan": "Citangkil", "provider": "Awinet"}
                for p in points
            ],
        }
    ).by_id()


def samples(seed: int, count: int) -> list[Sample]:
    """A busy point: traffic that moves, clients that come and go, an occasional loss."""
    rnd = random.Random(seed)
    rx = tx = 0
    out = []
    for seq in range(count):
        rx_bps = rnd.uniform(2e6, 40e6)
        tx_bps = rnd.uniform(0.5e6, 8e6)
        rx += int(rx_bps / 8 * INTERVAL_S)
        tx += int(tx_bps / 8 * INTERVAL_S)
        clients = max(0, int(rnd.gauss(20, 6)))
        out.append(
            Sample(
                ts_ms=T0_MS + seq * INTERVAL_S * 1000,
                seq=seq,
                boot="storage",
                interval_s=INTERVAL_S,
                device_up=True,
                uptime_s=float(1000 + seq * INTERVAL_S),
                rx_bytes=rx,
                tx_bytes=tx,
                rx_packets=rx // 900,
                tx_packets=tx // 600,
                rx_errors=0,
                tx_errors=0,
                rx_bps=round(rx_bps, 1),
                tx_bps=round(tx_bps, 1),
                link_up=True,
                link_downs=0,
                wan_up=True,
                rtt_ms=round(rnd.uniform(8, 40), 2),
                loss_pct=0.0 if rnd.random() > 0.02 else 10.0,
                jitter_ms=round(rnd.uniform(0.5, 6), 2),
                clients_assoc=clients,
                clients_hotspot=max(0, clients - rnd.randint(0, 3)),
                clients_dhcp=clients + rnd.randint(0, 4),
                cpu_pct=round(rnd.uniform(2, 30), 1),
                mem_used_pct=round(rnd.uniform(30, 45), 1),
                temp_c=round(rnd.uniform(38, 55), 1),
                clock_synced=True,
            )
        )
    return out


def lines_for(point: str, seed: int, count: int, by_id: dict[str, object]) -> list[str]:
    out: list[str] = []
    all_samples = samples(seed, count)
    for start in range(0, count, BATCH):
        chunk = all_samples[start : start + BATCH]
        payload = encode(Telemetry(point=point, samples=chunk))
        received_ms = chunk[-1].ts_ms + 1000
        result = ingest(f"pantau/v1/{point}/telemetry", payload, False, by_id, 1 << 22, received_ms)
        assert isinstance(result, Accepted), result
        out += result.lines
    return out


def tsm_bytes(data_dir: Path) -> tuple[int, int]:
    files = list(data_dir.glob(f"{DATABASE}/*/*/*.tsm"))
    return sum(f.stat().st_size for f in files), len(files)


def wal_bytes(wal_dir: Path) -> int:
    return sum(f.stat().st_size for f in wal_dir.glob(f"{DATABASE}/*/*/*.wal"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=4)
    parser.add_argument("--days", type=float, default=30)
    args = parser.parse_args()
    if args.points < 1 or args.days <= 0:
        parser.error("--points and --days must be positive")
    per_point = int(args.days * 86_400 / INTERVAL_S)
    points = [f"store-{i:03d}" for i in range(args.points)]
    by_id = registry(points)
    work = Path(tempfile.mkdtemp(prefix="pantau-bench-storage-"))
    database = services.influxd(work / "influxd")
    conf = work / "influxd" / "influxdb.conf"
    # Compact fully as soon as a shard goes cold, so the size measured is the resting one.
    conf.write_text(
        conf.read_text()
        .replace(
            'cache-snapshot-write-cold-duration = "10s"',
            'cache-snapshot-write-cold-duration = "1s"',
        )
        .replace("[data]\n", '[data]\n  compact-full-write-cold-duration = "2s"\n')
    )
    database.start()
    try:
        db = influx(database.url, DATABASE)
        db.query_raw(f'CREATE DATABASE "{DATABASE}"')
        started = time.perf_counter()
        written = 0
        for n, point in enumerate(points):
            lines = lines_for(point, n, per_point, by_id)
            for start in range(0, len(lines), 5000):
                db.write(lines[start : start + 5000])
            written += len(lines)
            print(f"  {point}: {len(lines)} rows written", file=sys.stderr)
        write_s = time.perf_counter() - started
        data_dir, wal_dir = work / "influxd" / "data", work / "influxd" / "wal"
        previous = (-1, -1)
        stable_since = time.monotonic()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            time.sleep(2)
            now = tsm_bytes(data_dir)
            if now != previous or wal_bytes(wal_dir) > 0:
                previous, stable_since = now, time.monotonic()
            elif time.monotonic() - stable_since > 10:
                break
        size, files = tsm_bytes(data_dir)
        count = db.query('SELECT COUNT("seq") FROM "telemetry"')
        stored = int(count[0]["count"]) if count else 0
    finally:
        database.stop()
    month = size / args.points * (30 / args.days)
    result = {
        "points": args.points,
        "days": args.days,
        "rows": written,
        "stored": stored,
        "write_s": round(write_s, 1),
        "tsm_files": files,
        "tsm_bytes": size,
        "bytes_per_sample": round(size / max(1, stored), 2),
        "bytes_per_point_month": round(month),
        "gb_per_month_50000_points": round(month * 50_000 / 1e9, 1),
    }
    print(json.dumps(result))
    return 0 if stored == written else 1


if __name__ == "__main__":
    sys.exit(main())
