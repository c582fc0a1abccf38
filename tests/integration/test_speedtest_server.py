"""The NOC's speed-test server, run for real: only on the address it is given, only for agents
with a token it issued, and no client beyond its streams, rate and bytes a day (issue 14,
defect 6: it had no authentication and no cap, and the README started it on 0.0.0.0)."""

from __future__ import annotations

import http.client
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pantau.agent.capacity.config import HttpMethod
from pantau.agent.capacity.http import HttpTest
from pantau.collector.lab.services import free_port
from pantau.shared.speedtest import contract
from tests.pipeline import PANTAU, Proc, wait_for

CAP_MBPS = 80
STREAMS = 8  # an agent's HTTP test uses four at once; a direction's may linger into the next
DAY_BYTES = 120_000_000  # a test at the cap moves about 80 MB


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PANTAU, "speedtest-server", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[int, Path, Proc]]:
    """A server with a tokens file, and a token issued for agent cit-01."""
    tokens, token = tmp_path / "tokens", tmp_path / "cit-01.token"
    issued = cli("--tokens-file", str(tokens), "--issue-token", "cit-01", "--token-out", str(token))
    assert issued.returncode == 0, issued.stderr
    port = free_port()
    proc = Proc(
        [
            "speedtest-server",
            *("--bind", "127.0.0.1", "--http-port", str(port), "--iperf3-ports", ""),
            *("--tokens-file", str(tokens), "--max-streams", str(STREAMS)),
            *("--max-mbps", str(CAP_MBPS), "--max-bytes-per-day", str(DAY_BYTES)),
        ],
        tmp_path / "server.log",
    )
    proc.start().wait_log("ready", 15)
    yield port, token, proc
    proc.stop()


def request(
    port: int, method: str, path: str, token: str | None = None
) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = contract.auth_header(token) if token else {}
    body = b"x" * 1000 if method == "POST" else None
    conn.request(method, path, body=body, headers=headers)
    return conn.getresponse()


def test_only_agents_with_a_token_within_their_caps(
    server: tuple[int, Path, Proc], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, token_file, proc = server
    token = token_file.read_text().strip()
    assert os.stat(token_file).st_mode & 0o777 == 0o600
    assert token not in (token_file.parent / "tokens").read_text()  # only its hash is kept
    assert "cit-01 " in (token_file.parent / "tokens").read_text()
    # Nobody without a token of ours.
    assert request(port, "GET", contract.download_path(1000)).status == 401
    assert request(port, "POST", contract.UPLOAD).status == 401
    assert request(port, "GET", contract.download_path(1000), "not-a-token").status == 401
    assert request(port, "GET", contract.PING).status == 200  # "is it up" stays open
    # The agent's own client, with its token from the environment: a test, at the cap at most.
    monkeypatch.setenv(contract.TOKEN_FILE_ENV, str(token_file))
    url = f"http://127.0.0.1:{port}"
    method = HttpMethod(kind="http", url=url, duration_s=3, omit_s=1, streams=4)
    measured = HttpTest(method).measure()
    assert measured.errors == []
    assert measured.down_mbps is not None and measured.up_mbps is not None
    assert measured.down_mbps <= CAP_MBPS * 1.15 and measured.up_mbps <= CAP_MBPS * 1.15
    # Its streams at once, not one more.
    open_ = [request(port, "GET", contract.download_path(DAY_BYTES), token) for _ in range(STREAMS)]
    assert [r.status for r in open_] == [200] * STREAMS
    extra = request(port, "GET", contract.download_path(1000), token)
    assert (extra.status, extra.getheader("Retry-After")) == (429, "3600")
    first = open_[0]
    left = int(first.getheader("Content-Length") or 0)
    assert left < DAY_BYTES  # what the day still allows, after the test above
    for response in open_[1:]:
        response.close()
    # Drain the first: the day's bytes are then used up, and the next request is refused.
    while first.read(65536):
        pass
    refused = request(port, "GET", contract.download_path(1000), token)
    assert refused.status == 429
    assert b"bytes used today" in refused.read()
    assert "refused" in proc.log() and token not in proc.log()


def test_it_listens_only_where_it_is_told(tmp_path: Path) -> None:
    none = cli("--iperf3-ports", "")
    assert none.returncode == 2
    assert "--bind ADDRESS is required" in none.stderr
    everywhere = cli("--bind", "0.0.0.0", "--iperf3-ports", "")
    assert everywhere.returncode == 2
    assert "add --all-addresses" in everywhere.stderr


def start_server(tmp_path: Path, name: str, *args: str) -> tuple[int, Proc]:
    """An open server (no tokens) on a free loopback port."""
    port = free_port()
    proc = Proc(
        [
            "speedtest-server",
            *("--bind", "127.0.0.1", "--http-port", str(port), "--iperf3-ports", ""),
            *args,
        ],
        tmp_path / f"{name}.log",
    )
    proc.start().wait_log("ready", 15)
    return port, proc


def download(port: int, test: str, size: int = DAY_BYTES) -> http.client.HTTPResponse:
    """A download stream of test `test`, left open (its slot held) until it is closed."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", contract.download_path(size), headers={contract.TEST_HEADER: test})
    return conn.getresponse()


def test_tests_over_the_cap_are_refused_and_every_answer_carries_the_load(
    tmp_path: Path,
) -> None:
    """--max-tests 2: a test held open beside the agent's is real load the agent's result
    carries; a third test is refused with 503 and Retry-After, never slowed down."""
    port, proc = start_server(
        tmp_path, "server", "--max-tests", "2", "--busy-retry-s", "7", "--max-mbps", "100"
    )
    try:
        idle = request(port, "GET", contract.PING)
        load = contract.parse_load(idle.getheader(contract.LOAD_HEADER))
        assert load is not None and (load.active, load.cap) == (0, 2)
        assert 0.0 <= load.cpu_pct <= 100.0
        other = download(port, "other-test")  # another agent's test, running all along
        assert other.status == 200
        assert contract.parse_load(other.getheader(contract.LOAD_HEADER)).active == 1  # type: ignore[union-attr]
        method = HttpMethod(kind="http", url=f"http://127.0.0.1:{port}", duration_s=2, omit_s=1)
        measured = HttpTest(method).measure()
        assert measured.errors == [] and measured.server_busy is False
        assert (measured.server_tests, measured.server_cap) == (2, 2)  # its own and the other
        assert measured.server_cpu_pct is not None and 0.0 <= measured.server_cpu_pct <= 100.0
        data = measured.data(None, False, "random")
        assert (data["server_tests"], data["server_cap"]) == (2, 2)
        assert "server_busy" not in data
        # the agent's test still holds its slot for TEST_GRACE_S: a third test is refused
        third = download(port, "third-test", 1000)
        assert (third.status, third.getheader("Retry-After")) == (503, "7")
        assert contract.parse_load(third.getheader(contract.LOAD_HEADER)) == contract.ServerLoad(
            2,
            2,
            contract.parse_load(third.getheader(contract.LOAD_HEADER)).cpu_pct,  # type: ignore[union-attr]
        )
        # a test refused on every stream is no test: the agent's client says so
        refused = HttpTest(method).measure()
        assert refused.refused and refused.server_busy and refused.retry_after_s == 7.0
        assert refused.down_mbps is None and refused.up_mbps is None
        assert "HTTP 503" in refused.errors[0]
        other.close()
        # once both slots are free again (the grace over), a test runs
        wait_for(
            lambda: (
                contract.parse_load(
                    request(port, "GET", contract.PING).getheader(contract.LOAD_HEADER)
                ).active  # type: ignore[union-attr]
                == 0
            ),
            15,
            "the server idle again",
        )
        again = download(port, "third-test", 1000)
        assert again.status == 200 and len(again.read()) == 1000
        assert "refused" in proc.log()
    finally:
        proc.stop()
