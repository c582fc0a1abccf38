"""The collector's own health on a Prometheus `/metrics` endpoint.

The numbers are read from the collector's counters when Prometheus asks (a custom collector),
so serving metrics adds no work to the ingest loop. The HTTP server runs in
prometheus_client's own thread. With several workers (collector/workers.py) the supervisor
serves one /metrics: the workers' figures added up (`merge`), the same names as one process,
plus the workers' own gauges.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector as PromCollector

from pantau.collector.noc.config import MetricsConfig
from pantau.collector.stats import WRITE_BUCKETS_S

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from pantau.collector.service import Collector

log = logging.getLogger(__name__)

NS = "pantau_collector"


COUNTERS = (
    "received",
    "accepted",
    "lines_written",
    "lines_buffered",
    "lines_replayed",
    "lines_refused",
    "lines_identical",
    "receipts_sent",
    "seq_gaps",
    "seq_duplicates",
    "samples",
)
ROLLUP_COUNTERS = ("rows_written", "rows_read", "reads", "errors")


@dataclass
class Health:
    """Everything /metrics shows of one collector process, as plain data: read from a running
    collector at scrape time, or sent by each worker to the supervisor and added up (`merge`)."""

    counters: dict[str, int]
    rejected: dict[str, int]
    write_buckets: list[int]
    write_count: int
    write_seconds: float
    buffer_batches: int
    buffer_lines: int
    backlog_lines: int
    influx_up: bool
    mqtt_connected: bool
    last_seen_ms: dict[str, int]
    registry_points: int
    rollups: dict[str, float] | None = None  # backlog, lag_s, largest_read and ROLLUP_COUNTERS
    seq_spans: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    def stats(self) -> dict[str, object]:
        """The counters as the collector logs them (`stats {...}`)."""
        return {**self.counters, "rejected": dict(sorted(self.rejected.items()))}


def health(c: Collector, live: bool = True) -> Health:
    """`live`: with the gauges read from the buffer and the rollup queue; without, only what
    was counted (for a collector that has stopped and closed them)."""
    stats = c.stats
    snap = stats.snapshot()
    buckets, count, total = stats.write_histogram()
    batches, buffered = c.buffer.depth() if live else (0, 0)
    rollups = None
    if c.rollups is not None and live:
        r = c.rollups
        rollups = {
            "backlog": r.pending,
            "lag_s": r.lag_s(),
            "rows_written": r.stats.rows_written,
            "rows_read": r.stats.rows_read,
            "reads": r.stats.reads,
            "largest_read": r.stats.largest_read,
            "errors": r.errors,
        }
    return Health(
        counters={k: v for k, v in snap.items() if isinstance(v, int)},
        rejected=dict(snap["rejected"]),  # type: ignore[call-overload]
        write_buckets=[n for _, n in buckets],
        write_count=count,
        write_seconds=total,
        buffer_batches=batches,
        buffer_lines=buffered,
        backlog_lines=c.writer.backlog,
        influx_up=c.writer.influx_available,
        mqtt_connected=c.wait_connected(0),
        last_seen_ms=dict(stats.last_seen_ms),
        registry_points=len(c.points),
        rollups=rollups,
        seq_spans=stats.seq_spans(),
    )


def merge(parts: list[Health], registry_points: int, retired: Health | None = None) -> Health:
    """Workers added up: counters, backlogs and buffers summed; InfluxDB up and MQTT connected
    only when every worker says so; a point last seen by whichever worker saw it last; the
    rollup lag and largest read the worst of them. `retired` holds the counters of workers that
    died, so a restarted worker starting again from zero never makes a total go down."""
    total = Health(
        counters=dict.fromkeys(COUNTERS, 0),  # and whatever else the workers count
        rejected={},
        write_buckets=[0] * len(WRITE_BUCKETS_S),
        write_count=0,
        write_seconds=0.0,
        buffer_batches=0,
        buffer_lines=0,
        backlog_lines=0,
        influx_up=bool(parts),
        mqtt_connected=bool(parts),
        last_seen_ms={},
        registry_points=registry_points,
    )
    for part in [*parts, retired] if retired is not None else parts:
        add_counters(total, part)
    # Each worker sees only part of a point's seq stream, so gaps and repeats are counted from
    # every worker's span of it together: samples short of the span are gaps, beyond it repeats.
    gaps = repeats = 0
    for low, high, samples in total.seq_spans.values():
        gaps += max(0, high - low + 1 - samples)
        repeats += max(0, samples - (high - low + 1))
    total.counters["seq_gaps"], total.counters["seq_duplicates"] = gaps, repeats
    for part in parts:
        total.buffer_batches += part.buffer_batches
        total.buffer_lines += part.buffer_lines
        total.backlog_lines += part.backlog_lines
        total.influx_up = total.influx_up and part.influx_up
        total.mqtt_connected = total.mqtt_connected and part.mqtt_connected
        for point, seen in part.last_seen_ms.items():
            total.last_seen_ms[point] = max(seen, total.last_seen_ms.get(point, 0))
        if part.rollups is not None:
            assert total.rollups is not None
            total.rollups["backlog"] += part.rollups["backlog"]
            for name in ("lag_s", "largest_read"):
                total.rollups[name] = max(total.rollups[name], part.rollups[name])
    return total


def add_counters(total: Health, part: Health) -> None:
    """Add `part`'s counters (not its gauges) into `total`."""
    for name, value in part.counters.items():
        total.counters[name] = total.counters.get(name, 0) + value
    for reason, value in part.rejected.items():
        total.rejected[reason] = total.rejected.get(reason, 0) + value
    total.write_buckets = [
        a + b for a, b in zip(total.write_buckets, part.write_buckets, strict=True)
    ]
    total.write_count += part.write_count
    total.write_seconds += part.write_seconds
    for point, (low, high, samples) in part.seq_spans.items():
        was = total.seq_spans.get(point)
        if was is not None:
            low, high, samples = min(low, was[0]), max(high, was[1]), samples + was[2]
        total.seq_spans[point] = (low, high, samples)
    if part.rollups is not None:
        if total.rollups is None:
            total.rollups = dict.fromkeys((*ROLLUP_COUNTERS, "backlog", "lag_s", "largest_read"), 0)
        for name in ROLLUP_COUNTERS:
            total.rollups[name] += part.rollups[name]


class CollectorMetrics(PromCollector):
    """The numbers are read when Prometheus asks, from `source` (one collector, or the
    supervisor's sum of its workers), plus whatever `extra` adds (the workers' own gauges)."""

    def __init__(
        self,
        source: Callable[[], Health],
        extra: Callable[[], Iterator[Metric]] | None = None,
    ) -> None:
        self.source = source
        self.extra = extra

    def collect(self) -> Iterator[Metric]:
        h = self.source()
        counters = h.counters
        yield _counter("messages_received", "MQTT messages taken in", counters["received"])
        yield _counter(
            "messages_accepted", "Messages valid and from a known point", counters["accepted"]
        )
        rejected = CounterMetricFamily(
            f"{NS}_messages_rejected", "Messages refused, by reason", labels=["reason"]
        )
        for reason, count in sorted(h.rejected.items()):
            rejected.add_metric([reason], count)
        yield rejected
        yield _counter("samples_accepted", "Samples in accepted telemetry", counters["samples"])
        lines = CounterMetricFamily(
            f"{NS}_lines",
            "Line-protocol rows: written to InfluxDB, buffered on disk, replayed, refused",
            labels=["outcome"],
        )
        for outcome in ("written", "buffered", "replayed", "refused"):
            lines.add_metric([outcome], counters[f"lines_{outcome}"])
        yield lines
        yield _counter(
            "seq_gaps", "Samples missing between consecutive seq numbers", counters["seq_gaps"]
        )
        yield _counter(
            "seq_duplicates", "Samples seen again (redelivered)", counters["seq_duplicates"]
        )
        cumulative = list(zip(WRITE_BUCKETS_S, h.write_buckets, strict=True))
        yield HistogramMetricFamily(
            f"{NS}_write_seconds",
            "Time of one InfluxDB write (batch), successful or not",
            buckets=[(_le(b), n) for b, n in cumulative] + [("+Inf", h.write_count)],
            sum_value=h.write_seconds,
        )
        yield _gauge(
            "buffer_batches", "Batches waiting in the disk buffer for InfluxDB", h.buffer_batches
        )
        yield _gauge("buffer_lines", "Rows waiting in the disk buffer for InfluxDB", h.buffer_lines)
        yield _gauge("backlog_lines", "Rows in memory not yet durable", h.backlog_lines)
        yield _gauge("influx_up", "1 while InfluxDB takes writes", 1 if h.influx_up else 0)
        yield _gauge(
            "mqtt_connected", "1 while subscribed to the broker", 1 if h.mqtt_connected else 0
        )
        now_ms = time.time() * 1000
        ages = GaugeMetricFamily(
            f"{NS}_point_last_seen_age_seconds",
            "Seconds since the last accepted message of each point",
            labels=["point"],
        )
        for point, seen in sorted(h.last_seen_ms.items()):
            ages.add_metric([point], max(0.0, (now_ms - seen) / 1000))
        yield ages
        yield _gauge("registry_points", "Points in the registry", h.registry_points)
        if h.rollups is not None:
            yield from _rollup_metrics(h.rollups)
        if self.extra is not None:
            yield from self.extra()


def _rollup_metrics(r: dict[str, float]) -> Iterator[Metric]:
    yield _gauge(
        "rollup_backlog", "Point-hours whose sla_hourly rollup waits to be recomputed", r["backlog"]
    )
    yield _gauge("rollup_lag_seconds", "How long the oldest waiting rollup has waited", r["lag_s"])
    yield _counter("rollup_rows_written", "sla_hourly rows written", r["rows_written"])
    yield _counter("rollup_rows_read", "Raw telemetry rows read to compute rollups", r["rows_read"])
    yield _counter("rollup_reads", "Bounded raw reads made to compute rollups", r["reads"])
    yield _gauge(
        "rollup_largest_read_rows", "Most raw rows any one rollup read returned", r["largest_read"]
    )
    yield _counter("rollup_errors", "Rollup rounds that failed (their work was kept)", r["errors"])


def _counter(name: str, doc: str, value: object) -> CounterMetricFamily:
    return CounterMetricFamily(f"{NS}_{name}", doc, value=value)  # type: ignore[arg-type]


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{NS}_{name}", doc, value=value)


def _le(bound: float) -> str:
    return repr(float(bound))


class MetricsServer:
    def __init__(self, server: WSGIServer) -> None:
        self.server = server

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def serve(config: MetricsConfig, metrics: CollectorMetrics) -> MetricsServer | None:
    """Start /metrics (`CollectorMetrics(lambda: health(collector))` for one collector); None
    when switched off (port 0)."""
    if config.port == 0:
        return None
    registry = CollectorRegistry(auto_describe=False)
    registry.register(metrics)
    try:
        server, _thread = start_http_server(config.port, config.listen, registry=registry)
    except OSError as exc:  # storing data matters more than describing it: carry on without
        log.error(
            "metrics: cannot listen on %s:%d (%s); running without /metrics",
            config.listen,
            config.port,
            exc.strerror or exc,
        )
        return None
    log.info("metrics on http://%s:%d/metrics", config.listen, config.port)
    return MetricsServer(server)
