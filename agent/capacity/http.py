"""The HTTP test client: parallel streams downloading from and uploading to the test endpoint
of `pantau speedtest-server`, for networks that block iperf3's port.

Each direction is measured where the data arrives: downloads here, uploads at the server (it
answers with the marks of what it received), so socket buffers never inflate a figure.

Every stream of one test names the test (contract.TEST_HEADER), so the server runs them under
one slot; each answer carries the server's load, and the result keeps the highest seen. A
stream refused because the server runs its maximum of tests (503) makes the result
`server_busy`; refused on every stream, no test took place and the worker tries again later.
"""

from __future__ import annotations

import http.client
import json
import secrets
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pantau.agent.capacity.parse import Mark, aggregate_rate
from pantau.agent.capacity.result import Measurement
from pantau.agent.capacity.settings import seconds_per_direction
from pantau.agent.probes import Target, tcp_rtt_ms
from pantau.shared.speedtest import contract
from pantau.shared.stats import median

if TYPE_CHECKING:
    from pantau.agent.capacity.config import HttpMethod

CHUNK = 64 * 1024
SOCKET_TIMEOUT_S = 10.0
_PAYLOAD = bytes(range(256)) * (CHUNK // 256)  # no compression on this path; content is moot


class _Stream:
    def __init__(self) -> None:
        self.marks: list[Mark] = []
        self.error: str | None = None
        self.moved = 0
        self.load: contract.ServerLoad | None = None
        self.busy_retry_s: float | None = None  # set when the server refused it with 503


class HttpTest:
    name = "http"

    def __init__(self, cfg: HttpMethod) -> None:
        self.cfg = cfg
        url = urlsplit(cfg.url)
        self.host = url.hostname or ""
        self.port = url.port or 80
        self.server = f"{self.host}:{self.port}"
        token = contract.token_from_env()  # the NOC's server may want this agent's token
        self.headers = contract.auth_header(token) if token else {}

    @property
    def seconds(self) -> float:
        return float(seconds_per_direction(self.cfg) * len(self.cfg.directions))

    @property
    def directions(self) -> int:
        return len(self.cfg.directions)

    def measure(self, max_bytes: int | None = None) -> Measurement:
        cfg = self.cfg
        result = Measurement(self.name, self.server, cfg.streams, float(cfg.duration_s))
        rtts = [
            r
            for r in (tcp_rtt_ms(Target("tcp", self.host, self.port), 2.0) for _ in range(5))
            if r is not None
        ]
        result.rtt_ms = round(median(rtts), 3) if rtts else None
        cap = None
        if max_bytes is not None:
            cap = max(CHUNK, max_bytes // (len(cfg.directions) * cfg.streams))
        headers = self.headers | {contract.TEST_HEADER: secrets.token_hex(8)}
        for direction in cfg.directions:
            streams, start = self._run(direction, cap, headers)
            note_server(result, streams)
            bps = aggregate_rate(
                [s.marks for s in streams], start, cfg.omit_s, start + seconds_per_direction(cfg)
            )
            errors = sorted({s.error for s in streams if s.error})
            moved = sum(s.moved for s in streams)
            setattr(result, f"{direction}_bytes", moved)
            if bps is None or (errors and len(errors) == len(streams)):
                result.errors.append(f"{direction}: {errors[0] if errors else 'no data moved'}")
                continue
            setattr(result, f"{direction}_mbps", round(bps / 1e6, 3))
            if errors:
                result.errors.append(f"{direction}: {len(errors)} stream(s) failed: {errors[0]}")
        return result

    def _run(
        self, direction: str, cap: int | None, headers: dict[str, str]
    ) -> tuple[list[_Stream], float]:
        cfg = self.cfg
        streams = [_Stream() for _ in range(cfg.streams)]
        timing: dict[str, float] = {}

        def go() -> None:  # run once, when every stream is connected: all start together
            timing["start"] = time.monotonic()
            timing["deadline"] = timing["start"] + seconds_per_direction(cfg)

        gate = threading.Barrier(cfg.streams, action=go)
        work = self._download if direction == "down" else self._upload
        threads = [
            threading.Thread(target=work, args=(s, gate, timing, cap, headers), daemon=True)
            for s in streams
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(seconds_per_direction(cfg) + 2 * SOCKET_TIMEOUT_S)
        start = timing.get("start", 0.0)
        if direction == "up":  # the server's marks are on the server's clock
            firsts = [s.marks[0][0] for s in streams if s.marks]
            start = min(firsts) if firsts else 0.0
        return streams, start

    def _connect(
        self, stream: _Stream, gate: threading.Barrier
    ) -> http.client.HTTPConnection | None:
        conn: http.client.HTTPConnection | None = http.client.HTTPConnection(
            self.host, self.port, timeout=SOCKET_TIMEOUT_S
        )
        try:
            conn.connect()  # type: ignore[union-attr]
        except OSError as exc:
            stream.error = f"cannot connect: {exc}"
            conn = None
        try:
            gate.wait(SOCKET_TIMEOUT_S)
        except threading.BrokenBarrierError:
            if conn is not None:
                conn.close()
            stream.error = stream.error or "the other streams could not connect"
            return None
        return conn

    def _download(
        self,
        stream: _Stream,
        gate: threading.Barrier,
        timing: dict[str, float],
        cap: int | None,
        headers: dict[str, str],
    ) -> None:
        conn = self._connect(stream, gate)
        if conn is None:
            return
        want = cap if cap is not None else 1 << 40
        try:
            conn.request("GET", contract.download_path(want), headers=headers)
            response = conn.getresponse()
            stream.load = contract.parse_load(response.getheader(contract.LOAD_HEADER))
            if response.status == contract.BUSY_STATUS:
                refused(stream, response)
                return
            if response.status != 200:
                stream.error = f"HTTP {response.status} for {contract.DOWNLOAD}"
                return
            stream.marks.append((timing["start"], 0))
            while True:
                chunk = response.read1(CHUNK)
                now = time.monotonic()
                if not chunk:
                    break
                stream.moved += len(chunk)
                stream.marks.append((now, stream.moved))
                if now >= timing["deadline"]:
                    break
        except (OSError, http.client.HTTPException) as exc:
            stream.error = f"download: {type(exc).__name__}: {exc}"
        finally:
            conn.close()

    def _upload(
        self,
        stream: _Stream,
        gate: threading.Barrier,
        timing: dict[str, float],
        cap: int | None,
        headers: dict[str, str],
    ) -> None:
        conn = self._connect(stream, gate)
        if conn is None:
            return
        limit = cap if cap is not None else 1 << 40

        def body() -> Iterator[bytes]:
            sent = 0
            while time.monotonic() < timing["deadline"] and sent < limit:
                sent += CHUNK
                yield _PAYLOAD

        try:
            conn.request(
                "POST",
                contract.UPLOAD,
                body=body(),
                encode_chunked=True,
                headers={"Content-Type": "application/octet-stream", **headers},
            )
            response = conn.getresponse()
            text = response.read()
            if response.status == contract.BUSY_STATUS:
                stream.load = contract.parse_load(response.getheader(contract.LOAD_HEADER))
                refused(stream, response)
                return
            if response.status != 200:
                stream.error = f"HTTP {response.status} for {contract.UPLOAD}"
                return
            doc = json.loads(text)
            stream.load = contract.load_from_json(doc.get(contract.UPLOAD_LOAD))
            stream.marks = [(float(t), int(b)) for t, b in doc[contract.UPLOAD_MARKS]]
            stream.moved = int(doc[contract.UPLOAD_BYTES])
        except (OSError, http.client.HTTPException, ValueError, KeyError, TypeError) as exc:
            stream.error = f"upload: {type(exc).__name__}: {exc}"
        finally:
            conn.close()


def refused(stream: _Stream, response: http.client.HTTPResponse) -> None:
    """The server runs its maximum of tests: this stream did not run."""
    try:
        stream.busy_retry_s = float(response.getheader("Retry-After") or 0)
    except ValueError:
        stream.busy_retry_s = 0.0
    stream.error = f"HTTP {contract.BUSY_STATUS}: the test server runs its maximum of tests"


def note_server(result: Measurement, streams: list[_Stream]) -> None:
    """The highest load the server reported to any stream, and whether it refused one."""
    for stream in streams:
        if stream.load is not None:
            result.note_load(stream.load.active, stream.load.cap, stream.load.cpu_pct)
        if stream.busy_retry_s is not None:
            result.server_busy = True
            result.retry_after_s = max(result.retry_after_s or 0.0, stream.busy_retry_s)
