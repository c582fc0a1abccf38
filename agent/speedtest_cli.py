"""`pantau agent speedtest`: one capacity test now, for a technician checking an installation.

Prints what it does and the result; the last line is one JSON object. Another test running on
the same uplink (the agent's own, say) makes it stop rather than measure half a link.

Exit status: 0 a direction was measured; 1 the test failed; 2 a configuration error; 3 another
test runs on the uplink; 75 (EX_TEMPFAIL, sysexits.h) the test server refused the test because
it runs its maximum of tests at once (HTTP 503): one line on standard error with the load it
reported and when to try again, no JSON, nothing spooled (no test took place). A technician
waits and runs it again; a script can tell "try later" from "broken".
"""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING

from pantau.agent.capacity.methods import build_method
from pantau.agent.capacity.result import Measurement
from pantau.agent.capacity.worker import Tester, capacity_data
from pantau.agent.point import PointContext
from pantau.agent.rates import CounterSnapshot, compute_rates
from pantau.agent.settings import build_source
from pantau.agent.sources.clock import RealClock
from pantau.shared.errors import ConfigError

if TYPE_CHECKING:
    from pantau.agent.config import AgentConfig, PointConfig

EXIT_FAILED = 1
EXIT_BUSY = 3
EXIT_SERVER_BUSY = 75  # EX_TEMPFAIL: the test server is full now; the same command works later


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
    source = build_source(point.source, point.id, clock)
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
    if measurement.refused:
        print(server_busy_line(point.id, measurement), file=sys.stderr)
        return EXIT_SERVER_BUSY
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


def server_busy_line(point_id: str, m: Measurement) -> str:
    """The one line a refused test prints: who refused, the load it reported (its load header,
    when it sent one) and when it asked to be tried again (Retry-After)."""
    load = ""
    if m.server_tests is not None:
        load = f" ({m.server_tests} of {m.server_cap} tests running"
        load += "" if m.server_cpu_pct is None else f", CPU {m.server_cpu_pct:.0f} %"
        load += ")"
    again = "later" if not m.retry_after_s else f"in {m.retry_after_s:g} s"
    return (
        f"{point_id}: the test server {m.server} is busy: it runs its maximum of tests"
        f"{load} and refused this one (HTTP 503); no test took place, try again {again}"
    )
