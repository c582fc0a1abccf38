"""Where the commands that read the store (`report`, `rollup`) find the registry and InfluxDB:
the collector's own config file, with flags to override its parts."""

from __future__ import annotations

import argparse

from pantau.collector.config import load_collector_config
from pantau.collector.influxdb.client import Influx
from pantau.collector.influxdb.config import InfluxConfig
from pantau.shared.errors import ConfigError
from pantau.shared.registry import Registry, load_registry


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="collector YAML file (InfluxDB settings, registry)")
    parser.add_argument("--registry", help="registry YAML (overrides the collector config's)")
    parser.add_argument("--influx-url", help="InfluxDB URL (overrides the collector config's)")
    parser.add_argument("--database", help="InfluxDB database (overrides the collector config's)")


def open_store(args: argparse.Namespace) -> tuple[Registry, Influx]:
    """The registry and an InfluxDB client, from the collector config and/or the flags."""
    influx_config = InfluxConfig()
    registry_path = args.registry
    if args.config:
        config = load_collector_config(args.config)
        influx_config = config.influx
        registry_path = registry_path or config.registry
    if not registry_path:
        raise ConfigError("no registry: give --config (collector YAML) or --registry FILE")
    updates = {}
    if args.influx_url:
        updates["url"] = args.influx_url
    if args.database:
        updates["database"] = args.database
    if updates:
        influx_config = influx_config.model_copy(update=updates)
    return load_registry(registry_path), Influx(influx_config)
