"""The city at its real operating point: 430 points sampled every 10 s, two hours of it (or 24:
`--hours 24`, 3,715,200 samples) replayed at the real timestamps through the agent's sampler,
spool and MQTT publisher, a real mosquitto, a real `pantau collector` and a real influxd, until
every (point, UTC hour) has its rollup.

Prints samples stored per second, the most raw rows any one rollup read returned (the
collector's /metrics), the rollup lag after the last sample (from the moment InfluxDB holds
every sample until every rollup exists with exactly its hour's samples), the point-hours
with raw rows but no rollup (must be 0), and the collector's resident memory (RSS): the
supervisor and each process under it (workers, forkserver), at start, on every progress line and
at the end, and its growth per replayed hour (430 x 360 samples stored) after `--warm-hours`.
A collector that keeps something per message or per hour shows it there; what it keeps per point
is paid once, before the warm-up ends. Rollup rounds run every 10 s by default (production:
120 s) so the lag shows the work, not the timer. Progress on stderr; last line: one JSON object.

    .venv/bin/python bench/city_live.py [--points 430] [--hours 2] [--interval 10]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pantau.collector.admin.registry_cli import dump, generate, read_kelurahan_csv  # noqa: E402
from pantau.collector.config import load_collector_config  # noqa: E402
from pantau.collector.lab import services  # noqa: E402
from pantau.collector.lab.demo import replay  # noqa: E402
from pantau.collector.lab.demo.replay import Segment  # noqa: E402
from pantau.collector.workers import plan  # noqa: E402
from pantau.shared.registry import load_registry  # noqa: E402
from tests.city import LIMITS, city_points, expected_pairs, rollup_gaps, span_ms, utc  # noqa: E402
from tests.pipeline import collector_config, count_rows, influx, start_collector  # noqa: E402

CSV = ROOT / "shared" / "data" / "cilegon_kelurahan.csv"
START = utc(2026, 10, 15, 3)  # 10:00 WIB, fixed so runs are comparable
ROLLUP_GAUGES = ("rollup_largest_read_rows", "rollup_reads", "rollup_rows_read", "rollup_errors")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def registry_for(work: Path, points: int) -> Path:
    """Cilegon's 43 kelurahan with as many points each as `points` needs (10 for the city)."""
    rows = read_kelurahan_csv(CSV)
    per = max(1, math.ceil(points / len(rows)))
    path = work / "registry.yaml"
    path.write_text(dump(generate(rows, per, "Awinet"), CSV.name))
    return path


def metrics(url: str) -> dict[str, float]:
    """The collector's rollup figures from /metrics (pantau_collector_<name> <value>)."""
    found: dict[str, float] = {}
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return found
    for line in text.splitlines():
        if line.startswith("pantau_collector_rollup_"):
            name, _, value = line.partition(" ")
            name = name.removeprefix("pantau_collector_").removesuffix("_total")
            found[name] = float(value)
    return found


@dataclass
class CollectorMemory:
    """RSS of a running `pantau collector`: its supervisor and every process under it, named
    from the collector's log ("worker 2 started (pid 1234)"); a worker started again shows under
    its new pid. `readings` keeps (samples stored, total MB) at each look."""

    pid: int
    log_path: Path
    readings: list[tuple[int, float]] = field(default_factory=list)

    def look(self, stored: int) -> dict[str, float]:
        """MB per process and `total`; remembered against the samples stored by then."""
        workers = {
            int(pid): f"worker-{n}"
            for n, pid in re.findall(r"worker (\d+) started \(pid (\d+)\)", self._log())
        }
        found: dict[str, float] = {}
        try:
            top = psutil.Process(self.pid)
            processes = [top, *top.children(recursive=True)]
        except psutil.NoSuchProcess:
            return {"total": 0.0}
        for process in processes:
            try:
                rss = process.memory_info().rss / 1e6
                name = "supervisor" if process.pid == self.pid else workers.get(process.pid)
                if name is None:  # forkserver, resource tracker
                    name = _helper_name(process)
            except psutil.NoSuchProcess:
                continue
            found[name] = found.get(name, 0.0) + rss
        found = {name: round(mb, 1) for name, mb in sorted(found.items())}
        found["total"] = round(sum(found.values()), 1)
        self.readings.append((stored, found["total"]))
        return found

    def growth_per_hour(self, after: int, per_hour: int) -> float | None:
        """MB per replayed hour (`per_hour` samples stored) from the first look with at least
        `after` samples stored to the last look; None when the run was too short to tell."""
        later = [(n, mb) for n, mb in self.readings if n >= after]
        if len(later) < 2 or later[-1][0] == later[0][0]:
            return None
        (n0, mb0), (n1, mb1) = later[0], later[-1]
        return round((mb1 - mb0) / ((n1 - n0) / per_hour), 3)

    def _log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _helper_name(process: psutil.Process) -> str:
    command = " ".join(process.cmdline())
    for helper in ("forkserver", "resource_tracker"):
        if helper in command:
            return helper
    return f"pid-{process.pid}"


def brief(rss: dict[str, float]) -> str:
    """'total 151.2 MB (supervisor 60.1, worker-1 45.3, ...)'"""
    parts = ", ".join(f"{name} {mb:.1f}" for name, mb in rss.items() if name != "total")
    return f"RSS {rss['total']:.1f} MB ({parts})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=430)
    parser.add_argument("--hours", type=int, default=2, help="whole UTC hours of samples")
    parser.add_argument("--interval", type=float, default=10.0, help="sample interval (s)")
    parser.add_argument("--rollup-every", type=float, default=10.0, help="rollup.every_s")
    parser.add_argument("--workers", type=int, default=2, help="replay processes")
    parser.add_argument(
        "--warm-hours",
        type=float,
        default=2.0,
        help="replayed hours stored before RSS growth per hour is measured",
    )
    parser.add_argument(
        "--deadline", type=float, help="give up after (s); default 1,800 + 120 per hour"
    )
    parser.add_argument("--keep", action="store_true", help="keep the data and logs (else removed)")
    args = parser.parse_args()
    if args.hours < 1 or 3600 % args.interval:
        parser.error("--hours at least 1, --interval a divisor of 3600")
    deadline_s = args.deadline or 1800.0 + 120.0 * args.hours
    work = Path(tempfile.mkdtemp(prefix="pantau-city-"))
    registry_path = registry_for(work, args.points)
    points = city_points(load_registry(registry_path), limit=args.points)
    segment = Segment(START, int(args.hours * 3600 / args.interval), args.interval)
    total = len(points) * segment.ticks
    per_hour = len(points) * int(3600 / args.interval)  # samples of one replayed hour
    expected = expected_pairs(points, segment)
    lo, hi = span_ms(segment)
    result: dict[str, object] = {
        "points": len(points),
        "hours": args.hours,
        "interval_s": args.interval,
        "samples": total,
        "rollup_every_s": args.rollup_every,
    }
    broker = services.mosquitto(work / "mosquitto").start()
    database = services.influxd(work / "influxd").start()
    metrics_port = services.free_port()
    collector = run = None
    try:
        config = collector_config(
            work / "collector.yaml",
            broker.port,
            database.url,
            "city",
            registry_path,
            rollup={"every_s": args.rollup_every},
            limits=LIMITS,
            metrics={"port": metrics_port},
        )
        collector = start_collector(config, work / "collector.log")
        url = f"http://127.0.0.1:{metrics_port}/metrics"
        db = influx(database.url, "city")
        assert collector.process is not None
        memory = CollectorMemory(collector.process.pid, work / "collector.log")
        count = plan(load_collector_config(config)).count
        wanted = {f"worker-{n}" for n in range(1, count + 1)} if count > 1 else set()
        ready_by = time.monotonic() + 30
        while not wanted <= set(rss_start := memory.look(0)) and time.monotonic() < ready_by:
            time.sleep(0.2)  # until each worker has said it started
        memory.readings.clear()  # growth is counted from the first sample stored on
        log(f"{len(points)} points x {segment.ticks} samples every {args.interval:g} s: {total:,}")
        log(f"collector at start: {brief(rss_start)}")
        t0 = time.monotonic()
        deadline = t0 + deadline_s
        mqtt = {"host": "127.0.0.1", "port": broker.port}
        run = replay.start(work, mqtt, points, [segment], workers=args.workers)
        sampled_s = first_row_s = None
        stored = 0
        backlog_peak = 0.0
        said = t0
        while stored < total and time.monotonic() < deadline:
            if run.failed() or not collector.alive():
                raise RuntimeError(f"a replay worker or the collector died; see {work}")
            taken, _ = run.progress()
            stored = count_rows(db, "telemetry")
            now = time.monotonic()
            if sampled_s is None and taken >= total:
                sampled_s = now - t0
            if first_row_s is None and stored:
                first_row_s = now - t0
            backlog_peak = max(backlog_peak, metrics(url).get("rollup_backlog", 0.0))
            if now - said >= 10:
                said = now
                log(
                    f"  {now - t0:5.0f} s: sampled {taken:,}, stored {stored:,} of {total:,};"
                    f" {brief(memory.look(stored))}"
                )
            time.sleep(0.5)
        stored_s = time.monotonic() - t0
        log(f"every sample stored after {stored_s:.1f} s; waiting for the rollups ...")
        missing, wrong = rollup_gaps(db, expected, lo, hi)
        # Rollups that stay missing or wrong while the collector has nothing left to roll up
        # would wait for the deadline: three idle rounds are enough to say so.
        settle_s = 3 * args.rollup_every + 5
        idle_since: float | None = None
        while (missing or wrong) and time.monotonic() < deadline:
            backlog = metrics(url).get("rollup_backlog", 0.0)
            backlog_peak = max(backlog_peak, backlog)
            idle_since = (idle_since or time.monotonic()) if backlog == 0 else None
            if idle_since is not None and time.monotonic() - idle_since > settle_s:
                log(
                    f"no rollup work left for {settle_s:.0f} s: {len(missing)} missing,"
                    f" {len(wrong)} with another samples_n than stored, e.g. {(missing + wrong)[:3]}"
                )
                break
            time.sleep(0.5)
            missing, wrong = rollup_gaps(db, expected, lo, hi)
        lag_s = time.monotonic() - t0 - stored_s
        rss_end = memory.look(count_rows(db, "telemetry"))
        figures = metrics(url)
        ids = sorted(p for p, _ in points)
        raw = replay.raw_per_hour(db, ids, lo, hi)
        rolled = replay.rollups_per_hour(db, ids, lo, hi)
        storing_s = stored_s - (first_row_s or 0.0)
        result |= {
            "stored": count_rows(db, "telemetry"),
            "lost": total - count_rows(db, "telemetry"),
            "wall_s": round(time.monotonic() - t0, 1),
            "sample_s": round(sampled_s or 0.0, 1),
            "stored_s": round(stored_s, 1),
            "samples_per_s_stored": round(total / storing_s) if storing_s > 0 else None,
            "samples_per_s_end_to_end": round(total / stored_s),
            "rollup_lag_s": round(lag_s, 1),
            "rollup_backlog_peak": int(backlog_peak),
            **{name: int(figures.get(name, -1)) for name in ROLLUP_GAUGES},
            "point_hours": len(expected),
            "missing_rollups": len(set(raw) - set(rolled)),
            "wrong_rollups": sum(1 for k in set(raw) & set(rolled) if raw[k] != rolled[k]),
            "rss_mb_start": rss_start,
            "rss_mb_end": rss_end,
            "rss_mb_per_replayed_hour": memory.growth_per_hour(
                int(args.warm_hours * per_hour), per_hour
            ),
        }
        result["ok"] = result["stored"] == total and raw == expected and rolled == expected
        log(
            f"stored {total / storing_s if storing_s > 0 else 0:,.0f} samples/s; rollups complete"
            f" {lag_s:.1f} s after the last sample; largest rollup read"
            f" {figures.get('rollup_largest_read_rows', -1):,.0f} rows;"
            f" {result['missing_rollups']} missing"
        )
        log(f"collector at start: {brief(rss_start)}")
        log(
            f"collector at end:   {brief(rss_end)}; after {args.warm_hours:g} h of warm-up"
            f" {result['rss_mb_per_replayed_hour']} MB per replayed hour"
        )
    finally:
        if run is not None:
            run.stop()
        if collector is not None:
            collector.stop()
        broker.stop()
        database.stop()
        if args.keep or not result.get("ok"):
            log(f"data and logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)  # a run leaves hundreds of MB behind
    print(json.dumps(result))
    return 0 if result.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
