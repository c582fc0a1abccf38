"""`pantau agent`: run the agent until stopped."""

from __future__ import annotations

import argparse
import logging
import os
import resource
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from pantau.agent import __version__
from pantau.agent.memory import TRIM_EVERY_S, fewer_arenas, release_free_memory
from pantau.agent.netloop import CONNECT_THREADS, NetLoop
from pantau.agent.point import PointContext
from pantau.agent.publisher import PointPublisher
from pantau.agent.run import PointSampler
from pantau.agent.scheduler import DEFAULT_WORKERS, Scheduler
from pantau.agent.settings import build_source, load_settings, point_mqtt
from pantau.agent.sources.clock import Clock, CompressedClock, RealClock
from pantau.agent.spool import Spool
from pantau.shared.errors import ConfigError
from pantau.shared.folders import require_folder

if TYPE_CHECKING:
    from pantau.agent.config import AgentConfig

log = logging.getLogger(__name__)

# With Python's default 5 ms GIL switch interval, many sampler threads waking on the same tick
# spend their CPU contending for the GIL (bench/routeros_poll.py: ~5 ms per RouterOS poll at 500
# routers, collapsing at 750; ~1.7 ms flat to 1,000 at 50 ms). Samplers mostly wait on sockets,
# so a longer interval costs them nothing.
THREAD_SWITCH_INTERVAL_S = 0.05
# Descriptors held beyond the points' own: the spool, logs, the loop's waker, and what sampling
# workers and connects open for a moment (a probe socket, a /proc file, a socket being made).
FD_RESERVE = 64
FD_PER_WORKER = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        nargs="?",
        choices=("run", "speedtest"),
        default="run",
        help="run (default): sample and publish; speedtest: one capacity test now, then exit",
    )
    parser.add_argument("--point", help="speedtest: the point to test (when several can be)")
    parser.add_argument(
        "--publish", action="store_true", help="speedtest: also spool the result for the NOC"
    )
    parser.add_argument(
        "--config", required=True, help="agent YAML file (see examples/agent*.yaml)"
    )
    parser.add_argument(
        "--check",
        nargs="?",
        const="all",
        choices=("all", "local"),
        help="check the installation (config, files, spool, broker login, routers, interfaces),"
        " print a table with a fix for each failure, exit 1 on any; 'local': no network",
    )
    parser.add_argument(
        "--sample-workers",
        type=int,
        default=DEFAULT_WORKERS,
        help="threads that take samples (default %(default)s); a hung device holds one until"
        " its source's timeout, so keep it above the devices that may hang at once",
    )


def run(args: argparse.Namespace) -> int:
    if args.check:
        from pantau.agent.doctor import diagnose, exit_code, render

        results = diagnose(args.config, network=args.check == "all")
        colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        print(render(results, colour=colour))
        return exit_code(results)
    config = load_settings(args.config)  # validated in a child: no pydantic in this process
    require_folder(config.state_dir, "state_dir", args.config)  # the spool's, the tests' ledger
    if args.action == "speedtest":
        from pantau.agent.speedtest_cli import speedtest

        return speedtest(config, args.point, args.publish)
    if args.sample_workers < 1:
        raise ConfigError(f"--sample-workers must be at least 1, not {args.sample_workers}")
    fewer_arenas()
    sys.setswitchinterval(THREAD_SWITCH_INTERVAL_S)
    raised_from = raise_fd_limit()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    Agent(config, args.sample_workers).run(stop, raised_from)
    return 0


def raise_fd_limit() -> int:
    """Open files up to the hard limit (every point holds a socket); returns the old soft one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        try:
            hard = int(Path("/proc/sys/fs/nr_open").read_text())
        except (OSError, ValueError):
            hard = 1 << 20
    if soft != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(
                resource.RLIMIT_NOFILE, (hard, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
            )
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open-file limit from %d to %d: %s", soft, hard, exc)
    return soft


def open_fds() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 16


class Agent:
    """All points of one agent process: a sampler and a publisher each, one spool for all, one
    network thread for every MQTT session and a fixed pool of sampling workers."""

    def __init__(self, config: AgentConfig, sample_workers: int = DEFAULT_WORKERS) -> None:
        self.config = config
        self.boot = os.urandom(8).hex()  # this run's id: 16 random hex digits
        self.clock: Clock = RealClock()
        if config.clock is not None:
            self.clock = CompressedClock(config.clock.start.timestamp(), config.clock.speed)
        self.spool = Spool(
            config.state_dir / "spool.sqlite",
            config.spool.max_samples_per_point,
            config.spool.max_bytes,
            config.spool.sync,
        )
        self.loop = NetLoop(min(CONNECT_THREADS, len(config.points)))  # connects at once
        self.publishers: list[PointPublisher] = []
        self.samplers: list[PointSampler] = []
        contexts: list[PointContext] = []
        for point in config.points:
            source = build_source(point.source, point.id, self.clock)
            publisher = PointPublisher(
                point.id,
                self.boot,
                source.kind,
                self.spool,
                point_mqtt(config.mqtt, point.id),
                config.publish,
                self.loop,
            )
            context = PointContext(point.id, self.spool, publisher, self.clock)
            self.publishers.append(publisher)
            contexts.append(context)
            self.samplers.append(PointSampler(point, config.interval_s, source, context, self.boot))
        self.scheduler = Scheduler(self.clock, list(self.samplers), sample_workers)
        self.capacity = None
        if any(p.capacity is not None or p.bursts is not None for p in config.points):
            # Imported only when used: speed tests pull in more than a plain agent needs.
            from pantau.agent.capacity.worker import CapacityWorker, CapacityWorkers

            self.capacity = CapacityWorkers(
                [
                    CapacityWorker(point, config.state_dir, context, self.clock)
                    for point, context in zip(config.points, contexts, strict=True)
                    if point.capacity is not None or point.bursts is not None
                ]
            )

    def fd_budget(self) -> tuple[int, int, int]:
        """(descriptors per point, descriptors reserved, points the open-file limit holds)."""
        routeros = any(p.source.kind == "routeros" for p in self.config.points)
        per_point = 2 if routeros else 1  # its MQTT socket (+ its RouterOS API connection)
        reserve = FD_RESERVE + FD_PER_WORKER * (self.scheduler.threads - 1) + self.loop.threads
        reserve += 8 * sum(p.capacity is not None for p in self.config.points)
        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        if limit == resource.RLIM_INFINITY:
            limit = 1 << 20
        return per_point, reserve, max(0, (limit - open_fds() - reserve) // per_point)

    def run(self, stop: threading.Event, fd_limit_was: int | None = None) -> None:
        points = len(self.samplers)
        per_point, reserve, room = self.fd_budget()
        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        raised = f" (raised from {fd_limit_was})" if fd_limit_was not in (None, limit) else ""
        if room < points:
            self.spool.close()
            raise ConfigError(
                f"{points} points need {points * per_point + reserve} open files and this process"
                f" may hold {limit}{raised}: it can serve {room}; raise the limit (systemd"
                " LimitNOFILE=, ulimit -n) or split the points over more agents"
            )
        log.info(
            "pantau agent %s: %d point(s), every %gs, spool %s (boot %s); threads: 1 network,"
            " %d connecting, 1 scheduler, %d sampling",
            __version__,
            points,
            self.config.interval_s,
            self.spool.path,
            self.boot,
            self.loop.threads - 1,
            self.scheduler.threads - 1,
        )
        log.info(
            "open files: limit %d%s, %d in use: room for %d point(s) at %d each (this agent has %d)",
            limit,
            raised,
            open_fds(),
            room,
            per_point,
            points,
        )
        self.loop.start()
        for publisher in self.publishers:
            publisher.start()
        self.scheduler.start()
        if self.capacity is not None:
            self.capacity.start()
        release_free_memory()  # what starting up used (the config, its check's output) and freed
        while not stop.wait(TRIM_EVERY_S):
            release_free_memory()  # agent/memory.py: RSS follows what is in use
        log.info("stopping: %d sample(s) still in the spool", self.spool.count())
        if self.capacity is not None:
            self.capacity.stop()
        self.scheduler.stop()
        self.scheduler.join(5.0)
        for sampler in self.samplers:
            sampler.source.close()
        self.loop.stop()
        self.spool.close()
