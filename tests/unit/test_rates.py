from __future__ import annotations

import pytest

from pantau.agent.rates import CounterSnapshot, Rates, compute_rates
from pantau.agent.sources.base import Counters


def snap(at: float, uptime: float | None, rx: int | None, tx: int | None) -> CounterSnapshot:
    return CounterSnapshot(at, uptime, Counters(rx_bytes=rx, tx_bytes=tx, rx_packets=None))


CASES = [
    # name, previous, current, expected (rx_bps, tx_bps)
    ("first sample has no rate", None, snap(10, 100, 1000, 1000), (None, None)),
    (
        "steady 8 Mbit/s over 10 s",
        snap(0, 100, 0, 0),
        snap(10, 110, 10_000_000, 1_250_000),
        (8e6, 1e6),
    ),
    (
        "real elapsed time, not nominal",
        snap(0, 100, 0, 0),
        snap(12.5, 112.5, 12_500_000, 0),
        (8e6, 0.0),
    ),
    ("counter went backwards", snap(0, 100, 5000, 5000), snap(10, 110, 10, 6000), (None, None)),
    ("uptime dropped (reboot)", snap(0, 1000, 10, 10), snap(10, 5, 20, 20), (None, None)),
    ("beyond 32 bits", snap(0, 1, 2**40, 0), snap(1, 2, 2**40 + 125_000, 0), (1e6, 0.0)),
    ("unknown counter stays unknown", snap(0, 1, None, 100), snap(1, 2, 500, 225), (None, 1000.0)),
    ("no time passed", snap(5, 1, 0, 0), snap(5, 1, 10, 10), (None, None)),
    ("uptime unknown, counters fine", snap(0, None, 0, 0), snap(2, None, 250, 0), (1000.0, 0.0)),
]


@pytest.mark.parametrize(
    ("name", "previous", "current", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_compute_rates(name: str, previous, current, expected) -> None:
    assert compute_rates(previous, current) == Rates(*expected)
