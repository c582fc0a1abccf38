"""`pantau speedtest-server`: the NOC's test server. It keeps iperf3 servers running (one per
port: iperf3 serves one test at a time) and serves the HTTP test endpoint beside them
(shared/speedtest/contract.py). It runs on a NOC host with only the base install, beside the
contract its client shares, so it is the one module of `shared` that does network I/O.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from pantau.shared.errors import ConfigError
from pantau.shared.speedtest import contract

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
MARK_EVERY_S = 0.05
MAX_UPLOAD_S = 120.0
_PAYLOAD = memoryview(bytes(range(256)) * (CHUNK // 256))


class Endpoint(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pantau-speedtest/1"
    timeout = 30  # a stalled client frees its thread
    max_bytes = 2_000_000_000

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == contract.DOWNLOAD:
            self._download(url.query)
        elif url.path == contract.PING:
            self._reply(200, b"pong\n", "text/plain")
        elif url.path == "/":
            self._reply(200, (__doc__ or "").encode(), "text/plain")
        else:
            self._reply(404, b"not found\n", "text/plain")

    def do_POST(self) -> None:
        if urlsplit(self.path).path != contract.UPLOAD:
            self._reply(404, b"not found\n", "text/plain")
            return
        try:
            received, marks = self._read_body()
        except (OSError, ValueError) as exc:
            log.debug("upload from %s ended: %s", self.address_string(), exc)
            self.close_connection = True
            return
        body = json.dumps({contract.UPLOAD_BYTES: received, contract.UPLOAD_MARKS: marks}).encode()
        self._reply(200, body, "application/json")

    def _download(self, query: str) -> None:
        try:
            wanted = int(parse_qs(query).get(contract.BYTES_PARAM, ["0"])[0])
        except ValueError:
            self._reply(400, b"bytes must be a whole number\n", "text/plain")
            return
        size = max(0, min(wanted, self.max_bytes))
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        left = size
        try:
            while left > 0:
                piece = _PAYLOAD[: min(CHUNK, left)]
                self.wfile.write(piece)
                left -= len(piece)
        except OSError:  # the client stops reading when its time is up: the normal end
            self.close_connection = True

    def _read_body(self) -> tuple[int, list[list[float]]]:
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        length = None if chunked else int(self.headers.get("Content-Length", "0"))
        started = time.monotonic()
        marks: list[list[float]] = [[started, 0]]
        received = 0
        last_mark = started
        for size in self._pieces(chunked, length):
            received += size
            now = time.monotonic()
            if now - last_mark >= MARK_EVERY_S:
                marks.append([now, received])
                last_mark = now
            if now - started > MAX_UPLOAD_S or received > self.max_bytes:
                raise ValueError("upload too long")
        end = time.monotonic()
        if marks[-1][1] != received:
            marks.append([end, received])
        return received, marks

    def _pieces(self, chunked: bool, length: int | None):  # type: ignore[no-untyped-def]
        """Sizes of the pieces of the request body as they arrive."""
        read = self.rfile.read
        if not chunked:
            left = length or 0
            while left > 0:
                data = self.rfile.read1(min(CHUNK, left))  # type: ignore[attr-defined]
                if not data:
                    raise ValueError("body ended early")
                left -= len(data)
                yield len(data)
            return
        while True:
            line = self.rfile.readline(100)
            size = int(line.split(b";", 1)[0].strip() or b"x", 16)
            if size == 0:
                while self.rfile.readline(1000) not in (b"\r\n", b"\n", b""):
                    pass
                return
            left = size
            while left > 0:
                data = self.rfile.read1(min(CHUNK, left))  # type: ignore[attr-defined]
                if not data:
                    raise ValueError("body ended early")
                left -= len(data)
                yield len(data)
            read(2)

    def _reply(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Iperf3Servers:
    """iperf3 -s on each port, restarted when one exits."""

    def __init__(self, binary: str, ports: list[int], bind: str | None) -> None:
        self.binary = binary
        self.ports = ports
        self.bind = bind
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="iperf3-servers", daemon=True)

    def start(self) -> None:
        for port in self.ports:
            self._spawn(port)
        self._thread.start()

    def _spawn(self, port: int) -> None:
        args = [self.binary, "-s", "-p", str(port)] + (["-B", self.bind] if self.bind else [])
        try:
            self.procs[port] = subprocess.Popen(
                args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        except FileNotFoundError as exc:
            raise ConfigError(f"{self.binary} is not installed") from exc

    def _watch(self) -> None:
        while not self._stop.wait(1.0):
            for port, proc in list(self.procs.items()):
                if proc.poll() is not None:
                    log.warning("iperf3 on port %d exited (%s); restarting", port, proc.returncode)
                    self._spawn(port)

    def wait_listening(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all(listening(p) for p in self.ports):
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        self._stop.set()
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def listening(port: int) -> bool:
    """Whether some socket listens on this TCP port (read from /proc, without connecting:
    a stray connection would count as a test to iperf3)."""
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(name).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    return True
    return False


def parse_ports(text: str) -> list[int]:
    """`5201`, `5201-5204` or `5201,5203` → ports."""
    ports: list[int] = []
    try:
        for part in text.split(","):
            if not part.strip():
                continue
            lo, _, hi = part.partition("-")
            first, last = int(lo), int(hi or lo)
            if not 1 <= first <= last <= 65535 or last - first > 64:
                raise ValueError
            ports += range(first, last + 1)
    except ValueError:
        raise ConfigError(f"--iperf3-ports {text!r} is not a port list") from None
    return ports


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bind", default="0.0.0.0", help="Address to listen on (default all)")
    parser.add_argument("--http-port", type=int, default=8080, help="HTTP endpoint port")
    parser.add_argument(
        "--iperf3-ports",
        default="5201-5204",
        help="iperf3 servers, one test each at a time (default 5201-5204; empty: none)",
    )
    parser.add_argument("--iperf3", default="iperf3", help="The iperf3 program")
    parser.add_argument(
        "--max-bytes",
        type=int,
        default=2_000_000_000,
        help="Largest download or upload one HTTP stream may move",
    )


def run(args: argparse.Namespace) -> int:
    ports = parse_ports(args.iperf3_ports)
    Endpoint.max_bytes = args.max_bytes
    try:
        httpd = ThreadingHTTPServer((args.bind, args.http_port), Endpoint)
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {args.bind}:{args.http_port}: {exc.strerror}"
        ) from None
    httpd.daemon_threads = True
    bind = None if args.bind in ("0.0.0.0", "::") else args.bind
    servers = Iperf3Servers(args.iperf3, ports, bind)
    servers.start()
    if ports and not servers.wait_listening(10.0):
        servers.stop()
        httpd.server_close()
        raise ConfigError(f"iperf3 did not listen on ports {args.iperf3_ports}")
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=httpd.shutdown).start())
    port = httpd.server_address[1]
    iperf = ",".join(map(str, ports)) or "none"
    print(f"speedtest-server: http {args.bind}:{port}, iperf3 ports {iperf}: ready", flush=True)
    try:
        httpd.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        servers.stop()
        httpd.server_close()
    return 0
