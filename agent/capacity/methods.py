"""The test methods behind one interface, and building the one a point's config names."""

from __future__ import annotations

from typing import Protocol

from pantau.agent.capacity.config import (
    BandwidthTestMethod,
    CapacityConfig,
    HttpMethod,
    Iperf3Method,
    SpeedTestMethod,
)
from pantau.agent.capacity.result import Measurement
from pantau.agent.sources.routeros.config import RouterOSSourceConfig
from pantau.shared.errors import ConfigError


class Method(Protocol):
    name: str
    server: str

    @property
    def seconds(self) -> float:
        """How long one test runs, all directions."""
        ...

    def measure(self, max_bytes: int | None = None) -> Measurement: ...


def priced_seconds(cfg: CapacityConfig) -> float:
    """Seconds of full-speed traffic one test moves (directions run one after the other or at
    once, the data is the same): what the daily budget is estimated with."""
    method = cfg.method
    if isinstance(method, SpeedTestMethod):
        return float(method.duration_s * 4)
    return float(method.seconds_per_direction * len(method.directions))


def build_method(point: str, cfg: CapacityConfig, source: object) -> Method:
    """The method for a point; a RouterOS method needs a RouterOS source (the router runs it)."""
    method = cfg.method
    if isinstance(method, Iperf3Method):
        from pantau.agent.capacity.iperf3 import Iperf3Test

        return Iperf3Test(method)
    if isinstance(method, HttpMethod):
        from pantau.agent.capacity.http import HttpTest

        return HttpTest(method)
    if not isinstance(source, RouterOSSourceConfig):
        raise ConfigError(
            f"point {point}: field 'capacity.method.kind' {method.kind} needs a routeros source"
        )
    from pantau.agent.capacity.routeros import BandwidthTest, SpeedTest

    if isinstance(method, BandwidthTestMethod):
        return BandwidthTest(method, source)
    return SpeedTest(method, source)
