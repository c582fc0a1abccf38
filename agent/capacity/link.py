"""What a capacity worker needs from its point, declared here so the capacity package never
imports the agent's sampler, spool or settings: the agent hands in its per-point context
(`pantau.agent.point.PointContext`) and its point settings (`PointConfig`), which fit these."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from pantau.agent.sources.base import Reachability
from pantau.shared.contract import EventKind

if TYPE_CHECKING:
    from pantau.agent.capacity.config import BurstConfig, CapacityConfig


class PointLink(Protocol):
    def record_event(
        self, kind: EventKind, ts_ms: int, message: str | None, data: Mapping[str, Any]
    ) -> None:
        """Store an event of the point so it reaches the collector."""
        ...

    def wan_traffic_bps(self) -> float | None:
        """User traffic on the WAN now (rx + tx), None when there is no recent reading."""
        ...

    def offer_burst(self, burst: Reachability) -> None:
        """Hand a ping burst to the point's next sample."""
        ...


class PointSettings(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def source(self) -> object: ...

    @property
    def capacity(self) -> CapacityConfig | None: ...

    @property
    def bursts(self) -> BurstConfig | None: ...
