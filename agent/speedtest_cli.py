"""`pantau agent speedtest`: one capacity test now, for a technician checking an installation.

Prints what it does and the result; the last line is one JSON object. Another test running on
the same uplink (the agent's own, say) makes it stop rather than measure half a link.
"""

from __future__ import annotations

import json
import sys
import time

from pantau.agent.capacity.methods import build_method
from pantau.agent.capacity.worker import Tester, capacity_data
from pantau.agent.config import AgentConfig, PointConfig
from pantau.agent.point import PointContext
from pantau.agent.rates import CounterSnapshot, compute_rates
from pantau.agent.sources.clock import RealClock
from pantau.shared.errors import ConfigError

EXIT_FAILED = 1
EXIT_BUSY = 3


def pick_point(config: AgentConfig, point_id: str | None) -> PointConfig:
    with_capacity = [p for p in config.points if p.capacity is not None]
    if point_id is not None:
        for point in config.points:
            if point.id == point_id:
                if point.capacity is None:
                    raise ConfigError(f"point {point_id} has no 'capacity' section")
                return point
        raise ConfigError(f"no point {point_id!r} in the configuration")
    if len(with_capacity) == 1:
        return with_capacity[0]
    if not with_capacity:
        raise ConfigError("no point has a 'capacity' section")
    ids = ", ".join(p.id for p in with_capacity)
    raise ConfigError(f"several points can be tested ({ids}); choose one with --point")


def user_traffic_bps(point: PointConfig, clock: RealClock) -> float | None:
    """WAN traffic right now: two readings of the point's device a second apart."""
    source = point.source.build(point.id, clock)
    try:
        first = source.read()
        time.sleep(1.0)
        second = source.read()
    finally:
        source.close()
    if not (first.device_up and second.device_up):
        return None
    rates = compute_rates(
        CounterSnapshot(first.at_s or 0.0, first.uptime_s, first.counters),
        CounterSnapshot(second.at_s or 1.0, second.uptime_s, second.counters),
    )
    if rates.rx_bps is None and rates.tx_bps is None:
        return None
    return (rates.rx_bps or 0.0) + (rates.tx_bps or 0.0)


def speedtest(config: AgentConfig, point_id: str | None, publish: bool) -> int:
    point = pick_point(config, point_id)
    assert point.capacity is not None
    method = build_method(point.id, point.capacity, point.source)
    clock = RealClock()
    traffic = user_traffic_bps(point, clock)
    shown = "unknown" if traffic is None else f"{traffic / 1e6:.2f} Mbps"
    print(f"{point.id}: user traffic on the WAN now: {shown}", flush=True)
    print(
        f"{point.id}: {method.name} test to {method.server}, about {method.seconds:.0f}s ...",
        flush=True,
    )
    tester = Tester(point.id, point.capacity, method, config.state_dir, clock)
    outcome = tester.attempt(traffic, manual=True)
    if outcome.measurement is None:
        print(
            f"{point.id}: another test is running on uplink {tester.uplink}; try again later",
            file=sys.stderr,
        )
        return EXIT_BUSY
    measurement = outcome.measurement
    print(f"{point.id}: {measurement.summary()}")
    for error in measurement.errors:
        print(f"{point.id}: error: {error}")
    data = capacity_data(outcome, "manual")
    if publish:
        from pantau.agent.spool import Spool

        spool = Spool(
            config.state_dir / "spool.sqlite",
            config.spool.max_samples_per_point,
            config.spool.max_bytes,
        )
        try:
            message = "; ".join(measurement.errors)[:400] or None
            context = PointContext(point.id, spool, None, clock)
            context.record_event("capacity", int(outcome.started_s * 1000), message, data)
        finally:
            spool.close()
        print(f"{point.id}: stored in the agent's spool; the agent publishes it")
    print(json.dumps({"point": point.id, **data}, sort_keys=False))
    return 0 if measurement.ok else EXIT_FAILED
