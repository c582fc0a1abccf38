"""Points whose router answers but whose WAN rates stay null: what InfluxDB says about them.

A `wan_interface` the router does not have (`ether1` where the port is `ether1-wan`) costs a
point every rate while all else looks well: one `source_error` event when the agent starts, and
samples with `device_up` true and `rx_bps`/`tx_bps` null from then on. Only points whose newest
sample looks like that are followed here (few, and each on its own series, so it stays cheap):
since when the rates have been missing, which interface the agent is set to read, and what the
agent said when it could not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields

from pantau.collector.influxdb.client import Influx
from pantau.collector.influxdb.influxql import string
from pantau.collector.noc.observe import PointState, PointView
from pantau.collector.noc.reader import _rows, _run_chunked, first_after

SUBJECT = "/interface"  # the path a failed WAN interface read is reported under
REPORTS_DAYS = 30  # an agent reports a missing interface once, when it starts: look back far
QUERIES = 6


@dataclass(frozen=True, slots=True)
class NullThroughput:
    """A point whose newest sample has the router answering and no rates."""

    since_ms: int | None  # first sample of the current run of answered samples without rates
    interface: str | None = None  # the wan_interface its agent reads (state fact), if known
    reported: str | None = None  # the agent's open `source_error` on the interface, if any


@dataclass(frozen=True, slots=True)
class WatchedPoint(PointView):
    """A point view with what is known of its missing rates."""

    null_throughput: NullThroughput | None = None


def lacks_rates(view: PointView) -> bool:
    """The newest sample says the router answers, yet carries neither rate."""
    latest = view.latest
    return (
        view.state in (PointState.UP, PointState.PROVIDER_DOWN)
        and latest is not None
        and latest.device_up
        and latest.rx_bps is None
        and latest.tx_bps is None
    )


def with_throughput(
    views: Iterable[PointView], found: dict[str, NullThroughput]
) -> list[PointView]:
    """The views, those with missing rates carrying what was found about them."""
    out: list[PointView] = []
    for view in views:
        if view.id in found:
            values = {f.name: getattr(view, f.name) for f in fields(PointView)}
            out.append(WatchedPoint(**values, null_throughput=found[view.id]))
        else:
            out.append(view)
    return out


def read_null_throughput(
    influx: Influx, points: list[str], now_ms: int, lookback_s: float
) -> dict[str, NullThroughput]:
    """For each point: when its rates went missing, its wan_interface, its agent's report."""
    if not points:
        return {}
    start = now_ms - int(lookback_s * 1000)
    reports_from = now_ms - REPORTS_DAYS * 86_400_000
    statements: list[str] = []
    for point in points:
        mine = f'"point" = {string(point)}'
        window = f"{mine} AND time > {start}ms AND time <= {now_ms}ms"
        statements += [
            f'SELECT last("rx_bps") FROM "telemetry" WHERE {window}',
            f'SELECT last("tx_bps") FROM "telemetry" WHERE {window}',
            f'SELECT last("seq") FROM "telemetry" WHERE {window} AND "device_up" = false',
            f'SELECT first("seq") FROM "telemetry" WHERE {window}',
            f'SELECT last("fact_wan_interface") FROM "state" WHERE {mine}'
            f" AND time > {reports_from}ms AND time <= {now_ms}ms",
            f'SELECT "message", "kind" FROM "event" WHERE {mine}'
            f' AND "subject" = {string(SUBJECT)} AND time > {reports_from}ms'
            f" AND time <= {now_ms}ms ORDER BY time DESC LIMIT 1",
        ]
    results = _run_chunked(influx, statements)
    after: dict[str, int] = {}  # the last sample with a rate, or with the router unreachable
    first: dict[str, int] = {}
    interface: dict[str, str] = {}
    reported: dict[str, str] = {}
    for index, point in enumerate(points):
        rows = [_rows(r) for r in results[index * QUERIES : (index + 1) * QUERIES]]
        ends = [int(found[0]["time"]) for found in rows[:3] if found]
        if ends:
            after[point] = max(ends)
        if rows[3]:
            first[point] = int(rows[3][0]["time"])
        if rows[4] and rows[4][0].get("last"):
            interface[point] = str(rows[4][0]["last"])
        if rows[5] and rows[5][0].get("kind") == "source_error" and rows[5][0].get("message"):
            reported[point] = str(rows[5][0]["message"])
    resumed = first_after(influx, after, now_ms)
    since = {p: resumed.get(p) if p in after else first.get(p) for p in points}
    return {
        point: NullThroughput(since[point], interface.get(point), reported.get(point))
        for point in points
    }
