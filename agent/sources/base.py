"""What every source returns, and the small interface the run loop drives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Counters:
    """Raw WAN interface counters, 64-bit, as the device reports them."""

    rx_bytes: int | None = None
    tx_bytes: int | None = None
    rx_packets: int | None = None
    tx_packets: int | None = None
    rx_errors: int | None = None
    tx_errors: int | None = None


@dataclass(frozen=True)
class Reachability:
    """WAN reachability: up when any target answered."""

    wan_up: bool | None = None
    rtt_ms: float | None = None
    loss_pct: float | None = None
    jitter_ms: float | None = None


@dataclass(frozen=True)
class SourceIssue:
    """One part of a reading that failed; reported once as an event, not every poll."""

    path: str
    message: str


@dataclass(frozen=True)
class Reading:
    """Everything one poll of one device gave. Unknown values stay None, never 0.

    `device_up` False means the agent is alive but could not reach the device at all; the SLA
    engine tells that apart from an agent that is down (no samples at all).
    """

    device_up: bool
    at_s: float | None = None  # monotonic time the counters were read; rates divide by its delta
    uptime_s: float | None = None
    counters: Counters = field(default_factory=Counters)
    link_up: bool | None = None
    link_downs: int | None = None
    reachability: Reachability | None = None
    clients_assoc: int | None = None
    clients_hotspot: int | None = None
    clients_dhcp: int | None = None
    cpu_pct: float | None = None
    mem_used_pct: float | None = None
    temp_c: float | None = None
    clock_synced: bool | None = None
    facts: dict[str, str] = field(default_factory=dict)
    issues: tuple[SourceIssue, ...] = ()


class Source(Protocol):
    """A device the agent polls. `read` must return within the source's own timeout."""

    kind: str

    def read(self) -> Reading: ...

    def close(self) -> None: ...
