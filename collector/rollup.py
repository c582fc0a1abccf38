"""Keep `sla_hourly` in step with `telemetry`: recompute the rollup of every (point, UTC hour)
a write touched, from that hour's raw rows.

Recomputing reads the stored rows, never the batch just written, so it is idempotent and late
data (a backlog after an outage) simply recomputes the hours it lands in: the new row has the
same series and timestamp and overwrites the old one.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Protocol

from influxdb_client import Point as InfluxPoint
from influxdb_client import WritePrecision

from pantau.collector.sla.hourly import HourRollup, RawSample, hours_touched, rollup_hour
from pantau.collector.sla.periods import HOUR_MS
from pantau.shared.errors import SinkError
from pantau.shared.wire import Sample

log = logging.getLogger(__name__)

TELEMETRY = "telemetry"
SLA_HOURLY = "sla_hourly"
TAG_KEYS = ("point", "kelurahan", "kecamatan", "provider")
POINTS_PER_QUERY = 50
HOURS_PER_QUERY = 24
LINES_PER_WRITE = 5_000


class InfluxLike(Protocol):
    """The two calls this module needs (collector.influx.Influx has them)."""

    def query(self, influxql: str, database: str | None = None) -> list[dict[str, Any]]: ...

    def query_raw(self, influxql: str, database: str | None = None) -> list[dict[str, Any]]: ...

    def write(self, lines: list[str]) -> None: ...


def touched(point: str, samples: Iterable[Sample | RawSample]) -> set[tuple[str, int]]:
    """(point, hour_ms) pairs whose rollups a write of these samples changes."""
    raw = [s if isinstance(s, RawSample) else RawSample.from_row(s.model_dump()) for s in samples]
    return {(point, hour) for hour in hours_touched(raw)}


def recompute(
    influx: InfluxLike,
    pairs: Iterable[tuple[str, int]],
    tags_for: Callable[[str], Mapping[str, str]] | None = None,
) -> int:
    """Recompute and write the rollups of these (point, hour_ms) pairs and of the hour after
    each; return rows written.

    Tags come from `tags_for(point)` (the registry) when given, else from the raw rows.
    """
    by_point: dict[str, set[int]] = defaultdict(set)
    for point, hour in pairs:
        hour -= hour % HOUR_MS
        # a sample's interval may reach into the next hour: recompute that one too (it gets
        # no row unless something covers it)
        by_point[point].update((hour, hour + HOUR_MS))
    names = sorted(by_point)
    lines: list[str] = []
    written = 0
    for i in range(0, len(names), POINTS_PER_QUERY):
        chunk = names[i : i + POINTS_PER_QUERY]
        hours = sorted(set().union(*(by_point[p] for p in chunk)))
        for window in _windows(hours):
            rows = _read(influx, chunk, window[0] - HOUR_MS, window[-1] + HOUR_MS)
            for point in chunk:
                wanted = [h for h in window if h in by_point[point]]
                lines += _rollup_lines(point, wanted, rows.get(point, []), tags_for)
            if len(lines) >= LINES_PER_WRITE:
                influx.write(lines)
                written += len(lines)
                lines = []
    if lines:
        influx.write(lines)
        written += len(lines)
    return written


def rebuild(
    influx: InfluxLike,
    start_ms: int,
    end_ms: int,
    points: Iterable[str],
    tags_for: Callable[[str], Mapping[str, str]] | None = None,
) -> int:
    """Recompute every hour of [start_ms, end_ms) for these points (after an import, or when
    the rollup format changes). Hours without any sample get no row."""
    first = start_ms - start_ms % HOUR_MS
    pairs = [(p, h) for p in points for h in range(first, end_ms, HOUR_MS)]
    return recompute(influx, pairs, tags_for)


def _windows(hours: list[int]) -> list[list[int]]:
    """Split sorted hours into runs spanning at most HOURS_PER_QUERY hours."""
    windows: list[list[int]] = []
    for hour in hours:
        if windows and hour - windows[-1][0] < HOURS_PER_QUERY * HOUR_MS:
            windows[-1].append(hour)
        else:
            windows.append([hour])
    return windows


def _read(
    influx: InfluxLike, points: list[str], start_ms: int, end_ms: int
) -> dict[str, list[dict[str, Any]]]:
    """Raw rows of these points in [start_ms, end_ms + 1 h), by point."""
    match = "|".join(points)  # point ids are [a-z0-9-]: nothing to escape
    answer = influx.query_raw(
        f'SELECT * FROM "{TELEMETRY}" WHERE "point" =~ /^({match})$/'
        f" AND time >= {start_ms}ms AND time < {end_ms + HOUR_MS}ms"
    )
    by_point: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for series in whole_series(answer):
        columns = series["columns"]
        point_at = columns.index("point")
        for values in series["values"]:
            by_point[str(values[point_at])].append(dict(zip(columns, values, strict=True)))
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
                    "InfluxDB returned a truncated answer: set [http] max-row-limit = 0",
                    retryable=False,
                )
            yield series


def _rollup_lines(
    point: str,
    hours: list[int],
    rows: list[dict[str, Any]],
    tags_for: Callable[[str], Mapping[str, str]] | None,
) -> list[str]:
    if not hours or not rows:
        return []
    buckets: dict[int, list[RawSample]] = defaultdict(list)
    last_row: dict[int, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: r["time"]):
        try:
            sample = RawSample.from_row(row)
        except (TypeError, ValueError) as exc:
            log.warning("point %s: skipping unreadable telemetry row: %s", point, exc)
            continue
        hour = sample.ts_ms - sample.ts_ms % HOUR_MS
        buckets[hour].append(sample)
        last_row[hour] = row
    lines = []
    for hour in hours:
        rollup = rollup_hour(buckets.get(hour - HOUR_MS, []) + buckets.get(hour, []), hour)
        if rollup is None:
            continue
        source = last_row.get(hour) or last_row.get(hour - HOUR_MS) or rows[-1]
        tags = dict(tags_for(point)) if tags_for else {k: source.get(k) for k in TAG_KEYS}
        tags["point"] = point
        lines.append(rollup_line(rollup, tags))
    return lines


def rollup_line(rollup: HourRollup, tags: Mapping[str, Any]) -> str:
    record = InfluxPoint(SLA_HOURLY)
    for key in TAG_KEYS:
        value = tags.get(key)
        if value:
            record.tag(key, str(value))
    for key, value in rollup.to_fields().items():
        record.field(key, value)
    record.time(rollup.hour_ms, WritePrecision.MS)
    return record.to_line_protocol()
