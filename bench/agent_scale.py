"""One `pantau agent` process serving many points end to end: polled, spooled, published, stored.

A real mosquitto, a real `pantau collector` and a real influxd on loopback; the points are
simulated (`--source simulated`), this host (`--source linux`, one point) or RouterOS routers
served by `pantau routeros-sim` in separate processes (`--source routeros`), sampled every
`--interval` seconds of real time, with the spool's default durability. It prints the points
connected (each its own MQTT session, counted in the broker's log), samples taken and stored
(`lost` must be 0, `doubled` too), the sessions the broker dropped for a missed keepalive and
the reconnects (both 0 while the network thread keeps up, also through a catch-up), the agent's
threads, open files and RSS once every point is connected and again after `--minutes`, its RSS at every whole minute between and the slope of
those over the second half of the run (MB a minute: flat is about 0), and the import cost of each of the agent's dependencies
(`python -X importtime`), the RSS target of the run's shape where the issue sets one, and any
heavy library (pydantic, YAML) mapped into the running agent: none, since the config is checked
in a short-lived child (agent/settings.py). Last line: one JSON object.

`--signed` gives every point a signing key (as the Ansible agent role deploys one), so every
message is signed and chained (agent/signing.py, libsodium), and the collector checks each one
against the keys file. `--capacity` gives every point the speed-test and burst sections of
examples/agent-capacity.yaml (HTTP method, second server for retests, ping bursts from the agent
host): the workers, their schedule and their code are loaded as in the field, but the first test
is due hours after start (a run of speed tests would measure the test, not the agent's memory);
the ping bursts do run, every 60 s.

`--collector-away-minutes M` stops the collector (SIGTERM) `--collector-away-after` minutes into
the run and starts it again M minutes later: the broker still takes every message (its queue for
the collector's persistent session), but no receipt comes, so each point keeps up to its receipt
window of messages awaiting one. It prints the agent's RSS when the outage begins, when it ends
and once every sample taken during it has its receipt (caught up); lost and doubled still count
every sample of the whole run.

    .venv/bin/python bench/agent_scale.py [--source simulated|linux|routeros] [--points 1000]
        [--minutes 10] [--interval 10] [--signed] [--capacity]
        [--collector-away-minutes 5 [--collector-away-after 1]]
"""

from __future__ import annotations

import argparse
import json
import os
import re
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

from bench.routeros_poll import PASSWORD_ENV, start_simulators  # noqa: E402
from pantau.collector.lab import services  # noqa: E402
from tests.pipeline import (  # noqa: E402
    Proc,
    agent_config,
    collector_config,
    influx,
    registry_file,
    spooled_before,
    start_agent,
    start_collector,
    stored_seqs,
    taken_samples,
    wait_for,
)

RSS_TARGET_MB = {"linux": 30.0, "routeros-10": 35.0, "routeros-500": 80.0}


def target_mb(source: str, points: int) -> float | None:
    """The issue's RSS target for this run's shape, if it has one."""
    return RSS_TARGET_MB.get(source if source == "linux" else f"{source}-{points}")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


DEPENDENCIES = (
    "paho.mqtt.client",
    "psutil",  # the bench's; the agent reads /proc itself (agent/sources/linux_parse.py)
    "ssl",
    "sqlite3",
    "librouteros",
    "pydantic",  # the config check (a child at start) only
    "yaml",  # the config check only
)
# The running agent (cli), what signing agents add (signing), the config check in its child
# (config), the collector's wire models (wire).
AGENT = (
    "pantau.agent.cli",
    "pantau.agent.signing",  # what signing agents add
    "pantau.collector.archive.signing",  # the collector's side (cryptography), for comparison
    "pantau.agent.capacity.worker",  # what agents with speed tests add
    "pantau.agent.config",
    "pantau.shared.wire",
)
# Libraries whose shared objects a running agent must not map: pydantic-core's, PyYAML's and
# cryptography's Rust extension (the agent signs with libsodium).
HEAVY = ("pydantic", "_yaml", "cryptography")


def import_cost(module: str) -> tuple[float, float]:
    """(ms, MB of RSS) that importing `module` alone adds to a bare interpreter: the
    cumulative time `python -X importtime` reports for it, and VmRSS after minus before."""
    code = (
        "import re\n"
        "def rss(): return int(re.search(r'VmRSS:\\s+(\\d+)', open('/proc/self/status').read())[1])\n"
        f"before = rss()\nimport {module}\nprint((rss() - before) / 1024)"
    )
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True
    )
    cumulative_us = 0
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S+)$", line)
        if match and match.group(2) == module.split(".")[0]:
            cumulative_us = max(cumulative_us, int(match.group(1)))
        if match and match.group(2) == module:
            cumulative_us = max(cumulative_us, int(match.group(1)))
    return round(cumulative_us / 1000, 1), round(float(done.stdout), 1)


def import_costs() -> dict[str, dict[str, float]]:
    return {
        m: dict(zip(("ms", "rss_mb"), import_cost(m), strict=True)) for m in (*DEPENDENCIES, *AGENT)
    }


def points_for(args: argparse.Namespace, work: Path) -> tuple[list[dict[str, Any]], list[Any]]:
    if args.source == "simulated":
        points = [
            {"id": f"skala-{i:04d}", "source": {"kind": "simulated", "fixed_rx_bps": 2e6}}
            for i in range(1, args.points + 1)
        ]
        return points, []
    if args.source == "linux":
        return [{"id": "skala-0001", "source": {"kind": "linux", "wan_interface": "lo"}}], []
    shares = [args.points // 2 + (i < args.points % 2) for i in range(2)]
    sims, points = [], []
    for index, share in enumerate(s for s in shares if s):
        ports = work / f"ports-{index}.json"
        sims.append(start_simulators(share, None, ports))
        listing = json.loads(ports.read_text())
        for router in listing["routers"]:
            points.append(
                {
                    "id": f"skala-{len(points) + 1:04d}",
                    "source": {
                        "kind": "routeros",
                        "host": listing["host"],
                        "port": router["port"],
                        "password_env": PASSWORD_ENV,
                        "ping_targets": ["1.1.1.1"],
                        "timeout_s": 5.0,
                    },
                }
            )
    return points, sims


def heavy_mapped(pid: int) -> list[str]:
    """The heavy libraries mapped into the agent process: none, as long as it never imports
    pydantic or YAML (they live in the config check's child process)."""
    maps = Path(f"/proc/{pid}/maps").read_text().splitlines()
    files = {line.split()[-1] for line in maps if "/" in line}
    return sorted({h for h in HEAVY for f in files if h in f})


def signing_keys(work: Path, ids: list[str]) -> tuple[dict[str, Any], Path]:
    """A key per point, as `pantau pki issue` writes them, and the keys file the collector
    checks their signatures against (signing-keys.json's form)."""
    import base64

    from pantau.collector.archive import signing

    keys: dict[str, object] = {}
    for point in ids:
        key = signing.generate()
        signing.save_private_key(work / "keys" / point / "signing.key", key)
        kid = signing.key_id(key.public_key())
        keys[kid] = {
            "key_id": kid,
            "name": point,
            "role": "agent",
            "public_key": base64.b64encode(signing.public_raw(key.public_key())).decode(),
            "status": "active",
            "created_at": "2026-01-01T00:00:00+00:00",
            "retired_at": None,
            "revoked_at": None,
        }
    keys_file = work / "keys" / "signing-keys.json"
    keys_file.write_text(json.dumps({"version": 1, "keys": keys}, indent=2) + "\n")
    publish = {"signing_key_file": str(work / "keys" / "{point}" / "signing.key")}
    return publish, keys_file


def with_capacity(points: list[dict[str, Any]]) -> None:
    """The speed-test and burst sections of examples/agent-capacity.yaml on every point, the
    first test due hours after start."""
    for point in points:
        point["capacity"] = {
            "method": {"kind": "http", "url": "http://127.0.0.1:9"},
            "schedule": {"first_after_s": 6 * 3600, "peak_tests_per_day": 0},
            "retest": {"server": "http://127.0.0.2:9"},
        }
        point["bursts"] = {"target": "127.0.0.1", "count": 5, "every_s": 60, "via": "agent"}


def snapshot(pid: int) -> dict[str, float]:
    process = psutil.Process(pid)
    return {
        "rss_mb": round(process.memory_info().rss / 2**20, 1),
        "threads": process.num_threads(),
        "open_fds": process.num_fds(),
        "cpu_s": round(sum(process.cpu_times()[:2]), 1),
    }


def late_slope(per_minute: list[float]) -> float | None:
    """MB per minute over the second half of the run (least squares): flat is about 0, and a
    warm-up in the first half does not count."""
    late = per_minute[len(per_minute) // 2 :]
    if len(late) < 2:
        return None
    xs = range(len(late))
    mean_x, mean_y = (len(late) - 1) / 2, sum(late) / len(late)
    covariance = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, late, strict=True))
    return round(covariance / sum((x - mean_x) ** 2 for x in xs), 3)


class Outage:
    """The collector away for a while mid-run: no receipts, the broker still up. Each call to
    `step` does what is due by now and returns when it wants to look again."""

    def __init__(
        self, begins_at: float, minutes: float, restart: Callable[[], Proc], state: Path, pid: int
    ) -> None:
        self.begins_at = begins_at
        self.ends_at = begins_at + minutes * 60
        self.restart = restart
        self.state = state
        self.pid = pid
        self.taken_at_end: dict[str, int] | None = None  # each point's next seq when it ended
        self.figures: dict[str, Any] = {"collector_away_minutes": minutes}

    @property
    def caught_up(self) -> bool:
        return "rss_mb_caught_up" in self.figures

    def step(self, collector: Proc) -> tuple[Proc, float | None]:
        """The collector to use from now on, and when to look again (None: nothing left)."""
        now = time.monotonic()
        if "rss_mb_outage_start" not in self.figures:
            if now < self.begins_at:
                return collector, self.begins_at
            self.figures["rss_mb_outage_start"] = snapshot(self.pid)["rss_mb"]
            collector.stop()
            log(f"  collector stopped: RSS {self.figures['rss_mb_outage_start']} MB")
            return collector, self.ends_at
        if self.taken_at_end is None:
            if now < self.ends_at:
                return collector, self.ends_at
            self.figures["rss_mb_outage_end"] = snapshot(self.pid)["rss_mb"]
            self.taken_at_end = taken_samples(self.state)
            collector = self.restart()
            self.ends_at = time.monotonic()
            log(f"  collector back: RSS {self.figures['rss_mb_outage_end']} MB before it")
            return collector, now + 2.0
        if self.caught_up:
            return collector, None
        if spooled_before(self.state, self.taken_at_end) == 0:
            self.figures["rss_mb_caught_up"] = snapshot(self.pid)["rss_mb"]
            self.figures["catch_up_s"] = round(time.monotonic() - self.ends_at, 1)
            log(
                f"  caught up in {self.figures['catch_up_s']} s:"
                f" RSS {self.figures['rss_mb_caught_up']} MB"
            )
            return collector, None
        return collector, now + 2.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", choices=("simulated", "linux", "routeros"), default="simulated")
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--imports-only", action="store_true", help="Only the import costs")
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--signed", action="store_true", help="Every point signs (a key each)")
    parser.add_argument(
        "--capacity", action="store_true", help="Speed tests and ping bursts configured"
    )
    parser.add_argument(
        "--collector-away-minutes",
        type=float,
        default=0.0,
        help="Stop the collector this long mid-run (no receipts, broker up)",
    )
    parser.add_argument(
        "--collector-away-after",
        type=float,
        default=1.0,
        help="Minutes into the run the collector stops (with --collector-away-minutes)",
    )
    args = parser.parse_args()
    if args.points < 1 or args.minutes <= 0:
        raise SystemExit("--points and --minutes must be positive")
    away = args.collector_away_minutes
    if away < 0 or (away and args.collector_away_after + away >= args.minutes):
        raise SystemExit("the collector's outage must end before --minutes")
    if args.imports_only:
        print(json.dumps({"imports": import_costs()}))
        return 0
    work = Path(tempfile.mkdtemp(prefix="pantau-agent-scale-"))
    broker = services.mosquitto(work / "mosquitto").start()
    database = services.influxd(work / "influxd").start()
    points, sims = points_for(args, work)
    ids = [p["id"] for p in points]
    if args.capacity:
        with_capacity(points)
    result: dict[str, Any] = {
        "source": args.source,
        "points": len(ids),
        "signed": args.signed,
        "capacity": args.capacity,
    }
    publish, keys_file = signing_keys(work, ids) if args.signed else ({}, None)
    checked = {"evidence": {"keys_file": str(keys_file)}} if keys_file else {}
    agent = collector = None
    try:
        registry = registry_file(work / "registry.yaml", ids)
        collector_yaml = collector_config(
            work / "collector.yaml", broker.port, database.url, "bench", registry, **checked
        )
        collector = start_collector(collector_yaml, work / "collector.log")
        extra = {"publish": publish} if publish else {}
        config = agent_config(
            work / "agent" / "agent.yaml", broker.port, points, interval_s=args.interval, **extra
        )
        state = work / "agent" / "agent-state"
        agent = start_agent(config, work / "agent.log", env={PASSWORD_ENV: "bench-router-pw"})
        agent.wait_log("room for", 120)
        assert agent.process is not None
        pid = agent.process.pid
        broker_log = broker.workdir / "mosquitto.log"

        known = set(ids)

        def connects() -> list[str]:
            """Each session the broker let in, one entry per connection."""
            found = re.findall(r"connected from \S+ as pantau-agent-(\S+) ", broker_log.read_text())
            return [point for point in found if point in known]

        def connected() -> set[str]:
            return set(connects())

        began = time.monotonic()
        wait_for(lambda: len(connected()) == len(ids), 300, "every point connected", 1.0)
        result["connect_all_s"] = round(time.monotonic() - began, 1)
        wait_for(lambda: sum(taken_samples(state).values()) >= len(ids), 120, "first samples")
        start = snapshot(pid)
        log(f"{len(ids)} points connected in {result['connect_all_s']} s: {start}")
        peak = start["rss_mb"]
        soak_began = time.monotonic()
        end_at = soak_began + args.minutes * 60
        per_minute: list[float] = []  # RSS at each whole minute of the run
        outage = (
            Outage(
                soak_began + args.collector_away_after * 60,
                away,
                lambda: start_collector(collector_yaml, work / "collector.log"),
                state,
                pid,
            )
            if away
            else None
        )
        outage_wake: float | None = None
        while time.monotonic() < end_at:
            if outage is not None:
                collector, outage_wake = outage.step(collector)
            next_minute = soak_began + 60 * (len(per_minute) + 1)
            wake_at = min(time.monotonic() + 30.0, end_at, next_minute, outage_wake or end_at)
            time.sleep(max(0.0, wake_at - time.monotonic()))
            now = snapshot(pid)
            peak = max(peak, now["rss_mb"])
            if time.monotonic() >= next_minute - 0.5:
                per_minute.append(now["rss_mb"])
                log(f"  minute {len(per_minute)}: {now}")
        end = snapshot(pid)
        taken = taken_samples(state)
        wait_for(lambda: spooled_before(state, taken) == 0, 300, "receipts for every sample")
        if outage is not None:
            if not outage.caught_up:
                outage.step(collector)  # caught up by now, at the latest
            result.update(outage.figures)
        db = influx(database.url, "bench")
        lost = doubled = 0
        for point in ids:
            seqs = stored_seqs(db, point)
            lost += len(set(range(taken.get(point, 0))) - set(seqs))
            doubled += len(seqs) - len(set(seqs))
        heavy = heavy_mapped(pid)
        agent_log = agent.log()
        result.update(
            {
                "points_connected": len(connected()),
                "interval_s": args.interval,
                "minutes": args.minutes,
                "samples_taken": sum(taken.values()),
                "lost": lost,
                "doubled": doubled,
                "session_drops": agent_log.count("disconnected from broker"),
                # sessions the broker dropped for a missed keepalive, and sessions made again
                "keepalive_drops": broker_log.read_text().count("has exceeded timeout"),
                "reconnects": len(connects()) - len(connected()),
                "samples_skipped": agent_log.count("sample skipped"),
                "threads": end["threads"],
                "open_fds": end["open_fds"],
                "rss_mb_start": start["rss_mb"],
                "rss_mb_end": end["rss_mb"],
                "rss_mb_peak": peak,
                "rss_mb_per_minute": per_minute,
                "rss_mb_per_minute_late_slope": late_slope(per_minute),
                "rss_target_mb": target_mb(args.source, len(ids)),
                "heavy_libraries_mapped": heavy,
                "agent_cpu_share": round((end["cpu_s"] - start["cpu_s"]) / (args.minutes * 60), 3),
                "fd_line": next(
                    (ln.split(": ", 1)[-1] for ln in agent_log.splitlines() if "room for" in ln),
                    None,
                ),
            }
        )
    finally:
        for proc in (agent, collector):
            if proc is not None:
                proc.stop()
        for sim in sims:
            sim.terminate()
            sim.wait(30)
        database.stop()
        broker.stop()
    result["imports"] = import_costs()
    log(
        f"one agent process{' (signed)' if args.signed else ''}"
        f"{' (speed tests configured)' if args.capacity else ''},"
        f" {result['points_connected']}/{len(ids)} points connected,"
        f" {result['samples_taken']} samples taken, {result['lost']} lost,"
        f" {result['doubled']} doubled; {result['keepalive_drops']} keepalive drops,"
        f" {result['reconnects']} reconnects; {result['threads']} threads, {result['open_fds']} open"
        f" files; RSS {result['rss_mb_start']} MB at start, {result['rss_mb_end']} MB after"
        f" {args.minutes:g} min (target {result['rss_target_mb']}), over the second half"
        f" {result['rss_mb_per_minute_late_slope']} MB a minute; heavy libraries mapped:"
        f" {', '.join(result['heavy_libraries_mapped']) or 'none'}"
    )
    if away:
        log(
            f"collector away {away:g} min: agent RSS {result.get('rss_mb_outage_start')} MB as"
            f" it went, {result.get('rss_mb_outage_end')} MB as it came back,"
            f" {result.get('rss_mb_caught_up')} MB once caught up"
            f" ({result.get('catch_up_s')} s after its return)"
        )
    print(json.dumps(result))
    return 0 if result["lost"] == 0 and result["points_connected"] == len(ids) else 1


if __name__ == "__main__":
    os.environ.setdefault(PASSWORD_ENV, "bench-router-pw")
    raise SystemExit(main())
