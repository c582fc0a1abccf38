"""Where a report's rows come from: a tiny interface, and its InfluxQL adapter.

Reports read `sla_hourly` (never raw samples) and `capacity`. Tests and the benchmark implement
the same two methods with rows they make themselves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, Protocol

from pantau.collector.rollup import SLA_HOURLY, InfluxLike
from pantau.collector.sla.capacity import CapacityTest
from pantau.collector.sla.hourly import HourRollup

CAPACITY = "capacity"
POINTS_PER_QUERY = 50
_ROLLUP_FIELDS = (
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

    def __init__(self, influx: InfluxLike) -> None:
        self.influx = influx

    def rollups(self, points: Sequence[str], start_ms: int, end_ms: int) -> Rollups:
        found: Rollups = defaultdict(dict)
        select = ", ".join(f'"{name}"' for name in _ROLLUP_FIELDS)
        for where in _point_chunks(points):
            rows = self.influx.query(
                f'SELECT {select}, "point" FROM "{SLA_HOURLY}" WHERE {where}'
                f" AND time >= {start_ms}ms AND time < {end_ms}ms"
            )
            for row in rows:
                hour = int(row["time"])
                found[str(row["point"])][hour] = HourRollup.from_fields(hour, row)
        return found

    def capacity(self, points: Sequence[str], start_ms: int, end_ms: int) -> Tests:
        found: Tests = defaultdict(list)
        for where in _point_chunks(points):
            rows = self.influx.query(
                f'SELECT * FROM "{CAPACITY}" WHERE {where}'
                f" AND time >= {start_ms}ms AND time < {end_ms}ms"
            )
            for row in rows:
                found[str(row.get("point"))].extend(capacity_tests(row))
        return found


def capacity_tests(row: dict[str, Any]) -> list[CapacityTest]:
    """One stored capacity row → its tests: a `direction` tag with `mbps`, or the fields
    `down_mbps` / `up_mbps` of a combined row."""
    ts = int(row["time"])
    method = str(row.get("method") or "")
    direction = row.get("direction")
    if direction in ("down", "up") and _number(row.get("mbps")):
        return [CapacityTest(ts, str(direction), float(row["mbps"]), method)]
    tests = []
    for name in ("down", "up"):
        value = row.get(f"{name}_mbps")
        if _number(value):
            tests.append(CapacityTest(ts, name, float(value), method))
    return tests


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _point_chunks(points: Sequence[str]) -> list[str]:
    """WHERE clauses selecting the points, a bounded number per query."""
    ordered = sorted(points)
    return [
        '"point" =~ /^(' + "|".join(ordered[i : i + POINTS_PER_QUERY]) + ")$/"
        for i in range(0, len(ordered), POINTS_PER_QUERY)
    ]
