"""Capacity tests and ping bursts through a real network: a network namespace behind a veth
pair, `tc` shaping, `pantau speedtest-server` (real iperf3 and the HTTP endpoint) inside it.

This kernel has no netem. Loss is made with nftables (`numgen inc mod 5 == 0 drop`: exactly
every fifth echo request). Delay is made with HTB: ICMP goes through a 100 kbit/s class and the
route to the far end has an MTU of 576, so a 2000-byte ping leaves as four fragments and the
last one waits until the class has earned the bytes before it; the echo request arrives after a
fixed, computable delay. Real packets, real kernel queues, no relay.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from pantau.agent.capacity.config import HttpMethod, Iperf3Method
from pantau.agent.capacity.http import HttpTest
from pantau.agent.capacity.iperf3 import Iperf3Test
from pantau.agent.capacity.schedule import Pending, in_peak
from pantau.agent.capacity.worker import CapacityWorker
from pantau.agent.clock import RealClock
from pantau.agent.config import AgentConfig
from pantau.agent.routeros_sim import RouterSpec, SimFleet
from pantau.agent.routeros_sim.bandwidth import set_link
from pantau.agent.run import PointSampler
from pantau.agent.sources.linux import LinuxSource
from pantau.agent.spool import Spool
from pantau.shared.config import validate
from tests.netns import Netns, needs_netns
from tests.pipeline import (
    PANTAU,
    Proc,
    agent_config,
    collector_config,
    influx,
    registry_file,
    start_agent,
    start_collector,
    wait_for,
)

pytestmark = [needs_netns, pytest.mark.netns]
TOLERANCE = 0.10  # measured speed within ±10 % of the shaped rate
PASSWORD = "sim-router-pw-7"
WIB = dt.timezone(dt.timedelta(hours=7))


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
        sampler = PointSampler(point, 10.0, LinuxSource(point.source), spool, None, clock, "b1")  # type: ignore[arg-type]
        worker = CapacityWorker(point, config.state_dir, sampler, lambda *a: None, clock)
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
) -> tuple[PointSampler, CapacityWorker, Spool, list[tuple[str, dict[str, Any]]]]:
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
    sampler = PointSampler(point, 1.0, LinuxSource(point.source), spool, None, clock, "b1")  # type: ignore[arg-type]
    events: list[tuple[str, dict[str, Any]]] = []
    worker = CapacityWorker(
        point,
        config.state_dir,
        sampler,
        lambda kind, ts, msg, data: events.append((kind, data)),
        clock,
    )
    worker.start()
    worker.stop()  # its thread does nothing here: the test drives attempts itself
    worker.join(5)
    return sampler, worker, spool, events


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
        sampler, worker, spool, events = sampler_and_worker(tmp_path, ns, capacity)
        # users download at full speed (an iperf3 client in the role of the hotspot's users)
        users = subprocess.Popen(
            ["iperf3", "-c", ns.ns_ip, "-p", "5202", "-R", "-t", "4"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(1.0)
            sampler.sample_once()
            time.sleep(1.0)
            sampler.sample_once()
            busy = worker.attempt(Pending("random", time.time()))
        finally:
            users.wait(15)
        sampler.sample_once()
        time.sleep(1.0)
        sampler.sample_once()
        quiet = worker.attempt(Pending("random", time.time()))
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


def test_mikrotik_test_is_stored_with_the_simulated_speed(
    tmp_path: Path, mosquitto: Any, influxd: Any, database: str
) -> None:
    """Agent → router (simulator, bandwidth-test through the API) → mosquitto → collector →
    InfluxDB: the `capacity` rows carry the simulator's link speed less its user traffic."""
    spec = RouterSpec(name="r1", dialect="7.18", password=PASSWORD, rx_bps=1e6, tx_bps=0.5e6)
    with SimFleet([spec]) as fleet:
        set_link(fleet.routers[0], 40e6, 15e6)
        registry = registry_file(tmp_path / "registry.yaml", ["citangkil-07"])
        collector = start_collector(
            collector_config(
                tmp_path / "collector.yaml", mosquitto.port, influxd.url, database, registry
            ),
            tmp_path / "collector.log",
        )
        agent_yaml = agent_config(
            tmp_path / "agent.yaml",
            mosquitto.port,
            [
                {
                    "id": "citangkil-07",
                    "source": {
                        "kind": "routeros",
                        "host": "127.0.0.1",
                        "port": fleet.port(0),
                        "password_env": "PANTAU_TEST_ROUTER_PW",
                    },
                    "capacity": {
                        "method": {
                            "kind": "routeros_btest",
                            "server": "10.0.0.5",
                            "password_env": "PANTAU_TEST_BTEST_PW",
                            "duration_s": 2,
                            "omit_s": 1,
                        },
                        "schedule": {"first_after_s": 3, "peak_tests_per_day": 0},
                    },
                }
            ],
        )
        env = {"PANTAU_TEST_ROUTER_PW": PASSWORD, "PANTAU_TEST_BTEST_PW": "btest-pw-3"}
        agent = start_agent(agent_yaml, tmp_path / "agent.log", env)
        db = influx(influxd.url, database)
        try:
            rows = wait_for(
                lambda: _capacity_rows(db),
                30,
                "two capacity rows",
            )
        finally:
            agent.stop()
            collector.stop()
    assert len(rows) == 2, rows
    down, up = sorted(rows, key=lambda r: r["direction"])
    assert (down["direction"], up["direction"]) == ("down", "up")
    assert down["mbps"] == 39.0 and up["mbps"] == 14.5  # 40 - 1 and 15 - 0.5
    for row in (down, up):
        assert row["method"] == "routeros_btest"
        assert row["point"] == "citangkil-07" and row["kelurahan"] == "Citangkil"
        assert row["provider"] == "Awinet"
        assert row["server"] == "10.0.0.5" and row["streams"] == 4 and row["duration_s"] == 2
        assert row["rtt_ms"] == 12.412  # the simulator's ping, median of five
        assert row["user_traffic_bps"] == pytest.approx(1.5e6, rel=0.1)  # rx + tx before the test
        assert row["trigger"] == "first"
        assert row["in_peak"] is in_peak(row["time"] / 1000, WIB, dt.time(19), dt.time(23))
        assert row["bytes"] == int(39e6 * 3 / 8) + int(14.5e6 * 3 / 8)
    log = Path(tmp_path / "agent.log").read_text()
    assert "btest-pw-3" not in log and PASSWORD not in log


def _capacity_rows(db: Any) -> list[dict[str, Any]]:
    try:
        return db.query('SELECT * FROM "capacity"')  # type: ignore[no-any-return]
    except Exception:
        return []


def test_routeros_speed_test_and_failures_through_the_simulator() -> None:
    from pantau.agent.capacity.config import BandwidthTestMethod, SpeedTestMethod
    from pantau.agent.capacity.routeros import BandwidthTest, SpeedTest
    from pantau.agent.sources.routeros.config import RouterOSSourceConfig

    specs = [
        RouterSpec(name="r7", dialect="7.18", password=PASSWORD, rx_bps=2e6, tx_bps=1e6),
        RouterSpec(name="r6", dialect="6.49", password=PASSWORD),
    ]
    with SimFleet(specs) as fleet:
        set_link(fleet.routers[0], 30e6, 10e6)

        def router(i: int) -> RouterOSSourceConfig:
            return RouterOSSourceConfig(
                kind="routeros", host="127.0.0.1", port=fleet.port(i), password=PASSWORD
            )

        speed = SpeedTestMethod(kind="routeros_speedtest", server="10.0.0.5", duration_s=1)
        ros7 = SpeedTest(speed, router(0)).measure()
        ros6 = SpeedTest(speed, router(1)).measure()
        fleet.routers[0].set_wan(False)
        btest = BandwidthTestMethod(kind="routeros_btest", server="10.0.0.5", duration_s=1)
        cut = BandwidthTest(btest, router(0)).measure()
    assert (ros7.down_mbps, ros7.up_mbps) == (28.0, 9.0)
    assert ros7.rtt_ms == 12.462  # average of the simulator's pings
    assert ros7.extra == {"jitter_ms": 0.302, "loss_pct": 0.0}
    assert ros7.errors == []
    assert ros6.ok is False
    assert ros6.errors == ["router refused the test: no such command prefix"]
    assert cut.ok is False
    assert cut.errors == ["the test never ran (status can not connect, connecting)"]


def test_speedtest_server_refuses_a_bad_port_list(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pantau.shared.cli", "speedtest-server", "--iperf3-ports", "x-9"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "pantau speedtest-server: --iperf3-ports 'x-9' is not a port list"
    )


def test_unreachable_server_is_a_failed_test_not_a_crash(tmp_path: Path) -> None:
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    http = HttpTest(HttpMethod(kind="http", url=f"http://127.0.0.1:{port}", duration_s=1)).measure()
    iperf = Iperf3Test(
        Iperf3Method(kind="iperf3", host="127.0.0.1", ports=[port], duration_s=1)
    ).measure()
    assert (http.ok, http.down_mbps, http.up_mbps, http.bytes) == (False, None, None, 0)
    assert http.errors == [
        "down: cannot connect: [Errno 111] Connection refused",
        "up: cannot connect: [Errno 111] Connection refused",
    ]
    assert (iperf.ok, iperf.bytes) == (False, 0)
    assert iperf.errors == [
        "down: unable to connect to server: Connection refused",
        "up: unable to connect to server: Connection refused",
    ]


def test_speedtest_command_names_a_wrong_point(tmp_path: Path) -> None:
    config = agent_config(
        tmp_path / "agent.yaml",
        1883,
        [{"id": "citangkil-03", "source": {"kind": "linux", "wan_interface": "lo"}}],
    )
    for point, message in (
        ("nope", "no point 'nope' in the configuration"),
        ("citangkil-03", "point citangkil-03 has no 'capacity' section"),
    ):
        done = subprocess.run(
            [*PANTAU, "agent", "speedtest", "--config", str(config), "--point", point],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 2
        assert done.stderr.strip() == f"pantau agent: {message}"
