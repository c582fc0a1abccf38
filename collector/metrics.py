"""The collector's own health on a Prometheus `/metrics` endpoint.

The numbers are read from the collector's counters when Prometheus asks (a custom collector),
so serving metrics adds no work to the single-threaded ingest loop. The HTTP server runs in
prometheus_client's own thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
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

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from pantau.collector.rollup_queue import RollupQueue
    from pantau.collector.service import Collector

log = logging.getLogger(__name__)

NS = "pantau_collector"


class CollectorMetrics(PromCollector):
    def __init__(self, collector: Collector) -> None:
        self.collector = collector

    def collect(self) -> Iterator[Metric]:
        c = self.collector
        stats = c.stats
        snap = stats.snapshot()
        yield _counter("messages_received", "MQTT messages taken in", snap["received"])
        yield _counter(
            "messages_accepted", "Messages valid and from a known point", snap["accepted"]
        )
        rejected = CounterMetricFamily(
            f"{NS}_messages_rejected", "Messages refused, by reason", labels=["reason"]
        )
        for reason, count in sorted(snap["rejected"].items()):  # type: ignore[attr-defined]
            rejected.add_metric([reason], count)
        yield rejected
        yield _counter("samples_accepted", "Samples in accepted telemetry", snap["samples"])
        lines = CounterMetricFamily(
            f"{NS}_lines",
            "Line-protocol rows: written to InfluxDB, buffered on disk, replayed, refused",
            labels=["outcome"],
        )
        for outcome in ("written", "buffered", "replayed", "refused"):
            lines.add_metric([outcome], snap[f"lines_{outcome}"])  # type: ignore[arg-type]
        yield lines
        yield _counter(
            "seq_gaps", "Samples missing between consecutive seq numbers", snap["seq_gaps"]
        )
        yield _counter("seq_duplicates", "Samples seen again (redelivered)", snap["seq_duplicates"])
        buckets, count, total = stats.write_histogram()
        yield HistogramMetricFamily(
            f"{NS}_write_seconds",
            "Time of one InfluxDB write (batch), successful or not",
            buckets=[(_le(b), n) for b, n in buckets] + [("+Inf", count)],
            sum_value=total,
        )
        batches, buffered = c.buffer.depth()
        yield _gauge("buffer_batches", "Batches waiting in the disk buffer for InfluxDB", batches)
        yield _gauge("buffer_lines", "Rows waiting in the disk buffer for InfluxDB", buffered)
        yield _gauge("backlog_lines", "Rows in memory not yet durable", c.writer.backlog)
        yield _gauge(
            "influx_up", "1 while InfluxDB takes writes", 1 if c.writer.influx_available else 0
        )
        yield _gauge(
            "mqtt_connected", "1 while subscribed to the broker", 1 if c.wait_connected(0) else 0
        )
        now_ms = time.time() * 1000
        ages = GaugeMetricFamily(
            f"{NS}_point_last_seen_age_seconds",
            "Seconds since the last accepted message of each point",
            labels=["point"],
        )
        for point, seen in sorted(dict(stats.last_seen_ms).items()):
            ages.add_metric([point], max(0.0, (now_ms - seen) / 1000))
        yield ages
        yield _gauge("registry_points", "Points in the registry", len(c.points))
        if c.rollups is not None:
            yield from _rollup_metrics(c.rollups)


def _rollup_metrics(rollups: RollupQueue) -> Iterator[Metric]:
    yield _gauge(
        "rollup_backlog",
        "Point-hours whose sla_hourly rollup waits to be recomputed",
        rollups.pending,
    )
    yield _gauge(
        "rollup_lag_seconds", "How long the oldest waiting rollup has waited", rollups.lag_s()
    )
    stats = rollups.stats
    yield _counter("rollup_rows_written", "sla_hourly rows written", stats.rows_written)
    yield _counter(
        "rollup_rows_read", "Raw telemetry rows read to compute rollups", stats.rows_read
    )
    yield _counter("rollup_reads", "Bounded raw reads made to compute rollups", stats.reads)
    yield _gauge(
        "rollup_largest_read_rows", "Most raw rows any one rollup read returned", stats.largest_read
    )
    yield _counter(
        "rollup_errors", "Rollup rounds that failed (their work was kept)", rollups.errors
    )


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


def serve(config: MetricsConfig, collector: Collector) -> MetricsServer | None:
    """Start /metrics for this collector; None when switched off (port 0)."""
    if config.port == 0:
        return None
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CollectorMetrics(collector))
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
