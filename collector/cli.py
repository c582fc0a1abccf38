"""`pantau collector`: run the collector until stopped."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading

from pantau.collector import metrics
from pantau.collector.config import load_collector_config
from pantau.collector.service import Collector
from pantau.shared.registry import load_registry

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="collector YAML file")
    parser.add_argument("--check", action="store_true", help="validate config and registry, exit")
    parser.add_argument(
        "--stats-every", type=float, default=60.0, help="seconds between one-line stats summaries"
    )


def run(args: argparse.Namespace) -> int:
    config = load_collector_config(args.config)
    registry = load_registry(config.registry)
    if args.check:
        print(f"{args.config}: ok, registry {config.registry}: {len(registry.points)} point(s)")
        return 0
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    collector = Collector(config, registry)
    reporter = threading.Thread(
        target=_report_stats, args=(collector, stop, args.stats_every), daemon=True
    )
    reporter.start()
    metrics_server = metrics.serve(config.metrics, collector)  # own thread; port 0: off
    log.info("collector started: %d point(s) in the registry", len(registry.points))
    try:
        collector.run(stop)
    finally:
        if metrics_server is not None:
            metrics_server.close()
    log.info("stopped; stats %s", json.dumps(collector.stats.snapshot(), sort_keys=True))
    return 0


def _report_stats(collector: Collector, stop: threading.Event, every_s: float) -> None:
    while not stop.wait(every_s):
        log.info("stats %s", json.dumps(collector.stats.snapshot(), sort_keys=True))
