"""Where a report's rows come from: a tiny interface, and its InfluxQL adapter.

Reports read rollups (never raw samples) and `capacity`. Tests and the benchmark implement the
same two methods with rows they make themselves.

Rollups are read from `sla_daily` (one packed row per point and WIB day, collector/
rollup_daily.py) wherever that row still matches `sla_hourly`, and from `sla_hourly` itself
where it does not (no packed row: no data, rows from before packing existed, a refresh that did
not happen; or hours rolled or marked since it was packed). One aggregate query per chunk of
points tells which: the packed row records the sums of its hours' `marked_ms` and `rolled_ms`,
and any later mark or rollup changes those sums (first compared per point over the whole span,
then per day for the points where they differ). Every answer is bounded: at most 33 rows
(days) or 792 rows (hours) in a series, 50 points a query.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

from pantau.collector.influxdb import influxql
from pantau.collector.influxdb.client import Influx
from pantau.collector.lines import CAPACITY, SLA_DAILY, SLA_HOURLY, TELEMETRY
from pantau.collector.report.unregistered import UnregisteredPoint
from pantau.collector.rollup import whole_series
from pantau.collector.rollup_daily import (
    CHECK_FIELDS,
    ROLLUP_FIELDS,
    read_hours,
    rollup_from_values,
)
from pantau.collector.sla.capacity import CapacityTest
from pantau.collector.sla.daily import PACKED_FIELDS, PointHours, pack_day, unpack, wib_day
from pantau.collector.sla.hourly import HourRollup
from pantau.collector.sla.periods import DAY_MS, HOUR_MS
from pantau.shared.errors import SinkError

POINTS_PER_QUERY = 50
PARALLEL_QUERIES = 2
_DAY_FIELDS = (*PACKED_FIELDS, *CHECK_FIELDS)
_WIB_DAYS = "time(1d, 17h)"
_NO_MARKS = (
    0,
    0,
)  # the check of a day whose hourly rows carry no marks (or that has none)  # InfluxQL buckets of whole WIB days (00:00 WIB = 17:00 UTC)

Rollups = dict[str, dict[int, HourRollup]]
Tests = dict[str, list[CapacityTest]]
Hours = dict[str, PointHours]


class ReportSource(Protocol):
    def hours(self, points: Sequence[str], start_ms: int, end_ms: int) -> Hours:
        """Each point's rollups over the hours of [start_ms, end_ms), as columns."""
        ...

    def capacity(self, points: Sequence[str], start_ms: int, end_ms: int) -> Tests:
        """Capacity tests of these points in [start_ms, end_ms), by point."""
        ...


class InfluxSource:
    """Reads through collector.influxdb.client.Influx (InfluxQL over /query: 1.x, 2.x and 3.x)."""

    def __init__(self, influx: Influx) -> None:
        self.influx = influx

    # -- rollups as columns --------------------------------------------------------------------
    def hours(self, points: Sequence[str], start_ms: int, end_ms: int) -> Hours:
        """Chunks of points are read concurrently: influxd encodes one while we decode another."""
        ordered = list(points)
        chunks = [
            ordered[i : i + POINTS_PER_QUERY] for i in range(0, len(ordered), POINTS_PER_QUERY)
        ]
        found: Hours = {}
        with ThreadPoolExecutor(max_workers=PARALLEL_QUERIES) as pool:
            for part in pool.map(lambda c: self._hours(c, start_ms, end_ms), chunks):
                found.update(part)
        return found

    def _hours(self, points: list[str], start_ms: int, end_ms: int) -> Hours:
        if (end_ms - start_ms) % HOUR_MS or start_ms % HOUR_MS:
            raise ValueError(f"[{start_ms}, {end_ms}) is not whole hours")
        first_day, end_day = wib_day(start_ms), wib_day(end_ms - 1) + DAY_MS
        daily = self._daily(points, first_day, end_day)
        totals = self._hourly_checks(points, first_day, end_day, by_day=False)
        # A point whose packed rows add up to its hourly totals has every packed row valid
        # (any later mark raises marked_sum, any later rollup changes rolled_sum); the others
        # are compared day by day. Days without a valid packed row are read hour by hour (a
        # day without any data has no packed row, and its read finds nothing).
        unsure = [
            point
            for point in points
            if _sum_checks(daily.get(point, {}).values()) != totals.get((point, 0), _NO_MARKS)
        ]
        by_day = self._hourly_checks(unsure, first_day, end_day, by_day=True) if unsure else {}
        days = range(first_day, end_day, DAY_MS)
        stale: dict[str, set[int]] = {}
        for point in points:
            packed = daily.get(point, {})
            if point in unsure:
                redo = {
                    day
                    for day in days
                    if _packed_check(packed.get(day)) != by_day.get((point, day), _NO_MARKS)
                }
            else:
                redo = {day for day in days if day not in packed}
            if redo:
                stale[point] = redo
        rows = self._hourly_rows(stale, first_day, end_day)
        hours = (end_ms - start_ms) // HOUR_MS
        found: Hours = {}
        for point in points:
            redo = stale.get(point, set())
            rollups, marks = rows.get(point, ({}, {}))
            packed = daily.get(point, {})
            if redo and not set(packed) - redo:  # nothing usable packed: build from the hours
                found[point] = PointHours.from_rollups(rollups, start_ms, end_ms, marks)
                continue
            runs = [(day, fields) for day, fields in packed.items() if day not in redo]
            for day in redo:
                in_day = range(day, day + DAY_MS, HOUR_MS)
                runs.append(
                    (
                        day,
                        pack_day(
                            day,
                            {h: rollups[h] for h in in_day if h in rollups},
                            {h: marks[h] for h in in_day if h in marks},
                        ),
                    )
                )
            found[point] = unpack(start_ms, hours, runs)
        return found

    def _hourly_checks(
        self, points: list[str], start_ms: int, end_ms: int, by_day: bool
    ) -> dict[tuple[str, int], tuple[int, ...]]:
        """The sums a packed row records, from `sla_hourly`: per (point, WIB day) with by_day,
        else per (point, 0) over the whole span (cheaper: no time buckets). Zero sums are left
        out."""
        group = f'{_WIB_DAYS}, "point" fill(none)' if by_day else '"point"'
        answer = self.influx.query_raw(
            f'SELECT sum("marked_ms") AS "marked_sum", sum("rolled_ms") AS "rolled_sum"'
            f' FROM "{SLA_HOURLY}" WHERE {influxql.points(points)}'
            f" AND time >= {start_ms}ms AND time < {end_ms}ms GROUP BY {group}"
        )
        found: dict[tuple[str, int], tuple[int, ...]] = {}
        for series in whole_series(answer):
            point = series.get("tags", {}).get("point", "")
            at = [series["columns"].index(k) for k in CHECK_FIELDS]
            for values in series["values"]:
                check = tuple(int(values[i] or 0) for i in at)
                if any(check):
                    found[(point, int(values[0]) if by_day else 0)] = check
        return found

    def _daily(
        self, points: list[str], start_ms: int, end_ms: int
    ) -> dict[str, dict[int, dict[str, Any]]]:
        select = ", ".join(f'"{name}"' for name in _DAY_FIELDS)
        answer = self.influx.query_raw(
            f'SELECT {select} FROM "{SLA_DAILY}" WHERE {influxql.points(points)}'
            f' AND time >= {start_ms}ms AND time < {end_ms}ms GROUP BY "point"'
        )
        found: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
        for series in whole_series(answer):
            point = series.get("tags", {}).get("point", "")
            columns = series["columns"]
            for values in series["values"]:
                row = dict(zip(columns, values, strict=True))
                if row.get("hours"):
                    found[point][int(row["time"])] = row
        return found

    def _hourly_rows(
        self, days: Mapping[str, set[int]], start_ms: int, end_ms: int
    ) -> dict[str, tuple[dict[int, HourRollup], dict[int, tuple[int | None, int | None]]]]:
        """Rollups and marks of the points with days to redo, over the span of those days."""
        wanted = sorted(p for p, d in days.items() if d)
        if not wanted:
            return {}
        lo = max(start_ms, min(min(days[p]) for p in wanted))
        hi = min(end_ms, max(max(days[p]) for p in wanted) + DAY_MS)
        return {
            point: (rollups, marks)
            for point, (rollups, marks, _) in read_hours(self.influx, wanted, lo, hi).items()
        }

    # -- rollups as rows -----------------------------------------------------------------------
    def rollups(self, points: Sequence[str], start_ms: int, end_ms: int) -> Rollups:
        """These points' `sla_hourly` rollups with hour in [start_ms, end_ms), by point then
        hour (rows with only a mark are not rollups). For tools and tests; reports use hours."""
        select = ", ".join(f'"{name}"' for name in ROLLUP_FIELDS)
        ordered = list(points)
        found: Rollups = {}
        for i in range(0, len(ordered), POINTS_PER_QUERY):
            answer = self.influx.query_raw(
                f'SELECT {select} FROM "{SLA_HOURLY}"'
                f" WHERE {influxql.points(ordered[i : i + POINTS_PER_QUERY])}"
                f' AND time >= {start_ms}ms AND time < {end_ms}ms GROUP BY "point"'
            )
            for series in whole_series(answer):
                if tuple(series["columns"]) != ("time", *ROLLUP_FIELDS):
                    raise SinkError(f"unexpected columns {series['columns']}", retryable=False)
                rows = found.setdefault(series.get("tags", {}).get("point", ""), {})
                for values in series["values"]:
                    if values[1] is not None:
                        rows[int(values[0])] = rollup_from_values(values)
        return found

    # -- points the registry does not list ------------------------------------------------
    def unregistered(
        self, known: Collection[str], start_ms: int, end_ms: int
    ) -> list[UnregisteredPoint]:
        """Points with telemetry or `sla_hourly` rows in [start_ms, end_ms) that are not in known.

        One `SHOW TAG VALUES` lists the candidates from the series index (InfluxDB 1.x may
        answer for all time: no rows are read); only the few not in known are then counted,
        over the month, by point and tag set, four aggregates in one request."""
        answer = self.influx.query_raw(
            f'SHOW TAG VALUES FROM "{TELEMETRY}", "{SLA_HOURLY}" WITH KEY = "point"'
            f" WHERE {influxql.between(start_ms, end_ms)}"
        )
        wanted = set(known)
        candidates = sorted({str(v[1]) for s in whole_series(answer) for v in s["values"]} - wanted)
        found: dict[str, _Stored] = {}
        for i in range(0, len(candidates), POINTS_PER_QUERY):
            self._count_stored(candidates[i : i + POINTS_PER_QUERY], start_ms, end_ms, found)
        return [s.point(pid) for pid, s in sorted(found.items()) if s.hours or s.samples]

    def _count_stored(
        self, points: list[str], start_ms: int, end_ms: int, found: dict[str, _Stored]
    ) -> None:
        where = f"WHERE {influxql.points(points)} AND {influxql.between(start_ms, end_ms)}"
        group = 'GROUP BY "point", "provider", "kelurahan", "kecamatan"'
        statements = (
            f'SELECT count("rolled_ms") FROM "{SLA_HOURLY}" {where} {group}',
            f'SELECT first("rolled_ms") FROM "{SLA_HOURLY}" {where} {group}',
            f'SELECT last("rolled_ms") FROM "{SLA_HOURLY}" {where} {group}',
            f'SELECT count("seq") FROM "{TELEMETRY}" {where} {group}',
            f'SELECT first("seq") FROM "{TELEMETRY}" {where} {group}',
            f'SELECT last("seq") FROM "{TELEMETRY}" {where} {group}',
        )
        results = self.influx.query_raw("; ".join(statements))
        for result in results:
            kind = _STORED_KINDS[int(result.get("statement_id", 0))]
            for series in whole_series([result]):
                tags = series.get("tags", {})
                stored = found.setdefault(tags.get("point", ""), _Stored())
                stored.tag(tags)
                for values in series["values"]:
                    stored.add(kind, int(values[0]), int(values[1] or 0))

    # -- capacity ------------------------------------------------------------------------------
    def capacity(self, points: Sequence[str], start_ms: int, end_ms: int) -> Tests:
        """Rows as collector/lines.py stores them: tags direction and method, field mbps, and
        what the agent said of the test (sla/capacity.py decides whether it counts)."""
        ordered = list(points)
        fields = ", ".join(f'"{name}"' for name in ("mbps", *CAPACITY_FLAGS))
        queries = [
            f'SELECT {fields} FROM "{CAPACITY}"'
            f" WHERE {influxql.points(ordered[i : i + POINTS_PER_QUERY])}"
            f' AND time >= {start_ms}ms AND time < {end_ms}ms GROUP BY "point", "direction", "method"'
            for i in range(0, len(ordered), POINTS_PER_QUERY)
        ]
        found: Tests = defaultdict(list)
        with ThreadPoolExecutor(max_workers=PARALLEL_QUERIES) as pool:
            for part in pool.map(self._capacity_rows, queries):
                for point, tests in part.items():
                    found[point].extend(tests)
        for tests in found.values():
            tests.sort(key=lambda t: (t.ts_ms, t.direction))
        return dict(found)

    def _capacity_rows(self, query: str) -> Tests:
        found: Tests = defaultdict(list)
        for series in whole_series(self.influx.query_raw(query)):
            tags = series.get("tags", {})
            direction, method = tags.get("direction", ""), tags.get("method", "")
            if direction not in ("down", "up"):
                continue
            found[tags.get("point", "")].extend(
                capacity_test(values, direction, method)
                for values in series["values"]
                if _number(values[1])
            )
        return found


CAPACITY_FLAGS = ("low", "server_loaded", "server_busy", "retest", "retest_of_ms")


def capacity_test(values: Sequence[Any], direction: str, method: str) -> CapacityTest:
    """A row of time, mbps and CAPACITY_FLAGS (null where the agent did not say)."""
    ts, mbps, low, loaded, busy, retest, retest_of = values
    return CapacityTest(
        int(ts),
        direction,
        float(mbps),
        method,
        low=low is True,
        server_loaded=loaded is True,
        server_busy=busy is True,
        retest=retest if isinstance(retest, str) else "",
        retest_of_ms=int(retest_of) if _number(retest_of) else None,
    )


def _packed_check(fields: Mapping[str, Any] | None) -> tuple[int, ...] | None:
    return tuple(int(fields.get(k) or 0) for k in CHECK_FIELDS) if fields else None


def _sum_checks(rows: Iterable[Mapping[str, Any]]) -> tuple[int, ...]:
    sums = [0] * len(CHECK_FIELDS)
    for fields in rows:
        for i, key in enumerate(CHECK_FIELDS):
            sums[i] += int(fields.get(key) or 0)
    return tuple(sums)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class Prefetch:
    """Per-point hours and tests, read in chunks a little ahead of the computation that asks
    for them.

    The report asks for points in a known order; while it computes one chunk the next ones are
    being read (influxd encodes and the network carries while Python computes), and a chunk is
    dropped once passed, so a month of a whole city never sits in memory at once.
    """

    def __init__(
        self,
        source: ReportSource,
        points: Sequence[str],
        hours_span: tuple[int, int],
        tests_span: tuple[int, int],
        chunk: int = POINTS_PER_QUERY,
        ahead: int = PARALLEL_QUERIES,
    ) -> None:
        self._source = source
        self._chunks = [list(points[i : i + chunk]) for i in range(0, len(points), chunk)]
        self._where = {p: i for i, part in enumerate(self._chunks) for p in part}
        self._hours_span = hours_span
        self._tests_span = tests_span
        self._ahead = ahead
        # a chunk's hours and its tests are read at once: two queries in flight per chunk
        self._pool = ThreadPoolExecutor(max_workers=2 * max(1, ahead))
        self._pending: dict[int, tuple[Future[Hours], Future[Tests]]] = {}

    def _chunk(self, point: str) -> tuple[Hours, Tests]:
        index = self._where[point]
        for ahead in range(index, index + self._ahead + 1):
            if ahead < len(self._chunks) and ahead not in self._pending:
                points = self._chunks[ahead]
                self._pending[ahead] = (
                    self._pool.submit(self._source.hours, points, *self._hours_span),
                    self._pool.submit(self._source.capacity, points, *self._tests_span),
                )
        for passed in [i for i in self._pending if i < index]:
            del self._pending[passed]
        hours, tests = self._pending[index]
        return hours.result(), tests.result()

    def hours(self, point: str) -> PointHours:
        return self._chunk(point)[0][point]

    def tests(self, point: str) -> list[CapacityTest]:
        return self._chunk(point)[1].get(point, [])

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


_STORED_KINDS = ("hours", "time", "time", "samples", "time", "time")


class _Stored:
    """One unregistered point's counts and tags, summed over the tag sets it was stored under."""

    def __init__(self) -> None:
        self.hours = 0
        self.samples = 0
        self.times: list[int] = []
        self.tags: dict[str, set[str]] = {"provider": set(), "kelurahan": set(), "kecamatan": set()}

    def tag(self, tags: Mapping[str, str]) -> None:
        for key, values in self.tags.items():
            if tags.get(key):
                values.add(tags[key])

    def add(self, kind: str, time_ms: int, value: int) -> None:
        if kind == "hours":
            self.hours += value
        elif kind == "samples":
            self.samples += value
        else:
            self.times.append(time_ms)

    def point(self, pid: str) -> UnregisteredPoint:
        return UnregisteredPoint(
            id=pid,
            providers=tuple(sorted(self.tags["provider"])),
            kelurahan=tuple(sorted(self.tags["kelurahan"])),
            kecamatan=tuple(sorted(self.tags["kecamatan"])),
            hours=self.hours,
            samples=self.samples,
            first_ms=min(self.times, default=None),
            last_ms=max(self.times, default=None),
        )
