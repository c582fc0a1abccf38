"""`pantau report`: the monthly SLA report as a terminal table, CSV, JSON or one HTML file.

Exit codes: 0 a report was written; 2 no report (bad arguments, InfluxDB unreachable, a month
not begun or without any data: one line on standard error); 3 with `--strict`, a report was
written but is not final (the month is not over, or some fee is to be decided because rollups
are missing or late or a point has no data).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pantau.collector.report.compute import (
    Filters,
    MonthReport,
    build_report,
    check_started,
    select_plans,
)
from pantau.collector.report.i18n import LANGS
from pantau.collector.report.notices import notices
from pantau.collector.report.reader import Prefetch, ReportSource
from pantau.collector.sla.month import CONTEXT_MS
from pantau.collector.sla.periods import month
from pantau.shared.errors import ConfigError
from pantau.shared.registry import Registry

FORMATS = ("table", "csv", "json", "html")
EXIT_NOT_FINAL = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--month", required=True, help="YYYY-MM, in WIB (Asia/Jakarta)")
    parser.add_argument("--kelurahan", help="only this kelurahan (drills down to its points)")
    parser.add_argument("--kecamatan", help="only this kecamatan")
    parser.add_argument("--provider", help="only this provider")
    parser.add_argument("--point", help="only this point id")
    parser.add_argument("--format", choices=FORMATS, default="table")
    parser.add_argument("--out", help="write to this file instead of standard output")
    parser.add_argument("--lang", choices=LANGS, default="id", help="id (default) or en")
    parser.add_argument(
        "--strict",
        action="store_true",
        help=f"exit {EXIT_NOT_FINAL} unless the report is final (month over, nothing to be decided)",
    )
    from pantau.collector.store import add_store_arguments

    add_store_arguments(parser)


def report_time_ms() -> int:
    """When the report is made: now, or SOURCE_DATE_EPOCH (seconds) for a report made again
    exactly as it was (reproducible builds' convention)."""
    fixed = os.environ.get("SOURCE_DATE_EPOCH")
    if fixed is None:
        return int(time.time() * 1000)
    if not fixed.isdigit():
        raise ConfigError(f"SOURCE_DATE_EPOCH {fixed!r}: expected whole seconds since 1970")
    return int(fixed) * 1000


def run(args: argparse.Namespace) -> int:
    period = month(args.month)
    now_ms = report_time_ms()
    check_started(period, now_ms)  # before connecting to anything
    registry, source, close = _open(args)
    try:
        filters = Filters(args.kelurahan, args.kecamatan, args.provider, args.point)
        report = compute(registry, source, args.month, filters, now_ms)
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
    if args.out or args.format != "table":
        for line in notices(report, args.lang):  # also the report's first line
            print(f"pantau report: {line}", file=sys.stderr)
    if args.strict and not report.final:
        print(
            f"pantau report: --strict: the {period.label} report is not final (exit"
            f" {EXIT_NOT_FINAL})",
            file=sys.stderr,
        )
        return EXIT_NOT_FINAL
    return 0


def compute(
    registry: Registry,
    source: ReportSource,
    label: str,
    filters: Filters,
    now_ms: int | None = None,
) -> MonthReport:
    """Read what the period needs (rollups ± one day of context, capacity tests) and compute
    the report as of now_ms (default: now)."""
    period = month(label)
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    check_started(period, now_ms)
    plans = select_plans(registry, period, filters)
    ids = [p.point.id for p in plans]
    prefetch = Prefetch(
        source,
        ids,
        (period.start_ms - CONTEXT_MS, period.end_ms + CONTEXT_MS),
        (period.start_ms, period.end_ms),
    )
    try:
        return build_report(
            registry, period, filters, plans, prefetch.hours, prefetch.tests, now_ms
        )
    finally:
        prefetch.close()


def render(report: MonthReport, fmt: str, lang: str) -> str:
    if fmt == "csv":
        from pantau.collector.report.render_data import to_csv

        return to_csv(report, lang)
    if fmt == "json":
        from pantau.collector.report.render_data import to_json

        return to_json(report, lang)
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
    from pantau.collector.report.reader import InfluxSource
    from pantau.collector.store import open_store

    registry, influx = open_store(args)
    return registry, InfluxSource(influx), influx.close
