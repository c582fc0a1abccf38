"""`pantau speedtest-server`: the NOC's test server. It keeps iperf3 servers running (one per
port: iperf3 serves one test at a time) and serves the HTTP test endpoint beside them
(shared/speedtest/contract.py). It runs on a NOC host with only the base install, beside the
contract its client shares, so it is the one module of `shared` that does network I/O.

It listens only on the address it is given. With a tokens file, the HTTP test wants a token an
agent was issued (`--issue-token`); every client (a token's name, else its address) is capped:
streams at once, its rate and its bytes a day, so one client cannot take the server or its link.

It runs at most `--max-tests` tests at once (HTTP tests, and iperf3 ports with a test running):
one more is refused with 503 and Retry-After, never slowed down, since a test sharing the
server with too many others would measure the server rather than the point's link. Every
answer says how loaded the server was (contract.ServerLoad), so each result carries it.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import secrets
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from pantau.shared.config import read_secret_file
from pantau.shared.errors import ConfigError
from pantau.shared.logs import Throttle
from pantau.shared.speedtest import contract

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
MARK_EVERY_S = 0.05
MAX_UPLOAD_S = 120.0
MAX_TESTS = 8  # tests at once: 8 x 50 Mbit/s fits a 1 Gbit/s server link with room to spare
TEST_GRACE_S = 3.0  # a test keeps its slot this long after its last stream, for its next direction
BUSY_RETRY_S = 30  # Retry-After of a 503: about one test's length
_PAYLOAD = memoryview(bytes(range(256)) * (CHUNK // 256))
WILDCARDS = ("", "0.0.0.0", "::")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Tokens:
    """The tokens file: `name sha256-of-token` a line (mode 600; no token in clear), re-read
    when it changes, so a token issued or removed takes effect without a restart."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[float, int] | None = None
        self._names: dict[str, str] = {}
        self._lock = threading.Lock()
        self._load()

    def _load(self) -> None:
        text = read_secret_file(self.path).get_secret_value() if self.path.exists() else ""
        names: dict[str, str] = {}
        for number, line in enumerate(text.splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) != 2 or len(parts[1]) != 64:
                raise ConfigError(f"{self.path}: line {number} is not `name sha256`")
            names[parts[1].lower()] = parts[0]
        stat = self.path.stat() if self.path.exists() else None
        self._stamp = (stat.st_mtime, stat.st_size) if stat else None
        self._names = names

    def who(self, header: str) -> str | None:
        """The name of the token in an `Authorization: Bearer` header, None if not ours."""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        with self._lock:
            with contextlib.suppress(OSError, ConfigError):
                stat = self.path.stat()
                if (stat.st_mtime, stat.st_size) != self._stamp:
                    self._load()
            wanted = token_hash(token.strip())
            for digest, name in self._names.items():
                if hmac.compare_digest(digest, wanted):
                    return name
        return None

    def issue(self, name: str, out: Path) -> None:
        """A new token for `name` (replacing its old one): its hash here, the token in `out`."""
        if not name or any(c.isspace() for c in name):
            raise ConfigError(f"{name!r} is not a token name (no spaces)")
        token = secrets.token_urlsafe(32)
        _write_private(out, token + "\n")
        with self._lock:
            self._load()
            lines = [f"{n} {h}" for h, n in sorted(self._names.items()) if n != name]
            lines.append(f"{name} {token_hash(token)}")
            _write_private(self.path, "\n".join(lines) + "\n")
            self._load()


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


@dataclass(frozen=True)
class Caps:
    streams: int = 16  # open at once; an agent's test uses a few
    bits_per_s: float = 1e9  # all its streams together (well above any point's contract)
    bytes_per_day: int = 20_000_000_000  # UTC day; a point's test budget is 1000 MB a day


class Clients:
    """What each client is using: streams open now, bytes today, a rate shared by its streams."""

    def __init__(self, caps: Caps, clock=time.monotonic) -> None:  # type: ignore[no-untyped-def]
        self.caps = caps
        self._clock = clock
        self._lock = threading.Lock()
        self._open: dict[str, int] = {}
        self._day = ""
        self._bytes: dict[str, int] = {}
        self._bucket: dict[str, tuple[float, float]] = {}  # bytes available, at when

    def admit(self, client: str) -> str | None:
        """Take a stream for `client`, or say why not."""
        with self._lock:
            self._roll_day()
            if self._open.get(client, 0) >= self.caps.streams:
                return f"{self.caps.streams} streams already open"
            if self._bytes.get(client, 0) >= self.caps.bytes_per_day:
                return f"{self.caps.bytes_per_day} bytes used today"
            self._open[client] = self._open.get(client, 0) + 1
            return None

    def release(self, client: str) -> None:
        with self._lock:
            self._open[client] = max(0, self._open.get(client, 0) - 1)

    def left_today(self, client: str) -> int:
        with self._lock:
            self._roll_day()
            return max(0, self.caps.bytes_per_day - self._bytes.get(client, 0))

    def spend(self, client: str, size: int) -> bool:
        """Count `size` bytes and wait as long as the client's rate wants; False once the
        day's bytes are used up."""
        rate = self.caps.bits_per_s / 8
        burst = max(rate * 0.05, CHUNK * 2)
        with self._lock:
            self._roll_day()
            used = self._bytes.get(client, 0) + size
            self._bytes[client] = used
            now = self._clock()
            available, at = self._bucket.get(client, (burst, now))
            available = min(burst, available + (now - at) * rate) - size
            self._bucket[client] = (available, now)
        if available < 0:
            time.sleep(-available / rate)
        return used <= self.caps.bytes_per_day

    def _roll_day(self) -> None:
        today = dt.datetime.now(dt.UTC).date().isoformat()
        if today != self._day:
            self._day, self._bytes = today, {}


class CpuMeter:
    """The host's CPU busy share over the last second, from /proc/stat (the base install has no
    psutil): a thread reads the counters once a second."""

    def __init__(self, path: str = "/proc/stat") -> None:
        self.path = path
        self.pct = 0.0
        self._last = self._read()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-meter", daemon=True)

    def _read(self) -> tuple[int, int] | None:
        """(busy, total) jiffies of all CPUs together."""
        try:
            with open(self.path, encoding="ascii") as handle:
                fields = [int(v) for v in handle.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        total = sum(fields[:8])  # guest time is already in user and nice
        return total - idle, total

    def start(self) -> CpuMeter:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self.tick()

    def tick(self) -> None:
        """The share since the last reading."""
        now = self._read()
        if now is not None and self._last is not None and now[1] > self._last[1]:
            busy, total = now[0] - self._last[0], now[1] - self._last[1]
            self.pct = max(0.0, min(100.0, 100.0 * busy / total))
        self._last = now


class Slots:
    """The tests running now, each named by its id (contract.TEST_HEADER). A test holds its slot
    while any of its streams is open and TEST_GRACE_S after, so its next direction finds it;
    `others` counts tests run elsewhere (iperf3 ports with a connection)."""

    def __init__(
        self,
        cap: int = MAX_TESTS,
        grace_s: float = TEST_GRACE_S,
        others=lambda: 0,  # type: ignore[no-untyped-def]
        clock=time.monotonic,  # type: ignore[no-untyped-def]
    ) -> None:
        self.cap = cap
        self.grace_s = grace_s
        self._others = others
        self._clock = clock
        self._lock = threading.Lock()
        self._open: dict[str, int] = {}
        self._released: dict[str, float] = {}

    def _held(self, now: float) -> set[str]:
        for test, at in list(self._released.items()):
            if now - at >= self.grace_s:
                del self._released[test]
        return {t for t, n in self._open.items() if n > 0} | set(self._released)

    def take(self, test: str) -> bool:
        """A stream of `test` may start: its test holds a slot already, or a slot is free."""
        with self._lock:
            held = self._held(self._clock())
            if test not in held and len(held) + self._others() >= self.cap:
                return False
            self._open[test] = self._open.get(test, 0) + 1
            self._released.pop(test, None)
            return True

    def give(self, test: str) -> None:
        with self._lock:
            left = self._open.get(test, 0) - 1
            if left > 0:
                self._open[test] = left
            else:
                self._open.pop(test, None)
                self._released[test] = self._clock()

    def active(self) -> int:
        with self._lock:
            return len(self._held(self._clock())) + self._others()


def iperf3_running(ports: tuple[int, ...]) -> int:
    """iperf3 ports with a test running: an established connection to one of them, from /proc
    (iperf3 serves one test at a time per port)."""
    if not ports:
        return 0
    busy: set[int] = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(name).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "01":  # ESTABLISHED
                    port = int(fields[1].rsplit(":", 1)[1], 16)
                    if port in ports:
                        busy.add(port)
    return len(busy)


class Endpoint(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pantau-speedtest/1"
    timeout = 30  # a stalled client frees its thread
    max_bytes = 2_000_000_000
    tokens: Tokens | None = None
    clients = Clients(Caps())
    slots = Slots()
    cpu: CpuMeter | None = None
    refusals = Throttle(300.0)
    busy_retry_s = BUSY_RETRY_S

    def load(self) -> contract.ServerLoad:
        return contract.ServerLoad(
            self.slots.active(), self.slots.cap, self.cpu.pct if self.cpu is not None else 0.0
        )

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == contract.DOWNLOAD:
            admitted = self._admit()
            if admitted is None:
                return
            try:
                self._download(url.query, admitted[0])
            finally:
                self._release(*admitted)
        elif url.path == contract.PING:
            self._reply(200, b"pong\n", "text/plain", {contract.LOAD_HEADER: self.load().header()})
        elif url.path == "/":
            self._reply(200, (__doc__ or "").encode(), "text/plain")
        else:
            self._reply(404, b"not found\n", "text/plain")

    def do_POST(self) -> None:
        if urlsplit(self.path).path != contract.UPLOAD:
            self._reply(404, b"not found\n", "text/plain")
            return
        admitted = self._admit()
        if admitted is None:
            return
        client = admitted[0]
        try:
            received, marks = self._read_body(client)
            load = self.load()  # as the upload ends, this test still holding its slot
        except (OSError, ValueError) as exc:
            log.debug("upload from %s ended: %s", self.address_string(), exc)
            self.close_connection = True
            return
        finally:
            self._release(*admitted)
        body = json.dumps(
            {
                contract.UPLOAD_BYTES: received,
                contract.UPLOAD_MARKS: marks,
                contract.UPLOAD_LOAD: load.as_dict(),
            }
        ).encode()
        self._reply(200, body, "application/json")

    def _admit(self) -> tuple[str, str] | None:
        """The client and the test this request counts against, or None once it was refused
        (401, 429, or 503 when every test slot is taken)."""
        client = self.client_address[0]
        if self.tokens is not None:
            name = self.tokens.who(self.headers.get("Authorization", ""))
            if name is None:
                self._refuse(401, client, "no token of ours", close=True)
                return None
            client = name
        test = f"{client}/{self.headers.get(contract.TEST_HEADER, '').strip()[:64]}"
        if not self.slots.take(test):
            self._refuse(
                contract.BUSY_STATUS, client, f"{self.slots.cap} test(s) running", close=True
            )
            return None
        why = self.clients.admit(client)
        if why is not None:
            self.slots.give(test)
            self._refuse(429, client, why, close=True)
            return None
        return client, test

    def _release(self, client: str, test: str) -> None:
        self.clients.release(client)
        self.slots.give(test)

    def _refuse(self, status: int, client: str, why: str, close: bool) -> None:
        if count := self.refusals.hit(f"{status}:{client}", why):
            log.warning(
                "refused %d test request(s) of %s (%s): %s", count, client[:64], status, why
            )
        self.send_response(status)
        if status == 429:
            self.send_header("Retry-After", "3600")
        if status == contract.BUSY_STATUS:
            self.send_header("Retry-After", str(self.busy_retry_s))
            self.send_header(contract.LOAD_HEADER, self.load().header())
        body = f"{why}\n".encode()
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def _download(self, query: str, client: str) -> None:
        try:
            wanted = int(parse_qs(query).get(contract.BYTES_PARAM, ["0"])[0])
        except ValueError:
            self._reply(400, b"bytes must be a whole number\n", "text/plain")
            return
        size = max(0, min(wanted, self.max_bytes, self.clients.left_today(client)))
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.send_header("Cache-Control", "no-store")
        self.send_header(contract.LOAD_HEADER, self.load().header())
        self.end_headers()
        left = size
        try:
            while left > 0:
                piece = _PAYLOAD[: min(CHUNK, left)]
                self.clients.spend(client, len(piece))
                self.wfile.write(piece)
                left -= len(piece)
        except OSError:  # the client stops reading when its time is up: the normal end
            self.close_connection = True

    def _read_body(self, client: str) -> tuple[int, list[list[float]]]:
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        length = None if chunked else int(self.headers.get("Content-Length", "0"))
        started = time.monotonic()
        marks: list[list[float]] = [[started, 0]]
        received = 0
        last_mark = started
        for size in self._pieces(chunked, length):
            received += size
            if not self.clients.spend(client, size):
                raise ValueError("the client's bytes for today are used up")
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

    def _reply(
        self, status: int, body: bytes, kind: str, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        for name, value in (extra or {}).items():
            self.send_header(name, value)
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
    parser.add_argument(
        "--bind",
        help="The address agents reach the server on (required; 0.0.0.0 needs --all-addresses)",
    )
    parser.add_argument(
        "--all-addresses", action="store_true", help="Allow --bind 0.0.0.0 or :: (every address)"
    )
    parser.add_argument(
        "--tokens-file",
        type=Path,
        help="Agents' tokens (`name sha256` a line, mode 600); without it the test is open",
    )
    parser.add_argument(
        "--issue-token",
        metavar="NAME",
        help="Make a token for an agent: its hash into --tokens-file, the token into --token-out",
    )
    parser.add_argument("--token-out", type=Path, help="Where --issue-token writes the token")
    parser.add_argument(
        "--max-streams", type=int, default=Caps.streams, help="Streams one client may hold"
    )
    parser.add_argument(
        "--max-mbps", type=float, default=Caps.bits_per_s / 1e6, help="One client's rate"
    )
    parser.add_argument(
        "--max-bytes-per-day",
        type=int,
        default=Caps.bytes_per_day,
        help="Bytes one client may move in a UTC day",
    )
    parser.add_argument(
        "--max-tests",
        type=int,
        default=MAX_TESTS,
        help="Tests at once, HTTP and iperf3 together; one more is refused with 503 (default 8)",
    )
    parser.add_argument(
        "--busy-retry-s",
        type=int,
        default=BUSY_RETRY_S,
        help="Retry-After of a test refused for --max-tests (default 30: about one test)",
    )
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
    if args.issue_token:
        if args.tokens_file is None or args.token_out is None:
            raise ConfigError("--issue-token needs --tokens-file and --token-out")
        Tokens(args.tokens_file).issue(args.issue_token, args.token_out)
        print(
            f"token for {args.issue_token} in {args.token_out} (mode 600); its hash in"
            f" {args.tokens_file}"
        )
        return 0
    ports = parse_ports(args.iperf3_ports)
    if not args.bind:
        raise ConfigError("--bind ADDRESS is required: the address agents reach the server on")
    if args.bind in WILDCARDS and not args.all_addresses:
        raise ConfigError(f"--bind {args.bind} listens on every address; add --all-addresses")
    if min(args.max_streams, args.max_mbps, args.max_bytes_per_day, args.max_tests) <= 0:
        raise ConfigError(
            "--max-streams, --max-mbps, --max-bytes-per-day and --max-tests must be positive"
        )
    if args.busy_retry_s < 1:
        raise ConfigError("--busy-retry-s must be at least 1")
    Endpoint.max_bytes = args.max_bytes
    Endpoint.clients = Clients(Caps(args.max_streams, args.max_mbps * 1e6, args.max_bytes_per_day))
    Endpoint.tokens = Tokens(args.tokens_file) if args.tokens_file else None
    busy_ports = tuple(ports)
    Endpoint.slots = Slots(args.max_tests, others=lambda: iperf3_running(busy_ports))
    Endpoint.cpu = CpuMeter().start()
    Endpoint.busy_retry_s = args.busy_retry_s
    if Endpoint.tokens is None:
        log.warning("no --tokens-file: anyone who reaches %s may run tests", args.bind)
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
    auth = "tokens" if Endpoint.tokens is not None else "open"
    print(
        f"speedtest-server: http {args.bind}:{port} ({auth}), iperf3 ports {iperf},"
        f" {args.max_tests} test(s) at once: ready",
        flush=True,
    )
    try:
        httpd.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        servers.stop()
        httpd.server_close()
    return 0
