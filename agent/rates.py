"""Rates from counter deltas: pure, so resets and wraps can be tested exhaustively."""

from __future__ import annotations

from dataclasses import dataclass

from pantau.agent.sources.base import Counters


@dataclass(frozen=True)
class CounterSnapshot:
    """Counters at a monotonic instant, with the device uptime to spot reboots."""

    at_s: float
    uptime_s: float | None
    counters: Counters


@dataclass(frozen=True)
class Rates:
    rx_bps: float | None = None
    tx_bps: float | None = None


def compute_rates(previous: CounterSnapshot | None, current: CounterSnapshot) -> Rates:
    """Bits per second over the real elapsed time.

    A counter that went backwards or an uptime that dropped means the device reset (reboot,
    counter clear): that interval's rate is unknown (None), never negative and never a spike.
    """
    if previous is None:
        return Rates()
    elapsed = current.at_s - previous.at_s
    if elapsed <= 0:
        return Rates()
    if (
        previous.uptime_s is not None
        and current.uptime_s is not None
        and current.uptime_s < previous.uptime_s
    ):
        return Rates()
    prev, cur = previous.counters, current.counters
    if _went_backwards(prev, cur):
        return Rates()
    return Rates(
        rx_bps=_rate(prev.rx_bytes, cur.rx_bytes, elapsed),
        tx_bps=_rate(prev.tx_bytes, cur.tx_bytes, elapsed),
    )


def _went_backwards(prev: Counters, cur: Counters) -> bool:
    pairs = (
        (prev.rx_bytes, cur.rx_bytes),
        (prev.tx_bytes, cur.tx_bytes),
        (prev.rx_packets, cur.rx_packets),
        (prev.tx_packets, cur.tx_packets),
    )
    return any(a is not None and b is not None and b < a for a, b in pairs)


def _rate(before: int | None, after: int | None, elapsed_s: float) -> float | None:
    if before is None or after is None:
        return None
    return (after - before) * 8 / elapsed_s
