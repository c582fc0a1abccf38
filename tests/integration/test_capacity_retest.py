"""A result the test server may have held down is checked again before it counts, and a test
the server refused is no test: the agent's real capacity worker and HTTP client against real
`pantau speedtest-server`s on loopback. A server's per-client rate cap (`--max-mbps`) stands in
for a server that is the bottleneck: the link (loopback) is far faster than it lets through.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from pantau.agent.capacity.schedule import Pending, local_day
from pantau.agent.capacity.worker import CapacityWorker
from pantau.agent.config import AgentConfig
from pantau.agent.sources.base import Reachability
from pantau.agent.sources.clock import RealClock
from pantau.collector.lab.services import free_port
from pantau.shared.config import validate
from pantau.shared.speedtest import contract
from tests.pipeline import (
    Proc,
    agent_config,
    collector_config,
    influx,
    registry_file,
    start_agent,
    start_collector,
    wait_for,
)

POINT = "citangkil-08"


class Link:
    """What the worker needs from its point: its events kept in order, a quiet WAN."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int, dict[str, Any]]] = []

    def record_event(
        self, kind: str, ts_ms: int, message: str | None, data: Mapping[str, Any]
    ) -> None:
        self.events.append((kind, ts_ms, dict(data)))

    def wan_traffic_bps(self) -> float | None:
        return 0.0

    def offer_burst(self, burst: Reachability) -> None:
        pass


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[dict[str, tuple[int, Proc]]]:
    """slow: lets 8 Mbit/s through (a server that is the bottleneck); fast: 100; one: one test
    at a time, Retry-After 2 s."""
    found: dict[str, tuple[int, Proc]] = {}
    try:
        for name, args in (
            ("slow", ["--max-mbps", "8"]),
            ("fast", ["--max-mbps", "100"]),
            ("one", ["--max-mbps", "100", "--max-tests", "1", "--busy-retry-s", "2"]),
        ):
            port = free_port()
            proc = Proc(
                [
                    "speedtest-server",
                    *("--bind", "127.0.0.1", "--http-port", str(port), "--iperf3-ports", ""),
                    *args,
                ],
                tmp_path / f"{name}.log",
            )
            found[name] = (port, proc.start())
        for _, proc in found.values():
            proc.wait_log("ready", 15)
        yield found
    finally:
        for _, proc in found.values():
            proc.stop()


def worker(tmp_path: Path, url: str, retest: dict[str, Any]) -> tuple[CapacityWorker, Link]:
    config = validate(
        {
            "state_dir": str(tmp_path / "state"),
            "points": [
                {
                    "id": POINT,
                    "source": {"kind": "linux", "wan_interface": "lo"},
                    "capacity": {
                        "method": {
                            "kind": "http",
                            "url": url,
                            "duration_s": 2,
                            "omit_s": 1,
                            "streams": 2,
                            "directions": ["down"],
                        },
                        "schedule": {"first_after_s": 86_400, "peak_tests_per_day": 0},
                        "retest": {"committed_mbps": 50, "server_cpu_pct": None} | retest,
                    },
                }
            ],
        },
        AgentConfig,
        "test",
    )
    link = Link()
    made = CapacityWorker(config.points[0], config.state_dir, link, RealClock())
    made.start()
    made.stop()  # its thread does nothing here: the test drives the attempts
    made.join(5)
    return made, link


def url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def test_a_low_result_is_retested_on_the_second_server_and_superseded(
    tmp_path: Path, servers: dict[str, tuple[int, Proc]]
) -> None:
    slow, fast = servers["slow"][0], servers["fast"][0]
    tested, link = worker(tmp_path, url(slow), {"server": url(fast)})
    tested.attempt(Pending("random", time.time()))
    assert tested.planner is not None
    retest = tested.planner.next()
    assert retest.trigger == "retest" and retest.due_s <= time.time()  # a second server: now
    tested.attempt(retest)
    (k1, ts1, first), (k2, _, second) = link.events
    assert (k1, k2) == ("capacity", "capacity")
    assert first["down_mbps"] < 10 and first["low"] is True and first["low_below_mbps"] == 40.0
    assert (first["retest"], first["retest_reason"], first["server"]) == (
        "awaiting",
        "low",
        f"127.0.0.1:{slow}",
    )
    assert second["down_mbps"] > 60 and second["low"] is False
    assert (second["trigger"], second["retest_of_ms"], second["retest_outcome"]) == (
        "retest",
        ts1,
        "superseded",
    )
    assert second["server"] == f"127.0.0.1:{fast}" and "retest" not in second
    assert first["server_tests"] == second["server_tests"] == 1
    assert tested.planner.retests == [] and tested.retests_run == 1


def test_a_low_result_is_retested_later_on_the_same_server_and_confirmed(
    tmp_path: Path, servers: dict[str, tuple[int, Proc]]
) -> None:
    tested, link = worker(tmp_path, url(servers["slow"][0]), {"delay_s": 600})
    started = time.time()
    tested.attempt(Pending("random", started))
    assert tested.planner is not None
    retest = tested.planner.next()
    assert retest.trigger == "retest" and retest.due_s >= started + 600  # at another time
    tested.attempt(retest)
    (_, ts1, first), (_, _, second) = link.events
    assert first["retest"] == "awaiting" and first["low"] is True
    assert (second["retest_of_ms"], second["retest_outcome"], second["low"]) == (
        ts1,
        "confirmed",
        True,
    )


def test_a_test_the_server_refuses_is_deferred_not_counted_and_run_later(
    tmp_path: Path, servers: dict[str, tuple[int, Proc]]
) -> None:
    port = servers["one"][0]
    tested, link = worker(tmp_path, url(port), {})
    other = http.client.HTTPConnection("127.0.0.1", port, timeout=10)  # another agent's test
    other.request("GET", contract.download_path(10**9), headers={contract.TEST_HEADER: "x"})
    assert other.getresponse().status == 200
    started = time.time()
    refused = tested.attempt(Pending("random", started))
    assert refused is not None and refused.decision.reason == "server_busy"
    assert refused.measurement is not None and refused.measurement.refused
    [(kind, _, deferred)] = link.events
    assert kind == "test_deferred"
    assert (deferred["reason"], deferred["retry_in_s"], deferred["gave_up"]) == (
        "server_busy",
        2.0,
        False,
    )
    assert tested.planner is not None
    again = tested.planner.next()
    assert again.deferrals == 1 and started + 2 <= again.due_s <= time.time() + 2
    assert tested.tester is not None
    zone = tested.tester.cfg.schedule.zone
    ledger = tested.tester.ledger.load(local_day(time.time(), zone))
    assert (ledger.tests, ledger.bytes) == (0, 0)  # no test took place
    other.close()
    deadline = time.time() + 20
    while link.events[-1][0] != "capacity" and time.time() < deadline:
        time.sleep(max(0.0, tested.planner.next().due_s - time.time()))
        tested.attempt(tested.planner.next())
    kinds = [k for k, _, _ in link.events]
    assert kinds[0] == "test_deferred" and kinds[-1] == "capacity"
    assert set(kinds[1:-1]) <= {"test_deferred"}  # the grace of the other test, at most
    result = link.events[-1][2]
    assert result["down_mbps"] > 60 and result["server_cap"] == 1 and "server_busy" not in result


def test_two_agents_at_a_server_that_runs_one_test_at_a_time(
    tmp_path: Path, mosquitto: Any, influxd: Any, database: str
) -> None:
    """Two agents (two processes, one point each) test at once against a server with
    --max-tests 1: the server refuses one (503), that agent tries again after Retry-After, and
    both results land in InfluxDB through the broker and the collector, each carrying the
    server's load."""
    port = free_port()
    server = Proc(
        [
            "speedtest-server",
            *("--bind", "127.0.0.1", "--http-port", str(port), "--iperf3-ports", ""),
            *("--max-tests", "1", "--busy-retry-s", "2", "--max-mbps", "50"),
        ],
        tmp_path / "server.log",
    ).start()
    server.wait_log("ready", 15)
    points = ["citangkil-21", "citangkil-22"]
    registry = registry_file(tmp_path / "registry.yaml", points)
    collector = start_collector(
        collector_config(
            tmp_path / "collector.yaml", mosquitto.port, influxd.url, database, registry
        ),
        tmp_path / "collector.log",
    )
    agents = []
    for point in points:
        config = agent_config(
            tmp_path / point / "agent.yaml",
            mosquitto.port,
            [
                {
                    "id": point,
                    "source": {"kind": "linux", "wan_interface": "lo"},
                    "capacity": {
                        "method": {
                            "kind": "http",
                            "url": url(port),
                            "duration_s": 2,
                            "omit_s": 1,
                            "streams": 2,
                            # the direction the rows below are read from; each test holds the
                            # server for about 4 s, the other agent's first try comes within 1 s
                            "directions": ["down"],
                        },
                        # both first tests at once, after the samplers' first WAN rates
                        # (two readings a second apart: at 2 s a slow start had none yet,
                        # and the test was deferred 300 s)
                        "schedule": {"first_after_s": 4, "peak_tests_per_day": 0},
                        # the other agent's test crosses lo, this point's "WAN"
                        "defer_above_bps": 1e12,
                        "max_deferrals": 30,
                        "retest": {"committed_mbps": 10, "server_cpu_pct": None},
                    },
                }
            ],
        )
        agents.append(start_agent(config, tmp_path / point / "agent.log"))
    db = influx(influxd.url, database)

    def stored() -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
        try:
            rows = db.query('SELECT * FROM "capacity" WHERE "direction" = \'down\'')
            deferred = db.query('SELECT * FROM "event" WHERE "kind" = \'test_deferred\'')
        except Exception:
            return None
        return (rows, deferred) if {r["point"] for r in rows} == set(points) else None

    try:
        rows, deferred = wait_for(stored, 90, "a result of each agent in InfluxDB")
    finally:
        for agent in agents:
            agent.stop()
        collector.stop()
        server.stop()
    assert len(rows) == 2, rows
    refused = {d["point"] for d in deferred}
    assert len(refused) == 1, deferred  # the second to come was refused, the first ran
    assert {d["data_reason"] for d in deferred} == {"server_busy"}
    assert {d["data_retry_in_s"] for d in deferred} == {2.0}
    assert not any(d["data_gave_up"] for d in deferred)
    by_point = {r["point"]: r for r in rows}
    (late,) = refused
    assert by_point[late]["time"] > max(d["time"] for d in deferred)  # its test ran after
    for row in rows:
        assert row["mbps"] > 0 and row["trigger"] == "first"
        assert (row["server_tests"], row["server_cap"]) == (1, 1)  # one test at a time
        assert 0 <= row["server_cpu_pct"] <= 100
        assert row["low"] is False and row["server_loaded"] is False
        assert (
            row.get("server_busy") is None
        )  # refused outright, then run whole: not a partial test
    assert "refused" in server.log()
