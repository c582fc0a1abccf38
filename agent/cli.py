"""`pantau agent`: run the agent until stopped."""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import logging
import os
import signal
import sys
import threading
import uuid

from pantau.agent import __version__
from pantau.agent.config import AgentConfig, load_agent_config
from pantau.agent.point import PointContext
from pantau.agent.publisher import PointPublisher
from pantau.agent.run import PointSampler
from pantau.agent.sources.clock import Clock, CompressedClock, RealClock
from pantau.agent.spool import Spool

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # mallopt(3)
# One thread per point: with Python's default 5 ms GIL switch interval, hundreds of sampler
# threads waking on the same tick spend their CPU contending for the GIL (bench/routeros_poll.py:
# ~5 ms per RouterOS poll at 500 routers, collapsing at 750; ~1.7 ms flat to 1,000 at 50 ms).
# Samplers mostly wait on sockets, so a longer interval costs them nothing.
THREAD_SWITCH_INTERVAL_S = 0.05


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


def run(args: argparse.Namespace) -> int:
    if args.check:
        from pantau.agent.doctor import diagnose, exit_code, render

        results = diagnose(args.config, network=args.check == "all")
        colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        print(render(results, colour=colour))
        return exit_code(results)
    config = load_agent_config(args.config)
    if args.action == "speedtest":
        from pantau.agent.speedtest_cli import speedtest

        return speedtest(config, args.point, args.publish)
    _fewer_malloc_arenas()
    sys.setswitchinterval(THREAD_SWITCH_INTERVAL_S)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    Agent(config).run(stop)
    return 0


def _fewer_malloc_arenas() -> None:
    """glibc gives each thread its own malloc arena; on a 512 MB SBC two are plenty."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(M_ARENA_MAX, 2)
    except (OSError, AttributeError):
        pass


class Agent:
    """All points of one agent process: a sampler and a publisher each, one spool for all."""

    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.boot = uuid.uuid4().hex[:16]
        self.clock: Clock = RealClock()
        if config.clock is not None:
            self.clock = CompressedClock(config.clock.start.timestamp(), config.clock.speed)
        self.spool = Spool(
            config.state_dir / "spool.sqlite",
            config.spool.max_samples_per_point,
            config.spool.max_bytes,
            config.spool.sync,
        )
        self.publishers: list[PointPublisher] = []
        self.samplers: list[PointSampler] = []
        contexts: list[PointContext] = []
        for point in config.points:
            source = point.source.build(point.id, self.clock)
            publisher = PointPublisher(
                point.id,
                self.boot,
                source.kind,
                self.spool,
                config.mqtt.for_point(point.id),
                config.publish,
            )
            context = PointContext(point.id, self.spool, publisher, self.clock)
            self.publishers.append(publisher)
            contexts.append(context)
            self.samplers.append(PointSampler(point, config.interval_s, source, context, self.boot))
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

    def run(self, stop: threading.Event) -> None:
        log.info(
            "pantau agent %s: %d point(s), every %gs, spool %s (boot %s)",
            __version__,
            len(self.samplers),
            self.config.interval_s,
            self.spool.path,
            self.boot,
        )
        for publisher in self.publishers:
            publisher.start()
        for sampler in self.samplers:
            sampler.start()
        if self.capacity is not None:
            self.capacity.start()
        stop.wait()
        log.info("stopping: %d sample(s) still in the spool", self.spool.count())
        if self.capacity is not None:
            self.capacity.stop()
        for sampler in self.samplers:
            sampler.stop()
        for sampler in self.samplers:
            sampler.join(5.0)
            sampler.source.close()
        for publisher in self.publishers:
            publisher.stop()
        self.spool.close()
