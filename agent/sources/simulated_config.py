"""Settings of a simulated point (agent/sources/simulated.py), validated once at start-up."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from pantau.agent.sources.simulated import within
from pantau.shared.config import Section

if TYPE_CHECKING:
    from pantau.agent.sources.base import Source
    from pantau.agent.sources.clock import Clock


class Window(Section):
    start: dt.datetime
    end: dt.datetime

    def contains(self, t_s: float) -> bool:
        return within(self, t_s)


class SimulatedSourceConfig(Section):
    kind: Literal["simulated"]
    seed: int = 0
    link_mbps: float = Field(default=50.0, gt=0, description="Capacity outside the peak window")
    peak_link_mbps: float | None = Field(
        default=None, gt=0, description="Capacity 19:00-23:00 WIB (a congested provider)"
    )
    peak_clients: int = Field(default=30, ge=0, le=10_000)
    per_client_kbps: float = Field(default=600.0, ge=0)
    fixed_rx_bps: float | None = Field(default=None, ge=0, description="Constant rate (tests)")
    fixed_tx_bps: float | None = Field(default=None, ge=0)
    fixed_clients: int | None = Field(default=None, ge=0)
    rtt_ms: float = Field(default=12.0, ge=0)
    loss_pct: float = Field(default=0.0, ge=0, le=100)
    reboot_after_s: list[float] = Field(
        default_factory=list, description="Reboot this many seconds after the source starts"
    )
    wan_down: list[Window] = Field(default_factory=list, description="Provider outages")
    device_down: list[Window] = Field(
        default_factory=list, description="Router unreachable while the agent lives"
    )

    def build(self, point: str, clock: Clock) -> Source:
        from pantau.agent.sources.simulated import SimulatedSource

        return SimulatedSource(point, self, clock)
