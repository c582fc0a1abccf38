"""CPU the collector spends per telemetry sample in its own Python, without MQTT or InfluxDB.

The pure path a batched message takes: decode (shared/wire.py), line building
(collector/lines.py), the whole of ingest (collector/ingest.py: decode, bounds, lines, hours,
seqs), the evidence guard's screen of a write's worth of lines (collector/evidence.py, every
line new, as nearly every line is) and the write body (collector/influxdb/client.py). The same
for one-sample messages, per message, and there also the collector's whole handling of one
(`Collector._on_message`: ingest, stats, the batch it joins; no broker, nothing stored). Process CPU time, best of several rounds: a figure that
load on the machine disturbs far less than wall-clock rates do (bench/collector_throughput.py
measures those, against mosquitto and influxd).

    .venv/bin/python bench/ingest_path.py [--messages 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402

from bench.collector_throughput import T0_MS, messages_of, point_ids  # noqa: E402
from pantau.collector import lines as lines_mod  # noqa: E402
from pantau.collector.config import load_collector_config  # noqa: E402
from pantau.collector.evidence import Guard  # noqa: E402
from pantau.collector.ingest import Accepted, ingest  # noqa: E402
from pantau.collector.service import Collector  # noqa: E402
from pantau.shared.registry import Registry, load_registry  # noqa: E402
from pantau.shared.wire import Telemetry, decode  # noqa: E402
from tests.pipeline import collector_config, registry_file  # noqa: E402

POINTS = 100
WRITE_LINES = 5_000  # BatchConfig.max_lines: the lines one write screens


class NoInflux:
    """The guard's reads answered with nothing stored: every line is new."""

    def query_raw(self, influxql: str, database: str | None = None) -> list[dict[str, Any]]:
        return []


def registry() -> dict[str, Any]:
    return Registry.model_validate(
        {
            "contracts": [{"provider": "Awinet"}],
            "points": [
                {"id": p, "kelurahan": "Citangkil", "kecamatan": "Citangkil", "provider": "Awinet"}
                for p in point_ids(POINTS)
            ],
        }
    ).by_id()


def best(rounds: int, run: Callable[[], object]) -> float:
    """The least process CPU seconds of `rounds` runs."""
    times = []
    for _ in range(rounds):
        started = time.process_time()
        run()
        times.append(time.process_time() - started)
    return min(times)


def measure(messages: int, samples: int, rounds: int) -> dict[str, float]:
    """CPU microseconds per sample of each part, for `messages` messages of `samples` each."""
    points = registry()
    per_point = max(1, messages // POINTS) * samples
    received_ms = T0_MS + per_point * 10_000
    work = [
        (f"pantau/v1/{p}/telemetry", p, body)
        for p in point_ids(POINTS)
        for body in messages_of(p, per_point, samples)
    ]
    count = sum(len(json.loads(body)["samples"]) for _, _, body in work)
    decoded = [(points[p], decode("telemetry", body, p)) for _, p, body in work]
    built: list[str] = []
    for topic, _, body in work:
        result = ingest(topic, body, False, points, 1 << 20, received_ms)
        assert isinstance(result, Accepted), result
        built += result.lines
    writes = [built[i : i + WRITE_LINES] for i in range(0, len(built), WRITE_LINES)]

    def do_decode() -> None:
        for _, p, body in work:
            decode("telemetry", body, p)

    def do_lines() -> None:
        for point, message in decoded:
            assert isinstance(message, Telemetry)
            lines_mod.telemetry_lines(message, point)

    def do_ingest() -> None:
        for topic, _, body in work:
            ingest(topic, body, False, points, 1 << 20, received_ms)

    def do_screen() -> None:
        guard = Guard(NoInflux(), 86_400)  # type: ignore[arg-type]
        for batch in writes:
            guard.screen(batch)

    def do_body() -> None:
        for batch in writes:
            "\n".join(batch).encode()

    parts = {
        "decode": best(rounds, do_decode),
        "lines": best(rounds, do_lines),
        "ingest": best(rounds, do_ingest),
        "screen": best(rounds, do_screen),
        "body": best(rounds, do_body),
    }
    parts["whole"] = parts["ingest"] + parts["screen"] + parts["body"]
    return {name: round(seconds * 1e6 / count, 2) for name, seconds in parts.items()}


class NoBroker:
    """Acknowledgements go nowhere."""

    def ack(self, mid: int, qos: int) -> None:
        pass


def on_message(messages: int, rounds: int) -> float:
    """CPU microseconds per one-sample message of `Collector._on_message`, its batch never
    handed to the store thread (max_lines above the messages sent)."""
    work = Path(tempfile.mkdtemp(prefix="pantau-ingest-path-"))
    try:
        registry_path = registry_file(work / "registry.yaml", point_ids(POINTS))
        config = collector_config(
            work / "collector.yaml",
            1,
            "http://127.0.0.1:9",
            "bench",
            registry_path,
            state_dir=str(work / "state"),
            limits={"max_age_s": 3650 * 86_400},  # T0_MS is fixed in the past
            batch={"max_lines": 100_000},
        )
        collector = Collector(load_collector_config(config), load_registry(registry_path))
        per_point = max(1, min(messages, 100_000) // POINTS)
        sent = []
        for p in point_ids(POINTS):
            for mid, body in enumerate(messages_of(p, per_point, 1), start=1):
                message = mqtt.MQTTMessage(mid=mid, topic=f"pantau/v1/{p}/telemetry".encode())
                message.payload, message.qos = body, 1
                sent.append(message)
        client = NoBroker()

        def run() -> None:
            collector.writer._pending.clear()
            collector.writer._pending_lines = 0
            for message in sent:
                collector._on_message(client, None, message)

        seconds = best(rounds, run)
        collector.writer._pending.clear()
        collector.writer._pending_lines = 0
        collector.writer.close()
        collector.buffer.close()
        return round(seconds * 1e6 / len(sent), 2)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2_000, help="batched messages")
    parser.add_argument("--batch", type=int, default=100, help="samples a batched message")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    result = {
        "batched_us_per_sample": measure(args.messages, args.batch, args.rounds),
        "one_sample_us_per_msg": measure(args.messages * 5, 1, args.rounds),
    }
    result["one_sample_us_per_msg"]["on_message"] = on_message(args.messages * 5, args.rounds)
    for name, parts in result.items():
        text = ", ".join(f"{part} {us:.2f}" for part, us in parts.items())
        print(f"{name}: {text}", file=sys.stderr)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
