"""`pantau collector`: run the collector until stopped (one process, or a supervisor of
`workers` ingest processes: collector/workers.py)."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pantau.collector import metrics, workers
from pantau.collector.config import CollectorConfig, load_collector_config
from pantau.collector.influxdb.client import Influx
from pantau.shared.errors import ConfigError
from pantau.shared.folders import require_folder
from pantau.shared.registry import Registry, load_registry
from pantau.shared.secretfiles import check_tls_files, resolve_secret

if TYPE_CHECKING:
    from pantau.collector.service import Collector

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="collector YAML file")
    parser.add_argument("--check", action="store_true", help="validate config and registry, exit")
    parser.add_argument(
        "--stats-every", type=float, default=60.0, help="seconds between one-line stats summaries"
    )


def run(args: argparse.Namespace) -> int:
    config = load_collector_config(args.config)
    plan = workers.plan(config)
    preflight(config, plan, args.config)
    if plan.count > 1 and not args.check:
        workers.start_forkserver()  # it imports the collector while this process reads on
    registry = load_registry(config.registry)
    if args.check:
        print(
            f"{args.config}: ok, registry {config.registry}: {len(registry.points)} point(s),"
            f" {plan.count} worker(s)"
        )
        return 0
    for level, note in plan.notes:
        log.log(level, "%s", note)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    workers.adopt_leftovers(config.state_dir, plan.count)
    if plan.count == 1:
        _run_one(workers.worker_config(config, 1, plan), registry, stop, args.stats_every)
    else:
        _run_workers(config, plan, registry, stop, args)
    return 0


def preflight(config: CollectorConfig, plan: workers.Plan, source: str) -> None:
    """What a worker would otherwise find wrong as it starts, found once, here: for `--check`
    and before any worker starts, so a folder or file that is not there is one ConfigError line
    (exit 2) and not a traceback, nor workers dying at every restart under the supervisor.

    Every folder the collector writes in can be made and written; every file it reads at start
    (the MQTT password and TLS files of each worker, InfluxDB's password or token, the signing
    keys) is read now as the start reads it; influx.url has a scheme and a host."""
    require_url(config.influx.url, "influx.url", source)
    folders = [(config.state_dir, "state_dir")]
    if config.evidence.archive_dir is not None:
        folders.append((config.evidence.archive_dir, "evidence.archive_dir"))
    for folder, setting in folders:  # the folders as written first: their message names them
        require_folder(folder, setting, source)
    for index in range(1, plan.count + 1):
        own = workers.worker_config(config, index, plan)
        if plan.count > 1:
            require_folder(own.state_dir, "state_dir", source)
            if own.evidence.archive_dir is not None:
                require_folder(own.evidence.archive_dir, "evidence.archive_dir", source)
        mqtt = own.mqtt
        if mqtt.tls is not None:
            check_tls_files(mqtt.tls.ca_file, mqtt.tls.cert_file, mqtt.tls.key_file)
        resolve_secret(mqtt.password, mqtt.password_file, "mqtt password")
    Influx(config.influx).close()  # reads its password or token as the start does; no request
    if config.evidence.keys_file is not None:
        from pantau.collector.archive.keys import load_keys  # cryptography: only when signed

        load_keys(config.evidence.keys_file)


def require_url(url: str, setting: str, source: str) -> None:
    """An http(s) URL with a host; anything else would only fail at the first write. A URL
    holding a user and password is not repeated."""
    try:
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.hostname:
            return
    except ValueError:  # e.g. an unclosed [IPv6 address
        pass
    shown = f" {url!r}" if "@" not in url else ""
    raise ConfigError(
        f"{source}: field '{setting}'{shown} is not an http(s) URL with a host,"
        " e.g. 'http://127.0.0.1:8086'"
    )


def _run_one(
    config: CollectorConfig, registry: Registry, stop: threading.Event, every_s: float
) -> None:
    from pantau.collector.service import Collector  # a supervisor of workers never needs it

    with workers.state_lock(config.state_dir):
        collector = Collector(config, registry)
        reporter = threading.Thread(
            target=report_stats, args=(collector, stop, every_s), daemon=True
        )
        reporter.start()
        served = metrics.serve(  # own thread; port 0: off
            config.metrics, metrics.CollectorMetrics(lambda: metrics.health(collector))
        )
        log.info("collector started: %d point(s) in the registry", len(registry.points))
        try:
            collector.run(stop)
        finally:
            if served is not None:
                served.close()
    log.info("stopped; stats %s", json.dumps(collector.stats.snapshot(), sort_keys=True))


def _run_workers(
    config: CollectorConfig,
    plan: workers.Plan,
    registry: Registry,
    stop: threading.Event,
    args: argparse.Namespace,
) -> None:
    supervisor = workers.Supervisor(
        config,
        plan,
        len(registry.points),
        logging.getLevelName(logging.getLogger().level),
        args.stats_every,
    )
    served = metrics.serve(
        config.metrics, metrics.CollectorMetrics(supervisor.health, supervisor.gauges)
    )
    log.info(
        "collector started: %d point(s) in the registry, %d workers on $share/%s",
        len(registry.points),
        plan.count,
        plan.share_group,
    )
    try:
        supervisor.run(stop)
    finally:
        if served is not None:
            served.close()


def report_stats(collector: Collector, stop: threading.Event, every_s: float) -> None:
    while not stop.wait(every_s):
        log.info("stats %s", json.dumps(collector.stats.snapshot(), sort_keys=True))
