"""A point's context: what its sampler and its capacity worker hand each other (events, the
latest WAN rates, a ping burst), through a real spool and a simulated source."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pantau.agent.config import PointConfig
from pantau.agent.point import PointContext
from pantau.agent.rates import Rates
from pantau.agent.run import PointSampler
from pantau.agent.sources.base import Reachability
from pantau.agent.sources.clock import SteppingClock
from pantau.agent.spool import Spool

POINT = "citangkil-03"
T0 = 1_790_000_000.0
BURST = Reachability(wan_up=True, rtt_ms=92.7, loss_pct=20.0, jitter_ms=0.02)


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    spool = Spool(tmp_path / "spool.sqlite", 1000)
    yield spool
    spool.close()


def bodies(spool: Spool) -> list[tuple[str, dict[str, object]]]:
    return [(r.kind, json.loads(r.body)) for r in spool.peek(POINT, 0, 100)]


def test_an_event_goes_to_the_spool(spool: Spool) -> None:
    context = PointContext(POINT, spool, None, SteppingClock(T0))
    context.record_event("test_deferred", 1_790_000_000_123, "deferred", {"reason": "budget"})
    assert bodies(spool) == [
        (
            "event",
            {
                "v": 2,
                "point": POINT,
                "ts_ms": 1_790_000_000_123,
                "kind": "test_deferred",
                "message": "deferred",
                "data": {"reason": "budget"},
            },
        )
    ]


@pytest.mark.parametrize(
    ("noted", "now_s", "expected"),
    [
        (None, T0, None),  # no sample yet
        ((T0, 10.0, Rates(8e6, 2e6)), T0, 10e6),
        ((T0, 10.0, Rates(8e6, 2e6)), T0 + 31, 10e6),  # 3 intervals + 1 s: still recent
        ((T0, 10.0, Rates(8e6, 2e6)), T0 + 31.5, None),  # older: not trusted
        ((T0, 1.0, Rates(8e6, 2e6)), T0 + 4.5, None),  # 3 intervals of 1 s + 1 s = 4 s
        ((T0, 10.0, Rates(None, 2e6)), T0, 2e6),  # one direction unknown: the other counts
        ((T0, 10.0, Rates(None, None)), T0, None),  # first sample: no rate yet
    ],
)
def test_wan_traffic_only_while_recent(
    spool: Spool, noted: tuple[float, float, Rates] | None, now_s: float, expected: float | None
) -> None:
    clock = SteppingClock(T0)
    context = PointContext(POINT, spool, None, clock)
    if noted is not None:
        context.note_wan_rates(*noted)
    clock.set(now_s)
    assert context.wan_traffic_bps() == expected


def test_a_burst_is_taken_once(spool: Spool) -> None:
    context = PointContext(POINT, spool, None, SteppingClock(T0))
    assert context.take_burst() is None
    context.offer_burst(Reachability(wan_up=False, loss_pct=100.0))
    context.offer_burst(BURST)  # the newer burst replaces one not yet taken
    assert context.take_burst() == BURST
    assert context.take_burst() is None


def test_sampler_and_worker_meet_only_in_the_context(spool: Spool) -> None:
    """The sampler leaves its rates for the worker and carries the worker's burst in exactly
    one sample; the source's own rtt 12 ms and loss 0 % are in the others."""
    clock = SteppingClock(T0)
    config = PointConfig.model_validate(
        {
            "id": POINT,
            "source": {"kind": "simulated", "fixed_rx_bps": 8e6, "fixed_tx_bps": 2e6},
        }
    )
    context = PointContext(POINT, spool, None, clock)
    sampler = PointSampler(config, 10.0, config.source.build(POINT, clock), context, "b1")
    sampler.sample_once()
    assert context.wan_traffic_bps() is None  # one reading: no rate yet
    clock.set(T0 + 10)
    context.offer_burst(BURST)
    sampler.sample_once()
    assert context.wan_traffic_bps() == pytest.approx(10e6)
    clock.set(T0 + 20)
    sampler.sample_once()
    reach = [
        (s.get("wan_up"), s.get("rtt_ms"), s.get("loss_pct"), s.get("jitter_ms"))
        for kind, s in bodies(spool)
        if kind == "telemetry"
    ]
    assert reach == [(True, 12.0, 0.0, None), (True, 92.7, 20.0, 0.02), (True, 12.0, 0.0, None)]
