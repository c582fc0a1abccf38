"""Capacity tests and ping bursts through a real network: a network namespace behind a veth
pair, `tc` shaping, `pantau speedtest-server` (real iperf3 and the HTTP endpoint) inside it.
Every test here needs root for the namespace; the others are in test_capacity_loopback.py.

This kernel has no netem. Loss is made with nftables (`numgen inc mod 5 == 0 drop`: exactly
every fifth echo request). Delay is made with HTB: ICMP goes through a 100 kbit/s class and the
route to the far end has an MTU of 576, so a 2000-byte ping leaves as four fragments and the
last one waits until the class has earned the bytes before it; the echo request arrives after a
fixed, computable delay. Real packets, real kernel queues, no relay.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from pantau.agent.capacity.config import Iperf3Method
from pantau.agent.capacity.iperf3 import Iperf3Test
from pantau.agent.capacity.schedule import Pending
from pantau.agent.capacity.worker import CapacityWorker
from pantau.agent.config import AgentConfig
from pantau.agent.point import PointContext
from pantau.agent.run import PointSampler
from pantau.agent.sources.clock import RealClock
from pantau.agent.sources.linux import LinuxSource
from pantau.agent.spool import Spool
from pantau.shared.config import validate
from tests.netns import Netns, needs_netns
from tests.pipeline import (
    PANTAU,
    Proc,
    agent_config,
    wait_for,
)

pytestmark = [needs_netns, pytest.mark.netns]
TOLERANCE = 0.10  # measured speed within ±10 % of the shaped rate


def tc(ns: Netns | None, *args: str) -> None:
    prefix = ns.prefix() if ns is not None else []
    subprocess.run([*prefix, "tc", *args], check=True, capture_output=True, timeout=10)


def shape(ns: Netns, down_mbit: int, up_mbit: int) -> None:
    """Download (namespace → host) and upload (host → namespace) each through a tbf."""
    tbf = ["root", "tbf", "burst", "64kb", "latency", "50ms", "rate"]
    tc(ns, "qdisc", "add", "dev", ns.ns_if, *tbf, f"{down_mbit}mbit")
    tc(None, "qdisc", "add", "dev", ns.host_if, *tbf, f"{up_mbit}mbit")


@contextmanager
def speedtest_server(subnet: int, tmp_path: Path) -> Iterator[tuple[Netns, Proc]]:
    """A namespace with `pantau speedtest-server` (iperf3 on 5201-5202, HTTP on 8080)."""
    ns = Netns.create(subnet)
    server = Proc(
        [
            "speedtest-server",
            "--bind",
            ns.ns_ip,
            "--http-port",
            "8080",
            "--iperf3-ports",
            "5201-5202",
        ],
        tmp_path / f"speedtest-server-{subnet}.log",
        prefix=ns.prefix(),
    )
    try:
        server.start().wait_log("ready", 15)
        yield ns, server
    finally:
        server.stop(10)
        ns.remove()


def within(measured: float | None, shaped_mbit: float) -> bool:
    return measured is not None and abs(measured - shaped_mbit) <= TOLERANCE * shaped_mbit


def test_iperf3_measures_the_shaped_link(tmp_path: Path) -> None:
    with speedtest_server(71, tmp_path) as (ns, _):
        shape(ns, down_mbit=20, up_mbit=50)
        cfg = Iperf3Method(kind="iperf3", host=ns.ns_ip, ports=[5201, 5202], duration_s=3, omit_s=1)
        result = Iperf3Test(cfg).measure()
    assert result.errors == []
    assert within(result.down_mbps, 20), result
    assert within(result.up_mbps, 50), result
    assert result.method == "iperf3" and result.streams == 4 and result.duration_s == 3.0
    # 4 s (the omitted second included) at 20 Mbit/s is 10 MB, less during slow start
    assert 8e6 <= result.down_bytes <= 11e6
    assert result.rtt_ms is not None and result.rtt_ms < 5


def test_speedtest_command_over_http(tmp_path: Path) -> None:
    """`pantau agent speedtest` (a technician at a new site), HTTP method, link 50/20."""
    with speedtest_server(72, tmp_path) as (ns, _):
        shape(ns, down_mbit=50, up_mbit=20)
        config = agent_config(
            tmp_path / "agent.yaml",
            1883,
            [
                {
                    "id": "citangkil-03",
                    "source": {"kind": "linux", "wan_interface": ns.host_if},
                    "capacity": {
                        "method": {
                            "kind": "http",
                            "url": f"http://{ns.ns_ip}:8080",
                            "duration_s": 3,
                            "omit_s": 1,
                        }
                    },
                },
                {"id": "citangkil-04", "source": {"kind": "linux", "wan_interface": "lo"}},
            ],
        )
        done = subprocess.run(
            [*PANTAU, "agent", "speedtest", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    result = json.loads(lines[-1])
    assert within(result["down_mbps"], 50), result
    assert within(result["up_mbps"], 20), result
    assert result["point"] == "citangkil-03"
    assert result["method"] == "http" and result["server"] == f"{ns.ns_ip}:8080"
    assert result["streams"] == 4 and result["duration_s"] == 3.0 and result["trigger"] == "manual"
    assert result["bytes"] == result["down_bytes"] + result["up_bytes"] > 0
    assert result["user_traffic_bps"] < 1e6  # nobody else on this link
    assert "error" not in result
    assert any("http test to" in line for line in lines[:-1])


def htb_train_delay_ms(frames: list[int], rate_bps: float, burst: int) -> float:
    """When the last of a train of frames leaves an idle HTB class: the class sends while its
    tokens are not negative, and each frame costs its size; a frame waits for the debt."""
    tokens = float(burst)
    at_s = 0.0
    for frame in frames:
        if tokens < 0:
            at_s += -tokens * 8 / rate_bps
            tokens = 0.0
        tokens -= frame
    return at_s * 1000


def test_ping_bursts_see_added_loss_and_delay(tmp_path: Path) -> None:
    ns = Netns.create(73)
    try:
        # delay: ICMP through a 100 kbit/s HTB class, and an MTU of 576 towards the namespace
        tc(None, "qdisc", "add", "dev", ns.host_if, "root", "handle", "1:", "htb", "default", "10")
        tc(None, "class", "add", "dev", ns.host_if, "parent", "1:", "classid", "1:10", "htb",
           "rate", "1gbit")  # fmt: skip
        tc(None, "class", "add", "dev", ns.host_if, "parent", "1:", "classid", "1:20", "htb",
           "rate", "100kbit", "ceil", "100kbit", "burst", "600b", "cburst", "600b")  # fmt: skip
        tc(None, "filter", "add", "dev", ns.host_if, "parent", "1:", "protocol", "ip", "u32",
           "match", "ip", "protocol", "1", "0xff", "flowid", "1:20")  # fmt: skip
        subprocess.run(
            ["ip", "route", "replace", f"{ns.ns_ip}/32", "dev", ns.host_if, "mtu", "lock", "576"],
            check=True,
            timeout=10,
        )
        # loss: exactly every fifth echo request is dropped on arrival
        rules = """
        table inet pantau_loss {
            chain input {
                type filter hook input priority 0;
                icmp type echo-request numgen inc mod 5 == 0 drop
            }
        }
        """
        subprocess.run(
            [*ns.prefix(), "nft", "-f", "-"], input=rules, text=True, check=True, timeout=10
        )

        config = validate(
            {
                "state_dir": str(tmp_path / "state"),
                "points": [
                    {
                        "id": "citangkil-05",
                        "source": {"kind": "linux", "wan_interface": ns.host_if},
                        "bursts": {"target": ns.ns_ip, "count": 20, "size_bytes": 1972},
                    }
                ],
            },
            AgentConfig,
            "test",
        )
        point = config.points[0]
        assert point.source.kind == "linux"
        clock = RealClock()
        spool = Spool(tmp_path / "spool.sqlite", 1000)
        context = PointContext(point.id, spool, None, clock)
        sampler = PointSampler(point, 10.0, LinuxSource(point.source), context, "b1")  # type: ignore[arg-type]
        worker = CapacityWorker(point, config.state_dir, context, clock)
        worker.run_due(clock.now())  # the burst is due at once
        sampler.sample_once()
        sampler.sample_once()  # the next sample has no burst of its own
        rows = spool.peek("citangkil-05", 0, 10)
        spool.close()
    finally:
        ns.remove()
    with_burst, without = (json.loads(r.body) for r in rows)
    # ICMP 1972 + 8 bytes in fragments of 552 data bytes: IP 572, 572, 572, 344, +14 Ethernet
    added_ms = htb_train_delay_ms([586, 586, 586, 358], 100_000, 600)
    assert added_ms == pytest.approx(92.64)
    assert with_burst["loss_pct"] == 20.0
    assert with_burst["rtt_ms"] == pytest.approx(added_ms, abs=3.0)
    assert with_burst["jitter_ms"] < 1.0
    assert with_burst["wan_up"] is True
    assert "loss_pct" not in without and "rtt_ms" not in without


def sampler_and_worker(
    tmp_path: Path, ns: Netns, capacity: dict[str, Any]
) -> tuple[PointSampler, CapacityWorker, Spool]:
    config = validate(
        {
            "state_dir": str(tmp_path / "state"),
            "points": [
                {
                    "id": "citangkil-06",
                    "source": {"kind": "linux", "wan_interface": ns.host_if},
                    "capacity": capacity,
                }
            ],
        },
        AgentConfig,
        "test",
    )
    point = config.points[0]
    clock = RealClock()
    spool = Spool(tmp_path / "spool.sqlite", 1000)
    context = PointContext(point.id, spool, None, clock)
    sampler = PointSampler(point, 1.0, LinuxSource(point.source), context, "b1")  # type: ignore[arg-type]
    worker = CapacityWorker(point, config.state_dir, context, clock)
    worker.start()
    worker.stop()  # its thread does nothing here: the test drives attempts itself
    worker.join(5)
    return sampler, worker, spool


def capacity_events(spool: Spool, point: str) -> list[tuple[str, dict[str, Any]]]:
    """The worker's events (test results and deferrals) as the spool holds them."""
    events = [json.loads(r.body) for r in spool.peek(point, 0, 10_000) if r.kind == "event"]
    return [(e["kind"], e["data"]) for e in events if e["kind"] in ("capacity", "test_deferred")]


def sampled_traffic_bps(sampler: PointSampler) -> float | None:
    """Take a sample; the WAN traffic the worker would judge by (None before two samples)."""
    sampler.sample_once()
    return sampler.context.wan_traffic_bps()


def test_heavy_user_traffic_defers_the_test(tmp_path: Path) -> None:
    with speedtest_server(74, tmp_path) as (ns, _):
        shape(ns, down_mbit=50, up_mbit=50)
        capacity = {
            "method": {
                "kind": "http",
                "url": f"http://{ns.ns_ip}:8080",
                "duration_s": 2,
                "omit_s": 1,
                "directions": ["down"],
            },
            "defer_above_bps": 5_000_000,
            "defer_retry_s": 300,
        }
        sampler, worker, spool = sampler_and_worker(tmp_path, ns, capacity)
        # users download at full speed (an iperf3 client in the role of the hotspot's users)
        users = subprocess.Popen(
            ["iperf3", "-c", ns.ns_ip, "-p", "5202", "-R", "-t", "60"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            sampler.sample_once()
            wait_for(
                lambda: (sampled_traffic_bps(sampler) or 0) > 40e6,
                30,
                "the users' download in the sampler's rates",
                step_s=0.5,
            )
            busy = worker.attempt(Pending("random", time.time()))
        finally:
            users.terminate()
            users.wait(15)

        def quiet_link() -> bool:
            traffic = sampled_traffic_bps(sampler)
            return traffic is not None and traffic < 5e6

        wait_for(quiet_link, 30, "a quiet link in the sampler's rates", step_s=0.5)
        quiet = worker.attempt(Pending("random", time.time()))
        events = capacity_events(spool, "citangkil-06")
        spool.close()
    assert busy is not None and busy.measurement is None
    assert busy.decision.reason == "user_traffic" and busy.traffic_bps is not None
    assert busy.traffic_bps > 40e6
    assert quiet is not None and quiet.measurement is not None
    assert [kind for kind, _ in events] == ["test_deferred", "capacity"]
    deferred, result = events[0][1], events[1][1]
    assert deferred["reason"] == "user_traffic" and deferred["gave_up"] is False
    assert deferred["retry_in_s"] == 300 and deferred["threshold_bps"] == 5_000_000
    assert deferred["user_traffic_bps"] == round(busy.traffic_bps)
    assert within(result["down_mbps"], 50), result
    assert result["up_mbps"] is None and result["user_traffic_bps"] < 5e6
    # the deferral moved no data; the test did, and the ledger says so
    ledger = json.loads((tmp_path / "state" / "capacity" / "citangkil-06.json").read_text())
    assert ledger["tests"] == 1 and ledger["bytes"] == result["bytes"] > 0
