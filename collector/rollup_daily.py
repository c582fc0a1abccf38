"""Keep `sla_daily` in step with `sla_hourly`: one row per point and WIB day packing that day's
24 hourly rollups (collector/sla/daily.py), so a month report reads 33 rows per point, not 792.

`refresh_days` is called after hourly rollups are written: it reads each named day's
`sla_hourly` rows back (bounded queries: at most POINTS_PER_READ points × one day) and writes
the packed row. A packed row also records what it was packed from, the sums of the hours'
`marked_ms` and `rolled_ms`, so the report can tell, with one aggregate query, whether it still
matches `sla_hourly`, and read the hours itself where not. Nothing is lost when a refresh is
skipped or fails: the report just reads more.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields
from typing import Any, Protocol

from pantau.collector.influxdb import influxql
from pantau.collector.influxdb.line_protocol import line
from pantau.collector.lines import SLA_DAILY, SLA_HOURLY, TAG_KEYS
from pantau.collector.sla.daily import pack_day, wib_day
from pantau.collector.sla.hourly import EMPTY_SLOTS, HourRollup
from pantau.collector.sla.periods import DAY_MS

POINTS_PER_READ = 50  # × 24 hourly rows: one small, bounded answer per read
LINES_PER_WRITE = 2_000
CHECK_FIELDS = ("marked_sum", "rolled_sum")  # what a packed row was packed from
# The hourly fields a refresh reads, in HourRollup's order after hour_ms, then the marks.
ROLLUP_FIELDS = tuple(f.name for f in fields(HourRollup))[1:]
MARK_FIELDS = ("marked_ms", "rolled_ms")

TagsFor = Callable[[str], Mapping[str, str]]
Marks = dict[int, tuple[int | None, int | None]]


class InfluxLike(Protocol):
    def query_raw(self, influxql: str, database: str | None = None) -> list[dict[str, Any]]: ...

    def write(self, lines: list[str]) -> None: ...


def refresh_days(
    influx: InfluxLike,
    point_days: Iterable[tuple[str, int]],
    tags_for: TagsFor | None = None,
) -> int:
    """Repack the `sla_daily` row of each (point, ms) pair's WIB day (ms is any instant of the
    day, e.g. an hour start); return rows written. Days without any hourly row get none.

    Tags come from `tags_for(point)` (the registry) when given, else from the hourly rows.
    """
    by_day: dict[int, set[str]] = defaultdict(set)
    for point, ms in point_days:
        by_day[wib_day(ms)].add(point)
    lines: list[str] = []
    written = 0
    for day in sorted(by_day):
        points = sorted(by_day[day])
        for i in range(0, len(points), POINTS_PER_READ):
            chunk = points[i : i + POINTS_PER_READ]
            packed_ms = int(time.time() * 1000)  # before the read, like rolled_ms
            found = read_hours(influx, chunk, day, day + DAY_MS)
            for point in chunk:
                if point not in found:
                    continue
                rollups, marks, tags = found[point]
                if tags_for is not None:
                    tags = dict(tags_for(point))
                tags["point"] = point
                lines.append(daily_line(day, rollups, marks, tags, packed_ms))
            if len(lines) >= LINES_PER_WRITE:
                influx.write(lines)
                written += len(lines)
                lines = []
    if lines:
        influx.write(lines)
        written += len(lines)
    return written


def read_hours(
    influx: InfluxLike, points: list[str], start_ms: int, end_ms: int
) -> dict[str, tuple[dict[int, HourRollup], Marks, dict[str, str]]]:
    """These points' `sla_hourly` rows in [start_ms, end_ms): rollups and marks by hour, and
    the series tags. Callers keep (end − start) × points within one bounded answer."""
    from pantau.collector.rollup import whole_series  # rollup.py may import this module

    select = ", ".join(f'"{name}"' for name in (*ROLLUP_FIELDS, *MARK_FIELDS))
    answer = influx.query_raw(
        f'SELECT {select} FROM "{SLA_HOURLY}" WHERE {influxql.points(points)}'
        f" AND time >= {start_ms}ms AND time < {end_ms}ms GROUP BY {_group_tags()}"
    )
    columns = ("time", *ROLLUP_FIELDS, *MARK_FIELDS)
    found: dict[str, tuple[dict[int, HourRollup], Marks, dict[str, str]]] = {}
    for series in whole_series(answer):
        if tuple(series["columns"]) != columns:
            raise ValueError(f"unexpected columns {series['columns']}")
        tags = {k: v for k, v in series.get("tags", {}).items() if v}
        point = tags.get("point", "")
        rollups, marks, _ = found.setdefault(point, ({}, {}, tags))
        for values in series["values"]:
            hour = int(values[0])
            marked, rolled = values[-2], values[-1]
            if marked is not None or rolled is not None:
                marks[hour] = (marked, rolled)
            if values[1] is not None:
                rollups[hour] = rollup_from_values(values[: len(ROLLUP_FIELDS) + 1])
    return found


def rollup_from_values(values: list[Any]) -> HourRollup:
    """A rollup from [time, *ROLLUP_FIELDS] as InfluxQL returns them (compact states
    expanded, absent counts 0, absent slot strings empty)."""
    hour, states, samples_n, interval_s, seq_first, seq_last = values[:6]
    gaps, resets, unsynced, clients_max, clients_sum, clients_n = values[6:12]
    rtt, loss, jitter, rx, tx = values[12:17]
    return HourRollup(
        hour_ms=int(hour),
        states=states * 60 if len(states) == 1 else states,
        samples_n=int(samples_n or 0),
        interval_s=interval_s,
        seq_first=seq_first,
        seq_last=seq_last,
        seq_gaps=int(gaps or 0),
        seq_resets=int(resets or 0),
        unsynced_n=int(unsynced or 0),
        clients_max=clients_max,
        clients_sum=int(clients_sum or 0),
        clients_n=int(clients_n or 0),
        rtt_median_ms=rtt,
        loss_median_pct=loss,
        jitter_median_ms=jitter,
        rx_kbps_5m=rx if rx is not None else EMPTY_SLOTS,
        tx_kbps_5m=tx if tx is not None else EMPTY_SLOTS,
    )


def daily_fields(
    day_ms: int, rollups: Mapping[int, HourRollup], marks: Marks, packed_ms: int
) -> dict[str, Any]:
    """The packed row's fields: the day's hours, what they were packed from, and when."""
    fields = pack_day(day_ms, rollups, marks)
    fields.update(check_values(marks))
    fields["packed_ms"] = packed_ms
    return fields


def check_values(marks: Marks) -> dict[str, int]:
    """What the report compares with sum("marked_ms") and sum("rolled_ms") of `sla_hourly`
    over the same day: every later mark raises the first, every later rollup changes the
    second (a mark resets its hour's rolled_ms to 0)."""
    return {
        "marked_sum": sum(int(m or 0) for m, _ in marks.values()),
        "rolled_sum": sum(int(r or 0) for _, r in marks.values()),
    }


def daily_line(
    day_ms: int,
    rollups: Mapping[int, HourRollup],
    marks: Marks,
    tags: Mapping[str, Any],
    packed_ms: int,
) -> str:
    chosen = {key: str(tags[key]) for key in TAG_KEYS if tags.get(key)}
    return line(SLA_DAILY, chosen, daily_fields(day_ms, rollups, marks, packed_ms), day_ms)


def _group_tags() -> str:
    return ", ".join(f'"{key}"' for key in TAG_KEYS)
