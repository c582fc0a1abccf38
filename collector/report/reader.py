"""Where a report's rows come from: a tiny interface, and its InfluxQL adapter.

Reports read `sla_hourly` (never raw samples) and `capacity`. Tests and the benchmark implement
the same two methods with rows they make themselves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

from pantau.collector.influx import Influx
from pantau.collector.rollup import SLA_HOURLY, whole_series
from pantau.collector.sla.capacity import CapacityTest
from pantau.collector.sla.hourly import HourRollup
from pantau.shared.errors import SinkError

CAPACITY = "capacity"
POINTS_PER_QUERY = 50
PARALLEL_QUERIES = 2
_ROLLUP_FIELDS = (  # HourRollup's fields after hour_ms, in order
    "states",
    "samples_n",
    "interval_s",
    "seq_first",
    "seq_last",
    "seq_gaps",
    "seq_resets",
    "unsynced_n",
    "clients_max",
    "clients_sum",
    "clients_n",
    "rtt_median_ms",
    "loss_median_pct",
    "jitter_median_ms",
    "rx_kbps_5m",
    "tx_kbps_5m",
)
_COLUMNS = ("time", *_ROLLUP_FIELDS)

Rollups = dict[str, dict[int, HourRollup]]
Tests = dict[str, list[CapacityTest]]


class ReportSource(Protocol):
    def rollups(self, points: Sequence[str], start_ms: int, end_ms: int) -> Rollups:
        """Rows of these points with hour in [start_ms, end_ms), by point then hour."""
        ...

    def capacity(self, points: Sequence[str], start_ms: int, end_ms: int) -> Tests:
        """Capacity tests of these points in [start_ms, end_ms), by point."""
        ...


class InfluxSource:
    """Reads through collector.influx.Influx (InfluxQL over /query: 1.x, 2.x and 3.x)."""

    def __init__(self, influx: Influx) -> None:
        self.influx = influx

    def rollups(self, points: Sequence[str], start_ms: int, end_ms: int) -> Rollups:
        """Chunks of points are read concurrently: influxd encodes one while we decode another."""
        select = ", ".join(f'"{name}"' for name in _ROLLUP_FIELDS)
        queries = [
            f'SELECT {select} FROM "{SLA_HOURLY}" WHERE {where}'
            f' AND time >= {start_ms}ms AND time < {end_ms}ms GROUP BY "point"'
            for where in _point_chunks(points)
        ]
        found: Rollups = {}
        with ThreadPoolExecutor(max_workers=PARALLEL_QUERIES) as pool:
            for part in pool.map(self._rollup_rows, queries):
                found.update(part)
        return found

    def _rollup_rows(self, query: str) -> Rollups:
        """Build rows positionally: the SELECT lists HourRollup's fields in its own order."""
        found: Rollups = {}
        for series in whole_series(self.influx.query_raw(query)):
            if tuple(series["columns"]) != _COLUMNS:
                raise SinkError(f"unexpected columns {series['columns']}", retryable=False)
            point = series.get("tags", {}).get("point", "")
            rows = found.setdefault(point, {})
            for values in series["values"]:
                if values[1] is not None:  # a row without states is not a rollup
                    if len(values[1]) == 1:
                        values[1] *= 60  # stored compact: see hourly.compact_states
                    rows[values[0]] = HourRollup(*values)
        return found

    def capacity(self, points: Sequence[str], start_ms: int, end_ms: int) -> Tests:
        """Rows as collector/lines.py stores them: tags direction and method, field mbps."""
        queries = [
            f'SELECT "mbps" FROM "{CAPACITY}" WHERE {where}'
            f' AND time >= {start_ms}ms AND time < {end_ms}ms GROUP BY "point", "direction", "method"'
            for where in _point_chunks(points)
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
                CapacityTest(ts, direction, float(mbps), method)
                for ts, mbps in series["values"]
                if _number(mbps)
            )
        return found


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _point_chunks(points: Sequence[str]) -> list[str]:
    """WHERE clauses selecting the points, a bounded number per query."""
    ordered = list(points)
    return [
        '"point" =~ /^(' + "|".join(ordered[i : i + POINTS_PER_QUERY]) + ")$/"
        for i in range(0, len(ordered), POINTS_PER_QUERY)
    ]


class Prefetch:
    """Per-point rollups, read in chunks a little ahead of the computation that asks for them.

    The report asks for points in a known order; while it computes one chunk the next ones are
    being read (influxd encodes and the network carries while Python computes), and a chunk is
    dropped once passed, so a month of a whole city never sits in memory at once.
    """

    def __init__(
        self,
        source: ReportSource,
        points: Sequence[str],
        start_ms: int,
        end_ms: int,
        chunk: int = POINTS_PER_QUERY,
        ahead: int = PARALLEL_QUERIES,
    ) -> None:
        self._source = source
        self._chunks = [list(points[i : i + chunk]) for i in range(0, len(points), chunk)]
        self._where = {p: i for i, part in enumerate(self._chunks) for p in part}
        self._span = (start_ms, end_ms)
        self._ahead = ahead
        self._pool = ThreadPoolExecutor(max_workers=max(1, ahead))
        self._pending: dict[int, Future[Rollups]] = {}

    def _start(self, index: int) -> None:
        if index < len(self._chunks) and index not in self._pending:
            self._pending[index] = self._pool.submit(
                self._source.rollups, self._chunks[index], *self._span
            )

    def rollups(self, point: str) -> dict[int, HourRollup]:
        index = self._where.get(point)
        if index is None:
            return {}
        for ahead in range(index, index + self._ahead + 1):
            self._start(ahead)
        for passed in [i for i in self._pending if i < index]:
            del self._pending[passed]
        return self._pending[index].result().get(point, {})

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
