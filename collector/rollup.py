"""Keep `sla_hourly` in step with `telemetry`: recompute the rollup of every (point, UTC hour)
a write touched, from that hour's raw rows.

Recomputing reads the stored rows, never the batch just written, so it is idempotent and late
data (a backlog after an outage) simply recomputes the hours it lands in: the new row has the
same series and timestamp and overwrites the old one.

Reads are sized from the data, not assumed: a cheap count per (point, hour) comes first, then
the raw rows are read in pieces of at most `ROWS_PER_READ` rows (whole hours, several points per
query where they fit), so the same code serves 1-s samples and 3600-s samples, ten points or
five thousand. Every answer is a chunked one, joined and checked whole by `Influx.query_raw`.

Evidence bookkeeping: beside every telemetry write the collector writes a mark on the hour's
`sla_hourly` row (`marked_ms` = when, `rolled_ms` = 0); every rollup carries `rolled_ms`, the
time just before it read the raw rows. A row with `marked_ms > rolled_ms` has raw data its
rollup does not reflect yet, which the report can see without reading raw data.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pantau.collector.influxdb import influxql
from pantau.collector.influxdb.line_protocol import line
from pantau.collector.lines import SLA_HOURLY, TAG_KEYS, TELEMETRY
from pantau.collector.rollup_daily import refresh_days
from pantau.collector.sla.hourly import HourRollup, RawSample, hours_touched, rollup_hour
from pantau.collector.sla.periods import HOUR_MS
from pantau.shared.errors import SinkError
from pantau.shared.wire import Sample

log = logging.getLogger(__name__)

# Raw rows one read may return: bounds memory and time per piece. The allocator keeps a round's
# peak as resident memory for the life of the process, so this bounds the collector's RSS: one
# round over the city's full hour (430 points x 360 rows) took RSS up 48 MB, then ~3 MB a round,
# reading 20,000 rows of `*` at a time; 5,000 rows of RAW_COLUMNS: 3 MB once, then flat, in the
# same 5 s (tests/integration/test_rollup_memory.py; bench/city_live.py prints the RSS).
ROWS_PER_READ = 5_000
# What `RawSample.from_row` reads of a raw row, and the tags `_rollup_lines` may take from it:
# reads name these columns instead of `*`, which halves what an answer row costs.
RAW_FIELDS = (
    "seq",
    "interval_s",
    "device_up",
    "wan_up",
    "rtt_ms",
    "loss_pct",
    "jitter_ms",
    "rx_bps",
    "tx_bps",
    "clients_hotspot",
    "clients_assoc",
    "clients_dhcp",
    "clock_synced",
)
RAW_COLUMNS = ", ".join(f'"{name}"' for name in (*RAW_FIELDS, *TAG_KEYS))
POINTS_PER_PLAN = 200  # points whose hours one count query plans
LINES_PER_WRITE = 5_000
COUNTED_FIELD = "seq"  # present in every telemetry row (the wire contract requires it)

TagsFor = Callable[[str], Mapping[str, str]]


class InfluxLike(Protocol):
    """The calls this module needs (collector.influxdb.client.Influx has them)."""

    def query_raw(self, influxql: str, database: str | None = None) -> list[dict[str, Any]]: ...

    def write(self, lines: list[str]) -> None: ...


@dataclass
class RollupStats:
    """What recomputing cost, for /metrics and the benchmark."""

    rows_written: int = 0
    rows_read: int = 0
    reads: int = 0
    largest_read: int = 0  # most raw rows any one read returned

    def read(self, rows: int) -> None:
        self.reads += 1
        self.rows_read += rows
        self.largest_read = max(self.largest_read, rows)


@dataclass(frozen=True)
class Read:
    """One bounded read: these points' raw rows in [start_ms, end_ms)."""

    points: tuple[str, ...]
    start_ms: int
    end_ms: int
    rows: int  # expected, from the count


def touched(point: str, samples: Iterable[Sample | RawSample]) -> set[tuple[str, int]]:
    """(point, hour_ms) pairs whose rollups a write of these samples changes."""
    raw = [s if isinstance(s, RawSample) else RawSample.from_row(s.model_dump()) for s in samples]
    return {(point, hour) for hour in hours_touched(raw)}


def mark_lines(pairs: Iterable[tuple[str, int]], tags_for: TagsFor, now_ms: int) -> list[str]:
    """Lines that record, on each hour's `sla_hourly` row, that raw data arrived at now_ms and
    the rollup no longer reflects it (written in the same request as that raw data)."""
    fields = {"marked_ms": int(now_ms), "rolled_ms": 0}
    return [
        line(SLA_HOURLY, _tags(point, tags_for(point)), fields, hour - hour % HOUR_MS)
        for point, hour in sorted(pairs)
    ]


def recompute(
    influx: InfluxLike,
    pairs: Iterable[tuple[str, int]],
    tags_for: TagsFor | None = None,
    stats: RollupStats | None = None,
    changed: set[tuple[str, int]] | None = None,
) -> int:
    """Recompute and write the rollups of these (point, hour_ms) pairs and of the hour after
    each; return rows written.

    Tags come from `tags_for(point)` (the registry) when given, else from the raw rows.

    Several writers (collector workers, hosts, a rebuild beside them) each recompute the hours
    their own writes touched, and the last rollup written wins. So once its rollups are
    written, each group's raw rows are counted again: an hour holding more rows than were
    counted before the read may have a rollup older than a writer's that it overwrote, and goes
    into `changed` to be recomputed (raw rows are only ever added). An hour whose count held
    is complete as of that second count; rows landing after it are marked by their writer, whose
    rollup is read and written later still.
    """
    stats = stats if stats is not None else RollupStats()
    rolled_ms = int(time.time() * 1000)  # before any read: a later mark shows as newer
    by_point: dict[str, set[int]] = defaultdict(set)
    for point, hour in pairs:
        hour -= hour % HOUR_MS
        # a sample's interval may reach into the next hour: recompute that one too (it gets
        # no row unless something covers it)
        by_point[point].update((hour, hour + HOUR_MS))
    lines: list[str] = []
    written = 0
    for run, points in _runs(by_point).items():
        for i in range(0, len(points), POINTS_PER_PLAN):
            group = points[i : i + POINTS_PER_PLAN]
            counts = count_rows(influx, group, run[0] - HOUR_MS, run[1])
            for piece in plan_reads(group, run, counts, ROWS_PER_READ):
                rows = _read(influx, piece, stats)
                for point in piece.points:
                    lines += _rollup_lines(point, piece, rows.get(point), tags_for, rolled_ms)
                del rows  # before the next read: one piece's rows in memory at a time
                if len(lines) >= LINES_PER_WRITE:
                    influx.write(lines)
                    written += len(lines)
                    lines = []
            if lines:  # this group's rollups are in before its rows are counted again
                influx.write(lines)
                written += len(lines)
                lines = []
            if changed is not None:
                after = count_rows(influx, group, run[0] - HOUR_MS, run[1])
                changed.update(key for key, n in after.items() if n > counts.get(key, 0))
    # the packed days a month report reads first (collector/rollup_daily.py)
    refresh_days(influx, [(p, h) for p, hours in by_point.items() for h in hours], tags_for)
    stats.rows_written += written
    return written


def rebuild(
    influx: InfluxLike,
    start_ms: int,
    end_ms: int,
    points: Iterable[str],
    tags_for: TagsFor | None = None,
    stats: RollupStats | None = None,
    changed: set[tuple[str, int]] | None = None,
) -> int:
    """Recompute every hour of [start_ms, end_ms) for these points (after an import, or when
    the rollup format changes). Hours without any sample get no row."""
    first = start_ms - start_ms % HOUR_MS
    pairs = [(p, h) for p in points for h in range(first, end_ms, HOUR_MS)]
    return recompute(influx, pairs, tags_for, stats, changed)


def stale_hours(
    influx: InfluxLike, points: list[str], start_ms: int, end_ms: int
) -> set[tuple[str, int]]:
    """(point, hour) pairs whose raw data is newer than their rollup (or has none yet)."""
    found: set[tuple[str, int]] = set()
    for i in range(0, len(points), POINTS_PER_PLAN):
        answer = influx.query_raw(
            f'SELECT "marked_ms" FROM "{SLA_HOURLY}" WHERE {influxql.points(points[i : i + POINTS_PER_PLAN])}'
            f' AND "marked_ms" > "rolled_ms" AND time >= {start_ms}ms AND time < {end_ms}ms'
            ' GROUP BY "point"'
        )
        for series in whole_series(answer):
            point = series.get("tags", {}).get("point", "")
            found.update((point, int(values[0])) for values in series["values"])
    return found


def _runs(by_point: Mapping[str, set[int]]) -> dict[tuple[int, int], list[str]]:
    """Points by the [start, end) runs of consecutive hours they need: points needing the same
    hours (the usual case: every point, the current hour) share queries."""
    runs: dict[tuple[int, int], list[str]] = defaultdict(list)
    for point in sorted(by_point):
        hours = sorted(by_point[point])
        start = previous = hours[0]
        for hour in hours[1:]:
            if hour != previous + HOUR_MS:
                runs[(start, previous + HOUR_MS)].append(point)
                start = hour
            previous = hour
        runs[(start, previous + HOUR_MS)].append(point)
    return runs


def count_rows(
    influx: InfluxLike, points: list[str], start_ms: int, end_ms: int
) -> dict[tuple[str, int], int]:
    """Raw rows per (point, hour) in [start_ms, end_ms); hours without rows are absent."""
    answer = influx.query_raw(
        f'SELECT COUNT("{COUNTED_FIELD}") FROM "{TELEMETRY}" WHERE {influxql.points(points)}'
        f' AND time >= {start_ms}ms AND time < {end_ms}ms GROUP BY time(1h), "point" fill(none)'
    )
    counts: dict[tuple[str, int], int] = {}
    for series in whole_series(answer):
        point = series.get("tags", {}).get("point", "")
        for hour, count in series["values"]:
            if count:
                counts[(point, int(hour))] = int(count)
    return counts


def plan_reads(
    points: list[str],
    run: tuple[int, int],
    counts: Mapping[tuple[str, int], int],
    budget: int,
) -> list[Read]:
    """Pieces that read the run's hours for these points, each expected to hold at most
    `budget` rows (a single point-hour denser than that is read alone). Pure.

    Hours split into spans every point can share: as many whole hours as the densest point fits
    in the budget. Within a span, points are packed while their rows fit. A point with no row in
    a span and none in the hour before it has nothing to roll up there and is not read.
    """
    start, end = run
    hours = list(range(start, end, HOUR_MS))
    densest = max((counts.get((p, h), 0) for p in points for h in hours), default=0)
    per_span = max(1, budget // densest) if densest else len(hours)
    reads: list[Read] = []
    for i in range(0, len(hours), per_span):
        span = hours[i : i + per_span]
        lo, hi = span[0], span[-1] + HOUR_MS
        batch: list[str] = []
        batch_rows = 0
        for point in points:
            rows = sum(counts.get((point, h), 0) for h in span)
            if rows == 0 and counts.get((point, lo - HOUR_MS), 0) == 0:
                continue
            if batch and batch_rows + rows > budget:
                reads.append(Read(tuple(batch), lo, hi, batch_rows))
                batch, batch_rows = [], 0
            batch.append(point)
            batch_rows += rows
        if batch:
            reads.append(Read(tuple(batch), lo, hi, batch_rows))
    return reads


@dataclass
class PointRows:
    """One point's raw rows of a piece, kept as the rollup needs them: compact samples (not the
    answer's rows), the tags of the last row of each hour, and the hours with unreadable rows."""

    samples: list[RawSample] = field(default_factory=list)
    tags: dict[int, dict[str, Any]] = field(default_factory=dict)
    unreadable: set[int] = field(default_factory=set)

    def add(self, point: str, row: dict[str, Any]) -> None:
        hour = int(row["time"]) - int(row["time"]) % HOUR_MS
        try:
            sample = RawSample.from_row(row)
        except (TypeError, ValueError) as exc:
            log.warning("point %s: skipping unreadable telemetry row: %s", point, exc)
            self.unreadable.add(hour)
            self.tags.setdefault(hour, {k: row.get(k) for k in TAG_KEYS})
            return
        self.samples.append(sample)
        self.tags[hour] = {k: row.get(k) for k in TAG_KEYS}


def _read(influx: InfluxLike, piece: Read, stats: RollupStats) -> dict[str, PointRows]:
    """The piece's raw rows by point, plus the samples of the hour before it whose interval
    reaches into it (only samples longer than a minute can: see RawSample.covered_minutes).
    Only the columns the rollup uses are read, and each row becomes a RawSample as it is taken
    from the answer, so a piece costs its answer once, not twice."""
    where = influxql.points(list(piece.points))
    by_point: dict[str, PointRows] = defaultdict(PointRows)
    for query in (
        f'SELECT {RAW_COLUMNS} FROM "{TELEMETRY}" WHERE {where} AND "interval_s" > 60'
        f" AND time >= {piece.start_ms - HOUR_MS}ms AND time < {piece.start_ms}ms",
        f'SELECT {RAW_COLUMNS} FROM "{TELEMETRY}" WHERE {where}'
        f" AND time >= {piece.start_ms}ms AND time < {piece.end_ms}ms",
    ):
        rows = 0
        for series in whole_series(influx.query_raw(query)):
            columns = series["columns"]
            point_at = columns.index("point")
            for values in series["values"]:
                point = str(values[point_at])
                by_point[point].add(point, dict(zip(columns, values, strict=True)))
            rows += len(series["values"])
            series["values"] = []  # taken: let the answer's rows go as the next series is read
        stats.read(rows)
    return by_point


def whole_series(results: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The series of an InfluxQL answer; an error or a truncated answer raises, because a report
    computed from part of the rows would be wrong without saying so."""
    for result in results:
        if "error" in result:
            raise SinkError(f"InfluxQL error: {result['error']}", retryable=False)
        for series in result.get("series", []):
            if series.get("partial") or result.get("partial"):
                raise SinkError(
                    "InfluxDB returned a truncated answer (flagged partial): refusing it",
                    retryable=True,
                )
            yield series


def _rollup_lines(
    point: str,
    piece: Read,
    rows: PointRows | None,
    tags_for: TagsFor | None,
    rolled_ms: int,
) -> list[str]:
    if rows is None or not rows.tags:
        return []
    buckets: dict[int, list[RawSample]] = defaultdict(list)
    for sample in sorted(rows.samples, key=lambda s: s.ts_ms):
        buckets[sample.ts_ms - sample.ts_ms % HOUR_MS].append(sample)
    lines = []
    for hour in range(piece.start_ms, piece.end_ms, HOUR_MS):
        rollup = rollup_hour(buckets.get(hour - HOUR_MS, []) + buckets.get(hour, []), hour)
        if tags_for:
            tags: Mapping[str, Any] = tags_for(point)
        else:
            source = rows.tags.get(hour) or rows.tags.get(hour - HOUR_MS)
            tags = source or rows.tags[max(rows.tags)]
        if rollup is not None:
            lines.append(rollup_line(rollup, _tags(point, tags), rolled_ms))
        elif hour in rows.unreadable:  # looked at, nothing usable: not "waiting for a rollup"
            lines.append(line(SLA_HOURLY, _tags(point, tags), {"rolled_ms": rolled_ms}, hour))
    return lines


def _tags(point: str, tags: Mapping[str, Any]) -> dict[str, str]:
    found = {key: str(tags[key]) for key in TAG_KEYS if tags.get(key)}
    found["point"] = point
    return found


def rollup_line(rollup: HourRollup, tags: Mapping[str, Any], rolled_ms: int | None = None) -> str:
    fields = rollup.to_fields()
    if rolled_ms is not None:
        fields["rolled_ms"] = int(rolled_ms)
    return line(
        SLA_HOURLY, {k: str(tags[k]) for k in TAG_KEYS if tags.get(k)}, fields, rollup.hour_ms
    )
