"""`pantau report`: the monthly SLA report as a terminal table, CSV (one file per level),
JSON, one HTML file, a PDF (headless Chromium's print of the HTML) or an XLSX workbook.

Exit codes: 0 a report was written; 2 no report (bad arguments, InfluxDB unreachable, a month
not begun or without any data: one line on standard error); 3 with `--strict`, a report was
written but is not final (the month is not over, some fee is to be decided because rollups
are missing or late or a point has no data, or data is stored in the month for a point the
registry does not list).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from pantau.collector.archive.digest import MonthDigest, month_digest
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
from pantau.collector.report.render_data import LEVELS, to_csv, to_csv_files
from pantau.collector.report.unregistered import find_unregistered
from pantau.collector.sla.month import CONTEXT_MS
from pantau.collector.sla.periods import Period, month
from pantau.shared.errors import ConfigError
from pantau.shared.registry import Registry, check_known

FORMATS = ("table", "csv", "json", "html", "pdf", "xlsx")
BINARY = ("pdf", "xlsx")
EXIT_NOT_FINAL = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--month", required=True, help="YYYY-MM, in WIB (Asia/Jakarta)")
    parser.add_argument("--kelurahan", help="only this kelurahan (drills down to its points)")
    parser.add_argument("--kecamatan", help="only this kecamatan")
    parser.add_argument("--provider", help="only this provider")
    parser.add_argument("--point", help="only this point id")
    parser.add_argument("--format", choices=FORMATS, default="table")
    parser.add_argument(
        "--out",
        help="write to this file instead of standard output (csv: FILE.csv gives FILE-point.csv,"
        " FILE-kelurahan.csv, ...; a directory gives pantau-report-MONTH-LEVEL.csv in it)",
    )
    parser.add_argument(
        "--level",
        choices=LEVELS,
        default="point",
        help="csv on standard output: the level to print (default point)",
    )
    parser.add_argument("--lang", choices=LANGS, default="id", help="id (default) or en")
    parser.add_argument(
        "--strict",
        action="store_true",
        help=f"exit {EXIT_NOT_FINAL} unless the report is final (month over, nothing to be decided)",
    )
    parser.add_argument(
        "--archive",
        help="the evidence archive, for the month's checkpoint (default: evidence.archive_dir)",
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
        check_filters(registry, args)
        filters = Filters(args.kelurahan, args.kecamatan, args.provider, args.point)
        report = compute(registry, source, args.month, filters, now_ms)
    finally:
        close()
    report.archive = archive_digest(args, period)
    what = f"{args.format} report for {period.label}, {len(report.points)} point(s)"
    if args.format in BINARY:
        if not args.out:
            raise ConfigError(f"--format {args.format} needs --out FILE")
        out = Path(args.out)
        _write(out, render_binary(report, args.format, args.lang))
        print(f"{out}: {what}")
    elif args.format == "csv" and args.out:
        paths = csv_paths(Path(args.out), period.label)
        for level, text in to_csv_files(report, args.lang).items():
            _write(paths[level], text.encode("utf-8"))
        print(f"{', '.join(str(p) for p in paths.values())}: {what}")
    elif args.out:
        out = Path(args.out)
        _write(out, render(report, args.format, args.lang).encode("utf-8"))
        print(f"{out}: {what}")
    else:
        sys.stdout.write(render(report, args.format, args.lang, args.level))
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


def archive_digest(args: argparse.Namespace, period: Period) -> MonthDigest | None:
    """The month's checkpoints from the archive (`--archive`, or the collector config's
    evidence.archive_dir); None when there is none."""
    directory = getattr(args, "archive", None)
    if not directory and getattr(args, "config", None):
        from pantau.collector.config import load_collector_config

        evidence = getattr(load_collector_config(args.config), "evidence", None)
        directory = getattr(evidence, "archive_dir", None)
    if not directory:
        return None
    path = Path(directory)
    if not path.is_dir():
        raise ConfigError(f"--archive {path}: no such folder")
    digest = month_digest(path, period)
    return replace(digest, report_file=args.out) if args.out else digest


def check_filters(registry: Registry, args: argparse.Namespace) -> None:
    """An unknown kelurahan, kecamatan, provider or point is one line with the near spellings
    the registry has, before anything is read."""
    points = registry.points
    check_known("--kelurahan", args.kelurahan, {p.kelurahan for p in points})
    check_known("--kecamatan", args.kecamatan, {p.kecamatan for p in points})
    check_known("--provider", args.provider, {p.provider for p in points})
    check_known("--point", args.point, {p.id for p in points})


def _write(out: Path, data: bytes) -> None:
    try:
        out.write_bytes(data)
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot write: {exc.strerror}") from exc


def csv_paths(out: Path, label: str) -> dict[str, Path]:
    """FILE.csv → FILE-LEVEL.csv beside it; a directory → pantau-report-MONTH-LEVEL.csv in it."""
    if out.is_dir():
        return {level: out / f"pantau-report-{label}-{level}.csv" for level in LEVELS}
    stem = out.name[: -len(".csv")] if out.name.endswith(".csv") else out.name
    return {level: out.with_name(f"{stem}-{level}.csv") for level in LEVELS}


def compute(
    registry: Registry,
    source: ReportSource,
    label: str,
    filters: Filters,
    now_ms: int | None = None,
) -> MonthReport:
    """Read what the period needs (rollups ± one day of context, capacity tests, and which
    points have data stored in it that the registry does not list) and compute the report as
    of now_ms (default: now)."""
    period = month(label)
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    check_started(period, now_ms)
    plans = select_plans(registry, period, filters)
    ids = [p.point.id for p in plans]
    unregistered = find_unregistered(
        source, {p.id for p in registry.points}, period.start_ms, period.end_ms, filters
    )
    prefetch = Prefetch(
        source,
        ids,
        (period.start_ms - CONTEXT_MS, period.end_ms + CONTEXT_MS),
        (period.start_ms, period.end_ms),
    )
    try:
        return build_report(
            registry, period, filters, plans, prefetch.hours, prefetch.tests, now_ms, unregistered
        )
    finally:
        prefetch.close()


def render(report: MonthReport, fmt: str, lang: str, level: str = "point") -> str:
    if fmt == "csv":
        return to_csv(report, lang, level)
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


def render_binary(report: MonthReport, fmt: str, lang: str) -> bytes:
    if fmt == "pdf":
        from pantau.collector.report.render_pdf import render_pdf

        return render_pdf(report, lang)
    from pantau.collector.report.render_xlsx import render_xlsx

    return render_xlsx(report, lang)


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
