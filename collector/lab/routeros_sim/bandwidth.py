"""Capacity tests on the simulated router: `/tool/bandwidth-test` and, on RouterOS 7,
`/tool/speed-test`, answered over time as a router does (one reply a second).

Results follow the router's simulated link: its capacity (`set_link`, 50/20 Mbps unless set)
less the user traffic the simulator is carrying (`SimRouter.set_traffic`), so a test on a busy
link shows what is left over, as a real one would. The first second runs at half speed, like a
TCP slow start, so a client that omits it sees exactly the link's speed.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass

from pantau.agent.sources.routeros.parse import parse_duration
from pantau.collector.lab.routeros_sim.commands import (
    PING_OFFSETS_MS,
    Reply,
    Request,
    Sentence,
    Session,
    command,
    trap,
)
from pantau.collector.lab.routeros_sim.router import SimRouter, format_ping_time

MAX_SECONDS = 300
RAMP_S = 1  # seconds at half speed at the start of each phase


@dataclass
class SimLink:
    """What the provider's link can carry, each way, in bits per second."""

    down_bps: float = 50_000_000.0
    up_bps: float = 20_000_000.0


def link(router: SimRouter) -> SimLink:
    """The router's link; kept on the router object so it lives and dies with it."""
    found = getattr(router, "capacity_link", None)
    if found is None:
        found = SimLink()
        router.capacity_link = found  # type: ignore[attr-defined]
    return found


def set_link(router: SimRouter, down_bps: float, up_bps: float) -> None:
    with router.lock:
        current = link(router)
        current.down_bps, current.up_bps = down_bps, up_bps


def available(router: SimRouter) -> tuple[float, float]:
    """Down and up capacity a test can get now: the link less the users' traffic."""
    with router.lock:
        if not router.wan_up:
            return 0.0, 0.0
        lk = link(router)
        return max(0.0, lk.down_bps - router.rx_bps), max(0.0, lk.up_bps - router.tx_bps)


BTEST_PARAMETERS = {
    "address",
    "user",
    "password",
    "protocol",
    "direction",
    "duration",
    "connection-count",
    "local-tx-speed",
    "remote-tx-speed",
    "random-data",
    "local-udp-tx-size",
    "remote-udp-tx-size",
    "interval",
}


@command("/tool/bandwidth-test")
def bandwidth_test(router: SimRouter, session: Session, request: Request) -> Reply:
    attrs = request.attributes
    unknown = sorted(set(attrs) - BTEST_PARAMETERS)
    if unknown:
        return trap(f"unknown parameter {unknown[0]}")
    if not attrs.get("address"):
        return trap("missing value of argument address")
    direction = attrs.get("direction", "receive")
    if direction not in ("receive", "transmit", "both"):
        return trap("value of direction must be one of receive, transmit, both")
    if attrs.get("protocol", "udp") not in ("tcp", "udp"):
        return trap("value of protocol must be one of tcp, udp")
    try:
        seconds = round(parse_duration(attrs.get("duration", f"{MAX_SECONDS}s")))
        streams = int(attrs.get("connection-count", "20"))
    except ValueError:
        return trap("value of duration or connection-count is invalid")
    if not 1 <= seconds <= MAX_SECONDS or not 1 <= streams <= 255:
        return trap("value of duration or connection-count out of range")
    return Reply(stream=_btest_stream(router, direction, seconds, streams))


async def _btest_stream(
    router: SimRouter, direction: str, seconds: int, streams: int
) -> AsyncIterator[Sentence]:
    loop = asyncio.get_running_loop()
    start = loop.time()
    common = [f"=direction={direction}", f"=connection-count={streams}", "=random-data=false"]
    yield ["!re", "=status=connecting", "=duration=0s", *common]
    if not router.wan_up:
        await asyncio.sleep(1.0)
        yield ["!re", "=status=can not connect", "=duration=1s", *common]
        yield ["!done"]
        return
    keys = [k for k, on in (("rx", "receive"), ("tx", "transmit")) if direction in (on, "both")]
    history: dict[str, list[float]] = {k: [] for k in keys}
    for second in range(1, seconds + 1):
        await asyncio.sleep(max(0.0, start + second - loop.time()))
        down, up = available(router)
        factor = 0.5 if second <= RAMP_S else 1.0
        status = "done testing" if second == seconds else "running"
        words = ["!re", f"=status={status}", f"=duration={second}s"]
        for key in keys:
            current = (down if key == "rx" else up) * factor
            history[key].append(current)
            last10 = history[key][-10:]
            words += [
                f"={key}-current={int(current)}",
                f"={key}-10-second-average={int(sum(last10) / len(last10))}",
                f"={key}-total-average={int(sum(history[key]) / len(history[key]))}",
            ]
        words += ["=lost-packets=0", *common, "=local-cpu-load=9", "=remote-cpu-load=7"]
        yield words
    yield ["!done"]


SPEEDTEST_PARAMETERS = {"address", "user", "password", "test-duration", "connection-count"}
PINGS = 100


@command("/tool/speed-test")
def speed_test(router: SimRouter, session: Session, request: Request) -> Reply:
    if router.dialect.major < 7:
        return trap("no such command prefix")
    attrs = request.attributes
    unknown = sorted(set(attrs) - SPEEDTEST_PARAMETERS)
    if unknown:
        return trap(f"unknown parameter {unknown[0]}")
    if not attrs.get("address"):
        return trap("missing value of argument address")
    try:
        phase_s = int(attrs.get("test-duration", "10"))
    except ValueError:
        return trap("value of test-duration is invalid")
    if not 1 <= phase_s <= 60:
        return trap("value of test-duration out of range")
    return Reply(stream=_speed_stream(router, phase_s))


def _mbps(bps: float) -> str:
    return f"{bps / 1e6:.1f}Mbps"


def _ping_fields(router: SimRouter) -> list[str]:
    base = router.spec.ping_rtt_ms
    rtts = [base + PING_OFFSETS_MS[i % len(PING_OFFSETS_MS)] for i in range(PINGS)]
    jitter = [abs(b - a) for a, b in itertools.pairwise(rtts)]
    style = "ms_us"

    def triple(values: list[float]) -> str:
        parts = (min(values), sum(values) / len(values), max(values))
        return " / ".join(format_ping_time(v, style) if v else "0s" for v in parts)

    return [
        f"=ping-min-avg-max={triple(rtts)}",
        f"=jitter-min-avg-max={triple(jitter)}",
        f"=loss=0% (0/{PINGS})",
    ]


async def _speed_stream(router: SimRouter, phase_s: int) -> AsyncIterator[Sentence]:
    loop = asyncio.get_running_loop()
    start = loop.time()
    total_s = 1 + 4 * phase_s
    done: list[str] = []
    if not router.wan_up:
        await asyncio.sleep(1.0)
        yield ["!re", "=status=can not connect", "=time-remaining=0s"]
        yield ["!done"]
        return
    phases = [
        ("tcp-download", "down", "local-cpu-load:11%"),
        ("tcp-upload", "up", "local-cpu-load:9% remote-cpu-load:8%"),
        ("udp-download", "down", "local-cpu-load:5% remote-cpu-load:6%"),
        ("udp-upload", "up", "local-cpu-load:6% remote-cpu-load:5%"),
    ]
    await asyncio.sleep(max(0.0, start + 1 - loop.time()))
    done += _ping_fields(router)
    yield ["!re", "=status=running", f"=time-remaining={total_s - 1}s", *done]
    elapsed = 1
    for name, way, load in phases:
        rates = []
        for second in range(1, phase_s + 1):
            elapsed += 1
            await asyncio.sleep(max(0.0, start + elapsed - loop.time()))
            down, up = available(router)
            ramp = second <= RAMP_S < phase_s
            rates.append((down if way == "down" else up) * (0.5 if ramp else 1.0))
            shown = rates[RAMP_S:] if phase_s > RAMP_S and len(rates) > RAMP_S else rates
            current = f"={name}={_mbps(sum(shown) / len(shown))} {load}"
            remaining = f"=time-remaining={total_s - elapsed}s"
            if second < phase_s:
                yield ["!re", "=status=running", remaining, *done, current]
        done.append(current)
    yield ["!re", "=status=done", "=time-remaining=0s", *done]
    yield ["!done"]
