"""`pantau agent speedtest` against a real `pantau speedtest-server` that runs its maximum of
tests (`--max-tests 1`, the slot held by another test's open stream): the technician gets one
line saying the server is busy, with the load it reported and when to come back, and exit
status 75 (EX_TEMPFAIL), not the generic failure; once the slot is free the same command
measures. No network namespace: loopback, no root."""

from __future__ import annotations

import http.client
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pantau.agent.speedtest_cli import EXIT_SERVER_BUSY
from pantau.collector.lab.services import free_port
from pantau.shared.speedtest import contract
from tests.pipeline import PANTAU, Proc, agent_config, wait_for

RETRY_S = 7


@pytest.fixture
def full_server(tmp_path: Path) -> Iterator[int]:
    """A test server that runs one test at a time, on a free loopback port."""
    port = free_port()
    proc = Proc(
        [
            "speedtest-server",
            *("--bind", "127.0.0.1", "--http-port", str(port), "--iperf3-ports", ""),
            *("--max-tests", "1", "--busy-retry-s", str(RETRY_S), "--max-mbps", "100"),
        ],
        tmp_path / "speedtest-server.log",
    )
    proc.start().wait_log("ready", 15)
    yield port
    proc.stop()


def load(port: int) -> contract.ServerLoad | None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", contract.PING)
        return contract.parse_load(conn.getresponse().getheader(contract.LOAD_HEADER))
    finally:
        conn.close()


def speedtest(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PANTAU, "agent", "speedtest", "--config", str(config), "--publish"],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def test_a_full_test_server_is_one_line_and_exit_75_then_the_test_runs(
    full_server: int, tmp_path: Path
) -> None:
    port = full_server
    config = agent_config(
        tmp_path / "agent.yaml",
        1883,
        [
            {
                "id": "citangkil-03",
                "source": {"kind": "linux", "wan_interface": "lo"},
                "capacity": {
                    "method": {
                        "kind": "http",
                        "url": f"http://127.0.0.1:{port}",
                        "duration_s": 1,
                        "omit_s": 0,
                    }
                },
            }
        ],
    )
    spool = tmp_path / "agent-state" / "spool.sqlite"
    other = http.client.HTTPConnection("127.0.0.1", port, timeout=10)  # another agent's test
    other.request("GET", contract.download_path(10**9), headers={contract.TEST_HEADER: "other"})
    assert other.getresponse().status == 200
    busy = speedtest(config)
    assert busy.returncode == EXIT_SERVER_BUSY == 75, busy.stdout + busy.stderr
    lines = busy.stderr.splitlines()
    assert len(lines) == 1, busy.stderr
    assert re.fullmatch(
        rf"citangkil-03: the test server 127\.0\.0\.1:{port} is busy: it runs its maximum of"
        r" tests \(1 of 1 tests running, CPU \d+ %\) and refused this one \(HTTP 503\); no test"
        rf" took place, try again in {RETRY_S} s",
        lines[0],
    ), lines[0]
    assert "{" not in busy.stdout  # no JSON result: no test took place
    assert not spool.exists()  # and nothing spooled for the NOC despite --publish
    other.close()
    wait_for(lambda: (found := load(port)) is not None and found.active == 0, 15, "a free slot")
    done = speedtest(config)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["down_mbps"] > 0 and result["up_mbps"] > 0
    assert (result["server_tests"], result["server_cap"]) == (1, 1)
    assert "server_busy" not in result and spool.exists()
