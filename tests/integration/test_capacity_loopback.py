"""Capacity tests that need no network namespace: the RouterOS simulator's bandwidth and speed
tests end to end, and what the commands and test methods say when something is wrong. They run
without root; the shaped-link tests are in test_capacity.py.
"""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pantau.agent.capacity.config import HttpMethod, Iperf3Method
from pantau.agent.capacity.http import HttpTest
from pantau.agent.capacity.iperf3 import Iperf3Test
from pantau.agent.capacity.schedule import in_peak
from pantau.collector.lab.routeros_sim import RouterSpec, SimFleet
from pantau.collector.lab.routeros_sim.bandwidth import set_link
from tests.pipeline import (
    PANTAU,
    agent_config,
    collector_config,
    influx,
    registry_file,
    start_agent,
    start_collector,
    wait_for,
)

PASSWORD = "sim-router-pw-7"
WIB = dt.timezone(dt.timedelta(hours=7))


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
