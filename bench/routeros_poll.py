"""How many RouterOS routers one agent process can poll every 10 s (polling alone; the whole
path, polled, spooled, published and stored, is `bench/agent_scale.py --source routeros`).

Simulated routers run in a separate process (`pantau routeros-sim`, its CPU is not counted).
This process polls them with one thread per router (the agent itself now samples on a fixed
pool of workers, agent/scheduler.py), every thread waking at the same wall-clock tick, each poll
through RouterOSSource and the real librouteros client (resource, interface, health,
hotspot/DHCP/wireless counts, one router-side ping).

It ramps through fleet sizes (`--routers 500,750,1000`). A size passes when every poll of
every router finished before the next tick with nothing failed (no timeout, no issue) and this
process's CPU stayed under 70 % of one core (a Python process polls on one core at a time).
`routers_per_process` is the largest size that passed; the CPU cost and API round trips per
router per poll are those of that run (steady polls; the first poll, which connects and logs
in, is reported apart). The simulators' own CPU is reported beside it, never in it.
Last line: one JSON object.

    .venv/bin/python bench/routeros_poll.py [--routers 500,750,1000,1500] [--ticks 3] [--tls]
        [--switch-interval 0.005] [--simulators 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pantau.agent.cli import THREAD_SWITCH_INTERVAL_S  # noqa: E402
from pantau.agent.sources.clock import RealClock, next_tick  # noqa: E402
from pantau.agent.sources.routeros.config import RouterOSSourceConfig  # noqa: E402
from pantau.agent.sources.routeros.source import RouterOSSource  # noqa: E402
from pantau.collector.lab.routeros_sim.certs import make_certs  # noqa: E402

CPU_BUSY_MAX = 0.70  # of one core: a Python process polls on one core at a time (the GIL)
PASSWORD_ENV = "PANTAU_BENCH_ROUTER_PW"


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def start_simulators(routers: int, tls_dir: Path | None, ports_file: Path) -> subprocess.Popen:
    env = dict(os.environ, **{PASSWORD_ENV: "bench-router-pw"})
    command = [
        sys.executable, "-m", "pantau.shared.cli", "routeros-sim",
        "--routers", str(routers), "--port", "0",
        "--dialect", "6.49", "--dialect", "7.14", "--dialect", "7.18",
        "--password-env", PASSWORD_ENV, "--ports-file", str(ports_file),
        "--hotspot", "120", "--associated", "60", "--dhcp", "150",
    ]  # fmt: skip
    if tls_dir is not None:
        command += ["--tls-port", "0", "--tls-cert", str(tls_dir / "router.pem"),
                    "--tls-key", str(tls_dir / "router.key")]  # fmt: skip
    sim = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert sim.stdout is not None
    deadline = time.monotonic() + 120
    for line in sim.stdout:
        if line.startswith("ready:"):
            return sim
        if time.monotonic() > deadline:
            break
    sim.kill()
    raise SystemExit(f"simulator did not start (exit {sim.wait()})")


def build_sources(ports_file: Path, tls_dir: Path | None, timeout_s: float) -> list[RouterOSSource]:
    listing = json.loads(ports_file.read_text())
    os.environ[PASSWORD_ENV] = "bench-router-pw"
    sources = []
    for router in listing["routers"]:
        settings: dict[str, object] = {
            "kind": "routeros",
            "host": listing["host"],
            "port": router["port"],
            "password_env": PASSWORD_ENV,
            "ping_targets": ["1.1.1.1"],
            "timeout_s": timeout_s,
        }
        if tls_dir is not None:
            settings["port"] = router["tls_port"]
            settings["tls"] = {"verify": "ca", "ca_file": str(tls_dir / "ca.pem")}
        config = RouterOSSourceConfig.model_validate(settings)
        source = config.build(router["name"], RealClock())
        assert isinstance(source, RouterOSSource)
        sources.append(source)
    return sources


class Poller(threading.Thread):
    """One router's sampling thread, as the agent's run loop has it."""

    def __init__(self, source: RouterOSSource, ticks: list[float]) -> None:
        super().__init__(daemon=True)
        self.source = source
        self.ticks = ticks
        self.durations: list[float] = []
        self.late: list[float] = []
        self.trips: list[int] = []
        self.commands: list[int] = []
        self.failed = 0
        self.problems: Counter[str] = Counter()

    def run(self) -> None:
        for tick in self.ticks:
            time.sleep(max(0.0, tick - time.time()))
            started = time.time()
            before, sent = self.source.round_trips, self.source.commands
            reading = self.source.read()
            done = time.time()
            self.durations.append(done - started)
            self.late.append(done - tick)
            self.trips.append(self.source.round_trips - before)
            self.commands.append(self.source.commands - sent)
            if not reading.device_up or reading.issues:
                self.failed += 1
                for issue in reading.issues:
                    self.problems[f"{issue.path}: {issue.message.split(': ', 1)[-1]}"] += 1


def process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run_fleet(routers: int, args: argparse.Namespace, tmp_path: Path) -> dict[str, object]:
    """Poll `routers` simulated routers for `args.ticks` ticks; the figures of that run."""
    tls_dir = tmp_path / "tls" if args.tls else None
    if tls_dir is not None and not (tls_dir / "ca.pem").exists():
        make_certs(tls_dir)
    shares = [routers // args.simulators + (i < routers % args.simulators)
              for i in range(args.simulators)]  # fmt: skip
    files = [tmp_path / f"ports-{routers}-{i}.json" for i in range(args.simulators)]
    sims = [start_simulators(n, tls_dir, f) for n, f in zip(shares, files, strict=True) if n]
    try:
        sources = [s for f in files[: len(sims)] for s in build_sources(f, tls_dir, args.timeout)]
        first = next_tick(time.time() + 2.0, args.interval)
        ticks = [first + i * args.interval for i in range(args.ticks)]
        pollers = [Poller(source, ticks) for source in sources]
        for poller in pollers:
            poller.start()
        cpu_start = cpu_s()
        # Between the first (connecting) tick and the steady ones.
        time.sleep(max(0.0, ticks[1] - 0.05 - time.time()))
        cpu_mid, sim_mid = cpu_s(), sum(process_cpu_s(sim.pid) for sim in sims)
        for poller in pollers:
            poller.join(args.interval * (args.ticks + 2))
        cpu_end, sim_end = cpu_s(), sum(process_cpu_s(sim.pid) for sim in sims)
        for source in sources:
            source.close()
    finally:
        for sim in sims:
            sim.terminate()
        for sim in sims:
            sim.wait(30)

    steady = args.ticks - 1
    window_s = steady * args.interval
    cpu_per_poll_s = (cpu_end - cpu_mid) / (routers * steady)
    late = [x for p in pollers for x in p.late[1:]]
    durations = [d for p in pollers for d in p.durations[1:]]
    failed = sum(p.failed for p in pollers)
    problems = sum((p.problems for p in pollers), Counter())
    busy = (cpu_end - cpu_mid) / window_s
    passed = failed == 0 and max(late) < args.interval and busy <= CPU_BUSY_MAX
    figures: dict[str, object] = {
        "routers": routers,
        "passed": passed,
        "cpu_ms_per_poll": round(cpu_per_poll_s * 1000, 3),
        "cpu_ms_first_poll": round((cpu_mid - cpu_start) / routers * 1000, 3),
        "round_trips_per_poll": round(statistics.fmean(t for p in pollers for t in p.trips[1:]), 2),
        "round_trips_first_poll": round(statistics.fmean(p.trips[0] for p in pollers), 2),
        "commands_per_poll": round(statistics.fmean(c for p in pollers for c in p.commands[1:]), 2),
        "poll_s_p50": round(percentile(durations, 0.50), 3),
        "poll_s_p99": round(percentile(durations, 0.99), 3),
        "finished_after_tick_s_max": round(max(late), 3),
        "polls_failed": failed,
        "cpu_busy": round(busy, 3),
        "simulator_cpu_busy": round((sim_end - sim_mid) / window_s, 3),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(
        f"{routers} routers ({'api-ssl' if args.tls else 'api'}), {args.ticks} polls each every"
        f" {args.interval:.0f}s: {figures['cpu_ms_per_poll']} ms CPU and"
        f" {figures['round_trips_per_poll']} round trip(s) ({figures['commands_per_poll']}"
        f" commands) per poll (first poll"
        f" {figures['cpu_ms_first_poll']} ms, {figures['round_trips_first_poll']});"
        f" polls p50 {figures['poll_s_p50']}s p99 {figures['poll_s_p99']}s; {failed} failed;"
        f" agent CPU {busy:.0%}, simulators {figures['simulator_cpu_busy']:.0%}"
        f" -> {'pass' if passed else 'FAIL'}",
        flush=True,
    )
    for problem, count in problems.most_common(3):
        print(f"  {count} x {problem}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--routers", default="500,750,1000,1500", help="Fleet sizes to try, ascending"
    )
    parser.add_argument("--ticks", type=int, default=3, help="Polls per router (first connects)")
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--timeout", type=float, default=5.0, help="Per-poll budget (timeout_s)")
    parser.add_argument("--tls", action="store_true", help="Poll over api-ssl")
    parser.add_argument(
        "--simulators", type=int, default=2, help="Simulator processes to spread routers over"
    )
    parser.add_argument(
        "--switch-interval",
        type=float,
        default=THREAD_SWITCH_INTERVAL_S,
        help="GIL switch interval of this process (default: the agent's own setting)",
    )
    args = parser.parse_args()
    sizes = sorted({int(n) for n in args.routers.split(",")})
    if args.ticks < 2 or not sizes or sizes[0] < 1:
        raise SystemExit("--ticks must be at least 2 and --routers positive sizes")
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    threading.stack_size(256 * 1024)
    sys.setswitchinterval(args.switch_interval)

    runs = []
    with tempfile.TemporaryDirectory(prefix="pantau-bench-") as tmp:
        for size in sizes:
            runs.append(run_fleet(size, args, Path(tmp)))
            if not runs[-1]["passed"]:
                break
    best = max((r for r in runs if r["passed"]), key=lambda r: r["routers"], default=None)
    summary = best or runs[0]
    figures = {
        "routers_per_process": best["routers"] if best else 0,
        "target": 500,
        "interval_s": args.interval,
        "tls": args.tls,
        "simulator_processes": args.simulators,
        "switch_interval_s": sys.getswitchinterval(),
        "cpu_ms_per_poll": summary["cpu_ms_per_poll"],
        "cpu_ms_first_poll": summary["cpu_ms_first_poll"],
        "round_trips_per_poll": summary["round_trips_per_poll"],
        "round_trips_first_poll": summary["round_trips_first_poll"],
        "commands_per_poll": summary["commands_per_poll"],
        "poll_s_p99": summary["poll_s_p99"],
        "cpu_busy": summary["cpu_busy"],
        "largest_tried": runs[-1]["routers"],
        "runs": [{k: r[k] for k in ("routers", "passed", "cpu_ms_per_poll", "cpu_busy",
                                    "polls_failed", "poll_s_p99")} for r in runs],
    }  # fmt: skip
    print(
        f"one agent process polls {figures['routers_per_process']} routers every"
        f" {args.interval:.0f}s on this machine (target 500)"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
