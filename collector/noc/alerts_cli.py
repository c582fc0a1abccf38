"""`pantau alerts --config collector.yaml`: evaluate the alert rules every N seconds."""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from pantau.collector.config import load_collector_config
from pantau.collector.noc.runner import AlertRunner
from pantau.shared.registry import load_registry

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="collector YAML file (its alerts section)")
    parser.add_argument("--once", action="store_true", help="evaluate once and exit")
    parser.add_argument("--check", action="store_true", help="validate the config and exit")


def run(args: argparse.Namespace) -> int:
    config = load_collector_config(args.config)
    registry = load_registry(config.registry)
    runner = AlertRunner(config, registry, source=str(args.config))
    if args.check:
        print(
            f"{args.config}: ok, {len(runner.delivery.targets)} alert target(s),"
            f" {len(registry.points)} point(s)"
        )
        return 0
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    log.info(
        "alerts started: %d point(s), every %gs, %d target(s)",
        len(registry.points),
        config.alerts.evaluate_every_s,
        len(runner.delivery.targets),
    )
    runner.run(stop, once=args.once)
    log.info("stopped after %d round(s)", runner.rounds)
    return 0
