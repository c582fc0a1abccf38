"""`pantau report`: the monthly SLA report as a terminal table, CSV, JSON or one HTML file."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from pantau.collector.report.compute import Filters, MonthReport, build_report, select_plans
from pantau.collector.report.i18n import LANGS
from pantau.collector.report.reader import Prefetch, ReportSource
from pantau.collector.sla.month import CONTEXT_MS
from pantau.collector.sla.periods import month
from pantau.shared.errors import ConfigError
from pantau.shared.registry import Registry, load_registry

FORMATS = ("table", "csv", "json", "html")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--month", required=True, help="YYYY-MM, in WIB (Asia/Jakarta)")
    parser.add_argument("--kelurahan", help="only this kelurahan (drills down to its points)")
    parser.add_argument("--kecamatan", help="only this kecamatan")
    parser.add_argument("--provider", help="only this provider")
    parser.add_argument("--point", help="only this point id")
    parser.add_argument("--format", choices=FORMATS, default="table")
    parser.add_argument("--out", help="write to this file instead of standard output")
    parser.add_argument("--lang", choices=LANGS, default="id", help="id (default) or en")
    parser.add_argument("--config", help="collector YAML file (InfluxDB settings, registry)")
    parser.add_argument("--registry", help="registry YAML (overrides the collector config's)")
    parser.add_argument("--influx-url", help="InfluxDB URL (overrides the collector config's)")
    parser.add_argument("--database", help="InfluxDB database (overrides the collector config's)")


def run(args: argparse.Namespace) -> int:
    period = month(args.month)
    registry, source, close = _open(args)
    try:
        filters = Filters(args.kelurahan, args.kecamatan, args.provider, args.point)
        report = compute(registry, source, args.month, filters)
    finally:
        close()
    text = render(report, args.format, args.lang)
    if args.out:
        out = Path(args.out)
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"--out {out}: cannot write: {exc.strerror}") from exc
        print(f"{out}: {args.format} report for {period.label}, {len(report.points)} point(s)")
    else:
        sys.stdout.write(text)
    return 0


def compute(registry: Registry, source: ReportSource, label: str, filters: Filters) -> MonthReport:
    """Read what the period needs (rollups ± one day of context) and compute the report."""
    period = month(label)
    plans = select_plans(registry, period, filters)
    ids = [p.point.id for p in plans]
    tests = source.capacity(ids, period.start_ms, period.end_ms)
    rollups = Prefetch(source, ids, period.start_ms - CONTEXT_MS, period.end_ms + CONTEXT_MS)
    try:
        return build_report(
            registry, period, filters, plans, rollups.rollups, lambda p: tests.get(p, [])
        )
    finally:
        rollups.close()


def render(report: MonthReport, fmt: str, lang: str) -> str:
    if fmt == "csv":
        from pantau.collector.report.render_data import to_csv

        return to_csv(report)
    if fmt == "json":
        from pantau.collector.report.render_data import to_json

        return to_json(report)
    if fmt == "html":
        from pantau.collector.report.render_html import render_html

        return render_html(report, lang)
    from rich.console import Console

    from pantau.collector.report.render_table import render_table

    console = Console(record=True, file=_Discard(), width=_width())
    render_table(report, lang, console)
    return console.export_text(styles=sys.stdout.isatty())


def _width() -> int:
    import shutil

    return max(80, shutil.get_terminal_size((120, 40)).columns)


class _Discard:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def _open(args: argparse.Namespace) -> tuple[Registry, ReportSource, Callable[[], None]]:
    """Registry and a reader over InfluxDB, from the collector config and/or the flags."""
    from pantau.collector.config import InfluxConfig, load_collector_config
    from pantau.collector.influx import Influx
    from pantau.collector.report.reader import InfluxSource

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
    registry = load_registry(registry_path)
    influx = Influx(influx_config)
    return registry, InfluxSource(influx), influx.close
