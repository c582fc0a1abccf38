"""`pantau demo`: start a broker and a database, run a collector and agents, then play a month.

1. Live: a real `pantau agent` reads this host and another runs simulated points, both into the
   real broker, collector and InfluxDB, for a short while; a table shows what landed per point.
2. The Cilegon month: 430 simulated points replay a month (through the agent's sampler, spool
   and MQTT publisher, into the same collector), hourly rollups follow, and the SLA report is
   printed and written as HTML.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import multiprocessing
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pantau.collector import services
from pantau.collector.config import InfluxConfig
from pantau.collector.demo import scenario
from pantau.collector.influx import Influx
from pantau.collector.registry_cli import dump, generate, read_kelurahan_csv
from pantau.collector.security.secure_broker import SecureBroker, prepare_secure_broker
from pantau.shared.registry import load_registry

log = logging.getLogger(__name__)
CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "cilegon_kelurahan.csv"
PANTAU = [sys.executable, "-m", "pantau.shared.cli"]
DATABASE = "pantau"
DRAIN_WAVE = 24  # points draining their replayed month at once, per worker


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="out/demo", help="folder for data, logs and the report")
    parser.add_argument("--month", default=None, help="YYYY-MM to play (default: last month)")
    parser.add_argument("--live-seconds", type=float, default=20.0, help="length of the live run")
    parser.add_argument(
        "--kelurahan", type=int, default=43, help="how many kelurahan of Cilegon (10 points each)"
    )
    parser.add_argument("--days", type=int, default=None, help="play only the first N days")
    parser.add_argument(
        "--interval", type=float, default=3600.0, help="sampling interval in the played month (s)"
    )
    parser.add_argument("--lang", choices=["id", "en"], default="id")
    parser.add_argument("--keep", action="store_true", help="keep broker and InfluxDB running")


def run(args: argparse.Namespace) -> int:
    console = Console()
    out = Path(args.out).resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    month = args.month or _last_month()
    console.rule(f"[bold]Pantau demo: Kota Cilegon, {month}")
    registry_path = _registry(out, args.kelurahan)
    registry = load_registry(registry_path)
    console.print("issuing a CA, the broker certificate and per-agent credentials ...")
    secure = prepare_secure_broker(out / "security", registry_path)
    broker = secure.service
    database = services.influxd(out / "influxd")
    started = time.monotonic()
    collector = None
    try:
        console.print("starting mosquitto and influxd on free loopback ports ...")
        broker.start()
        database.start()
        console.print(
            f"  mosquitto with TLS on 127.0.0.1:{secure.cert_port} (client certificates) and"
            f" :{secure.password_port} (passwords), no anonymous access, an ACL per point;"
            f" influxd {database.url}; data in {out}"
        )
        collector_mqtt = secure.collector_mqtt("cert") | {"client_id": "pantau-demo-collector"}
        collector_yaml = _collector_config(out, collector_mqtt, database.url, registry_path)
        collector = _start(["collector", "--config", str(collector_yaml)], out / "collector.log")
        _wait_for_log(out / "collector.log", "subscribed", 30)
        db = Influx(InfluxConfig(url=database.url, database=DATABASE))

        live_points = [p.id for p in registry.points[:6]]
        _live(console, out, secure, db, live_points, args.live_seconds)

        points = [(p.id, p.kelurahan) for p in registry.points]
        agent_mqtt = secure.agent_mqtt("password")
        taken = _month(console, out, agent_mqtt, db, month, points, args.days, args.interval)
        collector.send_signal(15)  # a clean stop computes the last rollups
        collector.wait(300)
        collector = None
        console.print(f"  {taken} samples of the month stored; hourly rollups up to date")
        _report(console, out, collector_yaml, month, args.lang)
        console.print(f"demo finished in {time.monotonic() - started:.0f} s")
    finally:
        if collector is not None:
            collector.terminate()
            collector.wait(30)
        if not args.keep:
            broker.stop()
            database.stop()
        else:
            console.print(f"broker 127.0.0.1:{broker.port} and {database.url} keep running")
    return 0


def _last_month() -> str:
    first = dt.date.today().replace(day=1) - dt.timedelta(days=1)
    return f"{first.year:04d}-{first.month:02d}"


def _registry(out: Path, kelurahan: int) -> Path:
    rows = read_kelurahan_csv(CSV)[:kelurahan]
    data = generate(rows, 10, "Awinet", contract_from=dt.date(2024, 1, 1))
    path = out / "registry.yaml"
    path.write_text(dump(data, CSV.name))
    return path


def _collector_config(out: Path, mqtt: dict[str, Any], url: str, registry: Path) -> Path:
    config = {
        "mqtt": mqtt,
        "influx": {"api": "v1", "url": url, "database": DATABASE},
        "registry": str(registry),
        "state_dir": str(out / "collector-state"),
        # A replayed month touches every hour at once: recompute them once, at the clean stop,
        # rather than again and again while the month streams in.
        "rollup": {"every_s": 3600},
        "limits": {"max_age_s": 400 * 86_400},  # the played month is older than the spool horizon
    }
    path = out / "collector.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _start(args: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as stream:
        return subprocess.Popen(PANTAU + args, stdout=stream, stderr=subprocess.STDOUT)


def _wait_for_log(path: Path, text: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{path.name}: no {text!r} within {timeout_s}s: {path.read_text()[-500:]}")


# -- 1. live ---------------------------------------------------------------------------------
def _wan_interface() -> str:
    """The interface of the default route, or loopback on a machine without one."""
    try:
        for line in Path("/proc/net/route").read_text().splitlines()[1:]:
            fields = line.split()
            if len(fields) > 2 and fields[1] == "00000000":
                return fields[0]
    except OSError:
        pass
    return "lo"


def _live(
    console: Console, out: Path, secure: SecureBroker, db: Influx, points: list[str], seconds: float
) -> None:
    console.rule("1. live: this host and simulated points, through the real pipeline")
    host, simulated = points[0], points[1:]
    wan = _wan_interface()
    host_config = {
        "interval_s": 2,
        "state_dir": str(out / "agent-host"),
        "mqtt": secure.agent_mqtt("password"),
        "points": [
            {
                "id": host,
                "source": {
                    "kind": "linux",
                    "wan_interface": wan,
                    "clients": {"kind": "neighbours", "interface": wan},
                },
                "probes": {
                    "targets": [{"kind": "tcp", "host": "127.0.0.1", "port": secure.cert_port}]
                },
            }
        ],
    }
    sim_config = {
        "interval_s": 2,
        "state_dir": str(out / "agent-sim"),
        "mqtt": secure.agent_mqtt("cert"),
        "points": [
            {"id": p, "source": {"kind": "simulated", "seed": i, "peak_clients": 40}}
            for i, p in enumerate(simulated)
        ],
    }
    agents = []
    for name, config in (("agent-host", host_config), ("agent-sim", sim_config)):
        path = out / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        agents.append(_start(["agent", "--config", str(path)], out / f"{name}.log"))
    console.print(
        f"  agent reading this host ({wan}) as {host} (password over TLS);"
        f" simulated, with client certificates: {', '.join(simulated)}"
    )
    since_ms = int(time.time() * 1000)
    with Progress(TextColumn("  live"), BarColumn(), TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("live", total=seconds)
        for _ in range(int(seconds * 10)):
            time.sleep(0.1)
            bar.advance(task, 0.1)
    for agent in agents:
        agent.send_signal(15)
    for agent in agents:
        agent.wait(30)
    expected = sum(_spool_taken(out / name) for name in ("agent-host", "agent-sim"))
    _wait_rows(db, f"time >= {since_ms}ms", expected, 60)
    console.print(_live_table(db, since_ms))


def _live_table(db: Influx, since_ms: int) -> Table:
    rows = db.query(
        'SELECT "rx_bps", "tx_bps", "clients_assoc", "clients_hotspot", "clients_dhcp", "wan_up"'
        f' FROM "telemetry" WHERE time >= {since_ms}ms GROUP BY "point", "kelurahan"'
    )
    per: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        per[(row["point"], row["kelurahan"])].append(row)
    table = Table(title="What landed in InfluxDB, per point")
    for column in ("point", "kelurahan", "samples", "rx Mbps", "tx Mbps", "clients", "wan up"):
        table.add_column(column, justify="left" if column in ("point", "kelurahan") else "right")
    for (point, kelurahan), samples in sorted(per.items()):
        table.add_row(
            point,
            kelurahan,
            str(len(samples)),
            _mean_mbps(samples, "rx_bps"),
            _mean_mbps(samples, "tx_bps"),
            _mean_clients(samples),
            _share(samples),
        )
    return table


def _mean_mbps(samples: list[dict[str, Any]], field: str) -> str:
    values = [s[field] for s in samples if s.get(field) is not None]
    return f"{sum(values) / len(values) / 1e6:.2f}" if values else "–"


def _mean_clients(samples: list[dict[str, Any]]) -> str:
    values = []
    for s in samples:
        counts = [s.get(k) for k in ("clients_assoc", "clients_hotspot", "clients_dhcp")]
        counts = [c for c in counts if c is not None]
        if counts:
            values.append(max(counts))
    return f"{sum(values) / len(values):.1f}" if values else "–"


def _share(samples: list[dict[str, Any]]) -> str:
    known = [s["wan_up"] for s in samples if s.get("wan_up") is not None]
    return f"{100 * sum(known) / len(known):.0f} %" if known else "–"


# -- 2. the month ------------------------------------------------------------------------------
def _month(
    console: Console,
    out: Path,
    mqtt: dict[str, Any],
    db: Influx,
    month: str,
    points: list[tuple[str, str]],
    days: int | None,
    interval_s: float,
) -> int:
    start, end = scenario.month_bounds(month)
    if days is not None:
        end = min(end, start + dt.timedelta(days=days))
    console.rule(f"2. the month: {len(points)} points, {start:%d %b} to {end:%d %b %Y} WIB")
    plan = scenario.build(points, month)
    console.print(
        f"  outages at {sum(1 for p in plan if p.wan_down)} points, "
        f"{sum(1 for p in plan if p.device_down)} routers unreachable for days, "
        f"{scenario.CONGESTED_KELURAHAN} congested at peak (about 20 Mbps)"
    )
    workers = max(1, min(2, os.cpu_count() or 1))
    ticks = int((end - start).total_seconds() // interval_s)
    total = ticks * len(points)
    shares = [plan[i::workers] for i in range(workers)]
    context = multiprocessing.get_context("fork")
    procs = []
    for index, share in enumerate(shares):
        state = out / f"month-agent-{index}"
        procs.append(
            context.Process(
                target=_replay_worker,
                args=(
                    state,
                    mqtt,
                    [(p.point, p.source()) for p in share],
                    start.timestamp(),
                    ticks,
                    interval_s,
                ),
            )
        )
    for proc in procs:
        proc.start()
    states = [out / f"month-agent-{i}" for i in range(workers)]
    with Progress(
        TextColumn("  {task.description:<22}"),
        BarColumn(),
        TextColumn("{task.completed:>9,.0f}/{task.total:,.0f}"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        sampled = bar.add_task("sampled and spooled", total=total)
        published = bar.add_task("acknowledged by broker", total=total)
        stored = bar.add_task("stored in InfluxDB", total=total)
        where = (
            f"time >= {int(start.timestamp() * 1000)}ms AND time < {int(end.timestamp() * 1000)}ms"
        )
        rows = 0
        said = time.monotonic()
        while rows < total:
            taken, waiting = _spool_progress(states)
            bar.update(sampled, completed=taken)
            bar.update(published, completed=taken - waiting)
            rows = _count(db, where)
            bar.update(stored, completed=rows)
            if not console.is_terminal and time.monotonic() - said >= 15:
                said = time.monotonic()  # a log file gets a line now and then instead of bars
                console.print(
                    f"  sampled {taken:,}, acknowledged {taken - waiting:,}, stored {rows:,} of {total:,}"
                )
            if all(not p.is_alive() for p in procs) and any(p.exitcode for p in procs):
                raise RuntimeError("a month replay worker failed; see the logs in " + str(out))
            time.sleep(1)
    for proc in procs:
        proc.join(60)
    return total


def _replay_worker(
    state: Path,
    mqtt: dict[str, Any],
    points: list[tuple[str, dict[str, Any]]],
    start_s: float,
    ticks: int,
    interval_s: float,
) -> None:
    """Sample every point at every tick of the month, then publish the spool to the broker."""
    from pantau.agent.clock import SteppingClock
    from pantau.agent.config import MqttConfig, PointConfig, PublishConfig
    from pantau.agent.publisher import PointPublisher
    from pantau.agent.run import PointSampler
    from pantau.agent.spool import Spool

    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    state.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(filename=str(state) + ".log", level=logging.INFO, force=True)
    clock = SteppingClock(start_s)
    spool = Spool(state / "spool.sqlite", max_samples_per_point=10**6, sync="normal")
    boot = f"demo-{state.name}"
    samplers = []
    for point, source in points:
        config = PointConfig.model_validate({"id": point, "source": source})
        samplers.append(
            PointSampler(
                config, interval_s, config.source.build(point, clock), spool, None, clock, boot
            )
        )
    end_s = start_s + ticks * interval_s
    tests: dict[int, list[tuple[PointSampler, float]]] = defaultdict(list)
    for sampler in samplers:
        moments = scenario.capacity_plan(
            sampler.point,
            dt.datetime.fromtimestamp(start_s, scenario.WIB),
            dt.datetime.fromtimestamp(end_s, scenario.WIB),
        )
        for moment in moments:
            tests[int((moment - start_s) // interval_s)].append((sampler, moment))
    for k in range(ticks):
        clock.set(start_s + k * interval_s)
        with spool.transaction():  # one commit per tick of the replay
            for sampler in samplers:
                sampler.sample_once()
            for sampler, moment in tests.get(k, []):
                clock.set(moment)
                _speed_test(sampler, moment)
                clock.set(start_s + k * interval_s)
    # The month is in the spool: now the publishers drain it, as after a long outage.
    mqtt_config = MqttConfig.model_validate(mqtt)
    publish = PublishConfig(batch_max=2000, inflight_max=4, drain_msgs_per_s=1000)
    names = [p for p, _ in points]
    for first in range(0, len(names), DRAIN_WAVE):
        # A few points at a time: hundreds of publishers on one spool would mostly wait for it.
        wave = [
            PointPublisher(p, boot, "simulated", spool, mqtt_config.for_point(p), publish)
            for p in names[first : first + DRAIN_WAVE]
        ]
        for publisher in wave:
            publisher.start()
        while any(spool.has_after(p.point, 0) for p in wave):
            for publisher in wave:
                publisher.notify()
            time.sleep(0.1)
        for publisher in wave:
            publisher.stop()
    spool.close()


def _speed_test(sampler: Any, moment: float) -> None:
    """The simulated link answers a speed test with what it can deliver at that moment."""
    from pantau.agent.capacity.result import Measurement
    from pantau.agent.sources.simulated import in_peak

    source = sampler.source
    t = moment
    if source.wan_is_down(t) or any(w.contains(t) for w in source.config.device_down):
        return  # the test fails: no result, the outage already shows in the samples
    rng = random.Random(f"{sampler.point}:{t}")
    down = source.capacity_mbps(t) * rng.uniform(0.86, 1.03)
    up = min(source.capacity_mbps(t), 30.0) * rng.uniform(0.9, 1.02)
    measurement = Measurement(
        method="simulated",
        server="demo",
        streams=4,
        duration_s=10.0,
        down_mbps=down,
        up_mbps=up,
        rtt_ms=source.config.rtt_ms,
        down_bytes=int(down * 1e6 / 8 * 10),
        up_bytes=int(up * 1e6 / 8 * 10),
    )
    data = measurement.data(None, in_peak(t), "scheduled")
    sampler.record_event("capacity", int(t * 1000), measurement.summary(), data)


def _spool_taken(state: Path) -> int:
    db = sqlite3.connect(state / "spool.sqlite")
    try:
        return db.execute("SELECT COALESCE(SUM(next_seq), 0) FROM points").fetchone()[0]
    finally:
        db.close()


def _spool_progress(states: list[Path]) -> tuple[int, int]:
    taken = waiting = 0
    for state in states:
        path = state / "spool.sqlite"
        if not path.exists():
            continue
        try:
            db = sqlite3.connect(path, timeout=1)
            taken += db.execute("SELECT COALESCE(SUM(next_seq), 0) FROM points").fetchone()[0]
            waiting += db.execute("SELECT COALESCE(SUM(held), 0) FROM points").fetchone()[0]
            db.close()
        except sqlite3.Error:
            pass
    return taken, waiting


def _count(db: Influx, where: str) -> int:
    try:
        rows = db.query(f'SELECT COUNT("seq") FROM "telemetry" WHERE {where}')
    except Exception:  # the database may not exist yet
        return 0
    return int(rows[0]["count"]) if rows else 0


def _wait_rows(db: Influx, where: str, expected: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while _count(db, where) < expected and time.monotonic() < deadline:
        time.sleep(0.2)


# -- 3. the report -----------------------------------------------------------------------------
def _report(console: Console, out: Path, collector_yaml: Path, month: str, lang: str) -> None:
    console.rule(f"3. the SLA report for {month}")
    base = ["report", "--config", str(collector_yaml), "--month", month, "--lang", lang]
    subprocess.run(PANTAU + base + ["--format", "table"], check=True)
    html = out / f"pantau-report-{month}.html"
    subprocess.run(PANTAU + base + ["--format", "html", "--out", str(html)], check=True)
    report_json = out / f"pantau-report-{month}.json"
    subprocess.run(PANTAU + base + ["--format", "json", "--out", str(report_json)], check=True)
    summary = json.loads(report_json.read_text())
    console.print(f"HTML report: {html}")
    console.print(f"JSON report: {report_json} ({len(json.dumps(summary)) // 1024} KiB)")
