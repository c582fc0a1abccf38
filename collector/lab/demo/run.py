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
import logging
import os
import shutil
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

from pantau.agent.spool import read_progress
from pantau.collector.admin.registry_cli import dump, generate, read_kelurahan_csv
from pantau.collector.influxdb.client import Influx
from pantau.collector.influxdb.config import InfluxConfig
from pantau.collector.lab import services
from pantau.collector.lab.demo import replay, scenario, stop
from pantau.collector.lab.secure_broker import SecureBroker, prepare_secure_broker
from pantau.shared.registry import Registry, load_registry

log = logging.getLogger(__name__)
CSV = Path(__file__).resolve().parents[3] / "shared" / "data" / "cilegon_kelurahan.csv"
PANTAU = [sys.executable, "-m", "pantau.shared.cli"]
DATABASE = "pantau"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="out/demo", help="folder for data, logs and the report")
    parser.add_argument("--month", default=None, help="YYYY-MM to play (default: last month)")
    parser.add_argument("--live-seconds", type=float, default=20.0, help="length of the live run")
    parser.add_argument(
        "--kelurahan-count",
        type=int,
        default=43,
        help="how many kelurahan of Cilegon to play (10 points each)",
    )
    parser.add_argument(  # the old spelling; `--kelurahan` names one kelurahan everywhere else
        "--kelurahan", type=int, dest="kelurahan_count_old", help=argparse.SUPPRESS
    )
    parser.add_argument("--days", type=int, default=None, help="play only the first N days")
    parser.add_argument(
        "--interval", type=float, default=3600.0, help="sampling interval in the played month (s)"
    )
    parser.add_argument(
        "--fine-hours",
        type=float,
        default=2.0,
        help="the last hours of the played span come at --fine-interval (the agents' real one)",
    )
    parser.add_argument(
        "--fine-interval", type=float, default=10.0, help="sampling interval of those hours (s)"
    )
    parser.add_argument("--lang", choices=["id", "en"], default="id")
    parser.add_argument("--keep", action="store_true", help="keep broker and InfluxDB running")


def run(args: argparse.Namespace) -> int:
    """The demo; a Ctrl-C or SIGTERM stops it and everything it started within seconds."""
    console = Console()
    with stop.interruptible():
        try:
            return _play(console, args)
        except stop.Interrupted as exc:
            stopped = sorted(set(stop.stop_descendants()))
            what = f"and with it {', '.join(stopped)}" if stopped else "before it started any"
            console.print(f"demo stopped ({exc}), {what}")
            return 128 + exc.signum


def _play(console: Console, args: argparse.Namespace) -> int:
    out = Path(args.out).resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    month = args.month or _last_month()
    console.rule(f"[bold]Pantau demo: Kota Cilegon, {month}")
    count, old_spelling = kelurahan_count(args)
    if old_spelling:
        console.print("[yellow]--kelurahan N is now --kelurahan-count N (the old spelling goes)")
    registry_path = _registry(out, count)
    registry = load_registry(registry_path)
    console.print("issuing a CA, the broker certificate and per-agent credentials ...")
    secure = prepare_secure_broker(out / "security", registry_path)
    broker = secure.service
    database = services.influxd(out / "influxd", auth=True)
    started = time.monotonic()
    collector = None
    try:
        console.print("starting mosquitto and influxd on free loopback ports ...")
        broker.start()
        database.start()
        database.grant(DATABASE)
        assert database.auth is not None
        console.print(
            f"  mosquitto with TLS on 127.0.0.1:{secure.cert_port} (client certificates) and"
            f" :{secure.password_port} (passwords), no anonymous access, an ACL per point;"
            f" influxd {database.url} (a writer for the collector, a reader for the rest);"
            f" data in {out}"
        )
        collector_mqtt = secure.collector_mqtt("cert") | {"client_id": "pantau-demo-collector"}
        collector_yaml = _collector_config(
            out, collector_mqtt, database.auth.writer.section(database.url, DATABASE), registry_path
        )
        collector = _start(["collector", "--config", str(collector_yaml)], out / "collector.log")
        _wait_for_log(out / "collector.log", "subscribed", 30)
        db = Influx(InfluxConfig(**database.auth.reader.section(database.url, DATABASE)))

        live_points = [p.id for p in registry.points[:6]]
        _live(console, out, secure, db, live_points, args.live_seconds)

        points = [(p.id, p.kelurahan) for p in registry.points]
        agent_mqtt = secure.agent_mqtt("password")
        fine = (args.fine_hours, args.fine_interval)
        segments = _month(
            console, out, agent_mqtt, db, month, points, args.days, args.interval, fine
        )
        collector.send_signal(15)  # a clean stop computes the waiting rollups
        collector.wait(1900)
        collector = None
        taken = replay.samples_per_point(segments) * len(points)
        console.print(f"  {taken} samples of the month stored")
        rolled_up = _rollups(console, db, [p for p, _ in points], segments)
        _report(console, out, registry, db, month, args.lang)
        console.print(f"demo finished in {time.monotonic() - started:.0f} s")
    except stop.Interrupted:
        raise  # run() stops every process at once: no time for one polite stop after another
    except BaseException:
        _shut(console, collector, broker, database, args.keep)
        raise
    _shut(console, collector, broker, database, args.keep)
    return 0 if rolled_up else 1


def _shut(
    console: Console,
    collector: subprocess.Popen[bytes] | None,
    broker: services.Service,
    database: services.Service,
    keep: bool,
) -> None:
    """The polite stop, after the demo ran or failed: the collector, then broker and database
    unless they are to keep running."""
    if collector is not None:
        collector.terminate()
        collector.wait(30)
    if not keep:
        broker.stop()
        database.stop()
    else:
        console.print(f"broker 127.0.0.1:{broker.port} and {database.url} keep running")


def kelurahan_count(args: argparse.Namespace) -> tuple[int, bool]:
    """How many kelurahan to play, and whether the old spelling `--kelurahan N` said so."""
    if args.kelurahan_count_old is not None:
        return args.kelurahan_count_old, True
    return args.kelurahan_count, False


def _last_month() -> str:
    first = dt.date.today().replace(day=1) - dt.timedelta(days=1)
    return f"{first.year:04d}-{first.month:02d}"


def _registry(out: Path, kelurahan: int) -> Path:
    rows = read_kelurahan_csv(CSV)[:kelurahan]
    data = generate(rows, 10, "Awinet", contract_from=dt.date(2024, 1, 1))
    path = out / "registry.yaml"
    path.write_text(dump(data, CSV.name))
    return path


def _collector_config(
    out: Path, mqtt: dict[str, Any], influx: dict[str, str], registry: Path
) -> Path:
    config = {
        "mqtt": mqtt,
        "influx": influx,
        "registry": str(registry),
        "state_dir": str(out / "collector-state"),
        # A replayed month touches every hour at once: recompute them once, at the clean stop,
        # rather than again and again while the month streams in; the stop waits for all.
        "rollup": {"every_s": 3600, "drain_on_stop_s": 1800},
        "limits": {"max_age_s": 400 * 86_400},  # the played month is older than the spool horizon
    }
    path = out / "collector.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _start(args: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    """A pantau command in a session of its own: a terminal's Ctrl-C is for the demo, which
    then stops it (collector and agents would each begin a long clean stop of their own)."""
    with log_path.open("ab") as stream:
        return subprocess.Popen(
            PANTAU + args, stdout=stream, stderr=subprocess.STDOUT, start_new_session=True
        )


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
    fine: tuple[float, float],
) -> list[replay.Segment]:
    """Replay the month and wait until InfluxDB holds every sample; return what was played."""
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
    fine_hours, fine_interval_s = fine
    segments = replay.plan_segments(
        start.timestamp(), end.timestamp(), interval_s, fine_interval_s, fine_hours * 3600
    )
    for segment in segments:
        console.print(
            f"  {segment.ticks:,} samples per point every {segment.interval_s:g} s from"
            f" {dt.datetime.fromtimestamp(segment.start_s, scenario.WIB):%d %b %H:%M} WIB"
        )
    total = replay.samples_per_point(segments) * len(points)
    workers = max(1, min(2, os.cpu_count() or 1))
    run = replay.start(
        out, mqtt, [(p.point, p.source()) for p in plan], segments, workers, speed_tests=True
    )
    try:
        _follow(console, run, db, start, end, total)
    finally:
        run.stop()
    return segments


def _follow(
    console: Console,
    run: replay.Replay,
    db: Influx,
    start: dt.datetime,
    end: dt.datetime,
    total: int,
) -> None:
    """Progress bars until every sample is in InfluxDB; a failed replay worker stops the demo."""
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
            taken, waiting = run.progress()
            bar.update(sampled, completed=taken)
            bar.update(published, completed=taken - waiting)
            rows = _count(db, where)
            bar.update(stored, completed=rows)
            if not console.is_terminal and time.monotonic() - said >= 15:
                said = time.monotonic()  # a log file gets a line now and then instead of bars
                console.print(
                    f"  sampled {taken:,}, acknowledged {taken - waiting:,}, stored {rows:,} of {total:,}"
                )
            if run.failed():
                raise RuntimeError("a month replay worker failed; see the logs in the out folder")
            time.sleep(1)
        run.join(60)  # a worker ends once its spool holds nothing unacknowledged
        taken, waiting = run.progress()
        bar.update(sampled, completed=taken)
        bar.update(published, completed=taken - waiting)


def _rollups(
    console: Console, db: Influx, points: list[str], segments: list[replay.Segment]
) -> bool:
    """Every played (point, hour) has its rollup, holding exactly the samples stored; say so."""
    start_ms = int(segments[0].start_s * 1000)
    end_ms = int(segments[-1].end_s * 1000)
    raw = replay.raw_per_hour(db, points, start_ms, end_ms)
    rolled = replay.rollups_per_hour(db, points, start_ms, end_ms)
    missing = sorted(set(raw) - set(rolled))
    wrong = sorted(k for k in set(raw) & set(rolled) if raw[k] != rolled[k])
    fine = [s for s in segments if s.interval_s < 60]
    fine_ms = int(fine[0].start_s * 1000) if fine else end_ms
    fine_pairs = [k for k in rolled if k[1] >= fine_ms]
    console.print(
        f"  hourly rollups: {len(rolled):,} point-hours holding {sum(rolled.values()):,} samples"
    )
    if fine:
        console.print(
            f"  at {fine[0].interval_s:g}-s samples: {len(fine_pairs):,} point-hours holding"
            f" {sum(rolled[k] for k in fine_pairs):,} samples"
        )
    if missing or wrong:
        console.print(
            f"[bold red]  {len(missing):,} point-hours without their rollup (first {missing[:3]}),"
            f" {len(wrong):,} with a wrong sample count (first {wrong[:3]})"
        )
        return False
    console.print("  every point-hour with samples has its rollup, with exactly its samples")
    return True


def _spool_taken(state: Path) -> int:
    return sum(p.taken for p in read_progress(state / "spool.sqlite").values())


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
def _report(
    console: Console, out: Path, registry: Registry, db: Influx, month: str, lang: str
) -> None:
    """One read of the month, three renderings: the table here, HTML and JSON beside it (what
    `pantau report` gives in each format)."""
    from pantau.collector.report.cli import compute, render
    from pantau.collector.report.compute import Filters
    from pantau.collector.report.reader import InfluxSource

    console.rule(f"3. the SLA report for {month}")
    report = compute(registry, InfluxSource(db), month, Filters())
    sys.stdout.write(render(report, "table", lang))
    sys.stdout.flush()
    html = out / f"pantau-report-{month}.html"
    html.write_text(render(report, "html", lang), encoding="utf-8")
    report_json = out / f"pantau-report-{month}.json"
    report_json.write_text(render(report, "json", lang), encoding="utf-8")
    console.print(f"HTML report: {html}")
    console.print(f"JSON report: {report_json} ({report_json.stat().st_size // 1024} KiB)")
