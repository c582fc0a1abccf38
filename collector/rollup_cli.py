"""`pantau rollup rebuild`: recompute a month's `sla_hourly` rows from the raw telemetry.

For when rollups are missing or stale (the report says so on its first line), after an import,
or after the rollup format changed. Idempotent: a rebuilt hour overwrites itself with the same
row. Safe beside a live collector: both compute an hour from what is stored, and hours that
received raw data while the rebuild ran (their mark is newer than the rollup) are recomputed
once more at the end.
"""

from __future__ import annotations

import argparse
import sys
import time

from pantau.collector.rollup import RollupStats, rebuild, recompute, stale_hours
from pantau.collector.sla.month import CONTEXT_MS
from pantau.collector.sla.periods import month
from pantau.collector.store import add_store_arguments, open_store
from pantau.shared.errors import ConfigError
from pantau.shared.registry import check_known

POINTS_PER_STEP = 25  # points rebuilt between two progress updates
VERIFY_ROUNDS = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    rebuild_parser = sub.add_parser("rebuild", help="recompute a month's hourly rollups")
    rebuild_parser.add_argument("--month", required=True, help="YYYY-MM, in WIB (Asia/Jakarta)")
    rebuild_parser.add_argument("--kelurahan", help="only the points of this kelurahan")
    rebuild_parser.add_argument("--point", help="only this point id")
    add_store_arguments(rebuild_parser)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    period = month(args.month)
    registry, influx = open_store(args)
    try:
        points = [
            p
            for p in registry.points
            if (not args.kelurahan or p.kelurahan.casefold() == args.kelurahan.casefold())
            and (not args.point or p.id == args.point)
        ]
        check_known("--kelurahan", args.kelurahan, {p.kelurahan for p in registry.points})
        check_known("--point", args.point, {p.id for p in registry.points})
        if args.point and not points:
            raise ConfigError(f"--point {args.point!r}: not in kelurahan {args.kelurahan!r}")
        by_id = {p.id: p for p in points}

        def tags_for(point_id: str) -> dict[str, str]:
            return by_id[point_id].tags()

        # the report reads one day either side of the month: rebuild what it reads
        start, end = period.start_ms - CONTEXT_MS, period.end_ms + CONTEXT_MS
        stats = RollupStats()
        started = time.monotonic()
        console = Console(stderr=True)
        columns = (
            TextColumn("rebuilding {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("points, {task.fields[rows]} rows"),
            TimeElapsedColumn(),
        )
        changed: set[tuple[str, int]] = set()  # raw rows landed while they were read
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task(period.label, total=len(points), rows=0)
            ids = [p.id for p in points]
            for i in range(0, len(ids), POINTS_PER_STEP):
                step = ids[i : i + POINTS_PER_STEP]
                rebuild(influx, start, end, step, tags_for, stats, changed)
                progress.update(task, advance=len(step), rows=stats.rows_written)
        again = 0
        for _ in range(VERIFY_ROUNDS):  # raw data that arrived while we worked
            stale = stale_hours(influx, [p.id for p in points], start, end) | changed
            if not stale:
                break
            again += len(stale)
            changed = set()
            recompute(influx, stale, tags_for, stats, changed)
        else:
            stale = stale_hours(influx, [p.id for p in points], start, end) | changed
    finally:
        influx.close()
    elapsed = time.monotonic() - started
    if stats.rows_read == 0:
        print(f"no telemetry stored for these {len(points)} point(s) in {period.label}")
        return 0
    print(
        f"rebuilt {stats.rows_written} hourly rollup(s) of {len(points)} point(s) for"
        f" {period.label} in {elapsed:.1f} s ({stats.rows_read} raw rows in {stats.reads}"
        f" reads, largest {stats.largest_read}; {again} hour(s) redone for data that arrived"
        " meanwhile)"
    )
    if stale:
        print(
            f"{len(stale)} hour(s) kept receiving data; run again once the backlog settles",
            file=sys.stderr,
        )
        return 1
    return 0
