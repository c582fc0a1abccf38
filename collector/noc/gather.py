"""One look at the whole city: read InfluxDB once, combine with agent states and the registry."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from pantau.collector.influxdb.client import Influx
from pantau.collector.noc.config import AlertsConfig
from pantau.collector.noc.observe import (
    AgentState,
    KelurahanView,
    PointView,
    classify,
    committed_mbps,
    group_by_kelurahan,
    in_service,
)
from pantau.collector.noc.reader import Telemetry, facts_for, read_telemetry, read_tests
from pantau.collector.noc.throughput import lacks_rates, read_null_throughput, with_throughput
from pantau.shared.registry import Registry


@dataclass(frozen=True)
class CityView:
    now_ms: int
    points: list[PointView]
    kelurahan: list[KelurahanView]
    telemetry: Telemetry

    def kelurahan_named(self, name: str) -> KelurahanView | None:
        wanted = name.strip().casefold()
        return next((k for k in self.kelurahan if k.name.casefold() == wanted), None)


def gather(
    registry: Registry,
    influx: Influx,
    states: dict[str, AgentState],
    config: AlertsConfig,
    now_ms: int,
    exact: Collection[str] = (),
    tests_per_direction: int | None = None,
) -> CityView:
    points = [p for p in registry.points if in_service(p, now_ms)]
    telemetry = read_telemetry(influx, now_ms, config.lookback_s, config.silent_after_s, exact)
    per_direction = tests_per_direction or config.rules.capacity_low.consecutive
    tests = read_tests(influx, now_ms, config.rules.capacity_low.lookback_days, per_direction)
    facts = facts_for([p.id for p in points], telemetry, states, tests)
    views = []
    for point in points:
        committed = committed_mbps(registry, point, now_ms) or (None, None)
        views.append(classify(point, facts[point.id], now_ms, config.silent_after_s, committed))
    lacking = [v.id for v in views if lacks_rates(v)]
    views = with_throughput(views, read_null_throughput(influx, lacking, now_ms, config.lookback_s))
    return CityView(now_ms, views, group_by_kelurahan(views), telemetry)
