"""The test methods behind one interface, and building the one a point's config names."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from pantau.agent.capacity.result import Measurement
from pantau.agent.capacity.settings import ROUTEROS_METHODS, is_routeros, seconds_per_direction
from pantau.shared.errors import ConfigError

if TYPE_CHECKING:
    from pantau.agent.capacity.config import CapacityConfig


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
    if method.kind == "routeros_speedtest":
        return float(method.duration_s * 4)
    return float(seconds_per_direction(method) * len(method.directions))


def build_method(point: str, cfg: CapacityConfig, source: Any) -> Method:
    """The method for a point; a RouterOS method needs a RouterOS source (the router runs it).
    Chosen by `kind`, so the validated model and the running agent's settings build alike."""
    method = cfg.method
    if method.kind == "iperf3":
        from pantau.agent.capacity.iperf3 import Iperf3Test

        return Iperf3Test(method)
    if method.kind == "http":
        from pantau.agent.capacity.http import HttpTest

        return HttpTest(method)
    if method.kind not in ROUTEROS_METHODS:
        raise ConfigError(f"point {point}: no capacity method of kind {method.kind!r}")
    if not is_routeros(source):
        raise ConfigError(
            f"point {point}: field 'capacity.method.kind' {method.kind} needs a routeros source"
        )
    from pantau.agent.capacity.routeros import BandwidthTest, SpeedTest

    if method.kind == "routeros_btest":
        return BandwidthTest(method, source)
    return SpeedTest(method, source)
