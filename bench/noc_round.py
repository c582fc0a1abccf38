"""What one look at the whole city costs: the Cilegon registry (430 points), `--hours` of 10-second
samples in a real influxd (some points provider-down, unreachable or silent, a few with open
alerts), then the time of `pantau status`'s read (gather) and of one alert round, each the
median of `--rounds`. Last line: one JSON object.

    .venv/bin/python bench/noc_round.py [--hours 2] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pantau.collector import lines  # noqa: E402
from pantau.collector.config import CollectorConfig  # noqa: E402
from pantau.collector.influxdb.client import Influx  # noqa: E402
from pantau.collector.influxdb.config import InfluxConfig  # noqa: E402
from pantau.collector.lab import services  # noqa: E402
from pantau.collector.noc.config import AlertsConfig, MetricsConfig  # noqa: E402
from pantau.collector.noc.gather import gather  # noqa: E402
from pantau.collector.noc.runner import AlertRunner  # noqa: E402
from pantau.shared.registry import load_registry  # noqa: E402
from pantau.shared.wire import Sample, Telemetry  # noqa: E402

REGISTRY = ROOT / "examples" / "registry-cilegon.yaml"
INTERVAL_MS = 10_000


def fill(db: Influx, registry, now_ms: int, hours: float) -> int:
    rng = random.Random(1)
    start = now_ms - int(hours * 3_600_000)
    start -= start % INTERVAL_MS
    written = 0
    for index, point in enumerate(registry.points):
        if index % 97 == 5:
            continue  # never reported: unknown
        silent_from = now_ms - 20 * 60_000 if index % 53 == 7 else now_ms + 1
        down_from = now_ms - 15 * 60_000 if index % 31 == 3 else now_ms + 1
        samples = []
        for seq, t in enumerate(range(start, min(now_ms, silent_from), INTERVAL_MS)):
            samples.append(
                Sample(
                    ts_ms=t,
                    seq=seq,
                    boot="bench",
                    interval_s=10.0,
                    device_up=True,
                    wan_up=t < down_from,
                    rx_bps=rng.uniform(1e6, 2e7),
                    tx_bps=rng.uniform(1e5, 3e6),
                    rtt_ms=12.0,
                    loss_pct=0.0,
                    clients_hotspot=rng.randint(0, 40),
                )
            )
        batch = lines.telemetry_lines(Telemetry(point=point.id, samples=samples), point)
        for i in range(0, len(batch), 5_000):
            db.write(batch[i : i + 5_000])
        written += len(batch)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    registry = load_registry(REGISTRY)
    with tempfile.TemporaryDirectory(prefix="pantau-bench-noc-") as tmp:
        server = services.influxd(Path(tmp) / "influxd").start()
        try:
            influx_config = InfluxConfig(api="v1", url=server.url, database="bench")
            db = Influx(influx_config)
            db.ensure_database()
            now_ms = int(time.time() * 1000)
            started = time.perf_counter()
            rows = fill(db, registry, now_ms, args.hours)
            fill_s = time.perf_counter() - started
            config = CollectorConfig(
                registry=REGISTRY,
                influx=influx_config,
                metrics=MetricsConfig(port=0),
                alerts=AlertsConfig(lookback_s=6 * 3600),
            )
            gather_ms = []
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                city = gather(registry, db, {}, config.alerts, int(time.time() * 1000))
                gather_ms.append((time.perf_counter() - t0) * 1000)
            runner = AlertRunner(config, registry)
            round_ms = []
            notices = 0
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                notices += len(runner.round(int(time.time() * 1000)))
                round_ms.append((time.perf_counter() - t0) * 1000)
            states: dict[str, int] = {}
            for view in city.points:
                states[str(view.state)] = states.get(str(view.state), 0) + 1
        finally:
            server.stop()
    print(
        json.dumps(
            {
                "bench": "noc_round",
                "points": len(registry.points),
                "telemetry_rows": rows,
                "hours": args.hours,
                "fill_s": round(fill_s, 1),
                "status_gather_ms_median": round(statistics.median(gather_ms), 1),
                "alert_round_ms_median": round(statistics.median(round_ms), 1),
                "alert_round_ms_max": round(max(round_ms), 1),
                "notices": notices,
                "states": states,
            }
        )
    )


if __name__ == "__main__":
    main()
