"""Start the real central services (mosquitto, influxd, victoria-metrics) on free loopback ports
with their data in a directory of ours: for `pantau demo`, the tests and the benchmarks.

Nothing here touches a system service or a system-wide data directory.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pantau.shared.errors import PantauError

MOSQUITTO_BINARIES = ("/usr/sbin/mosquitto", "mosquitto")


class ServiceError(PantauError):
    """A central service could not be started."""


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default


# Ports handed out come from below the kernel's ephemeral range, where no outgoing connection
# (a client of a service started earlier, say) can take one between its choice and its bind;
# chosen at random, so concurrent runs on one machine rarely meet, and never twice per process.
_PORTS = range(20_000, max(20_001, _ephemeral_low()))
_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback TCP port nothing listens on now."""
    for _ in range(500):
        port = random.choice(_PORTS)
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # a crowded range
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_binary(*candidates: str) -> str:
    for candidate in candidates:
        path = candidate if os.path.isabs(candidate) else shutil.which(candidate)
        if path and os.access(path, os.X_OK):
            return path
    raise ServiceError(
        f"{candidates[-1]} is not installed; run `make setup` (Debian package providing it)"
    )


@dataclass
class Service:
    """One server process we started; restartable on the same port with the same data."""

    name: str
    argv: list[str]
    port: int
    workdir: Path
    ready: Callable[[Service], bool]
    host: str = "127.0.0.1"
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 30.0) -> Service:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-800:]
                raise ServiceError(
                    f"{self.name} exited at start ({self.process.returncode}): {tail}"
                )
            if self.ready(self):
                return self
            time.sleep(0.05)
        self.kill()
        raise ServiceError(f"{self.name} did not answer on port {self.port} within {timeout_s}s")

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout_s: float = 15.0) -> None:
        if not self.running():
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def restart(self) -> Service:
        self.stop()
        return self.start()


def _tcp_ready(service: Service) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((service.host, service.port), 0.2):
        return True
    return False


def _http_ready(path: str) -> Callable[[Service], bool]:
    def ready(service: Service) -> bool:
        try:
            with urllib.request.urlopen(f"{service.url}{path}", timeout=0.5) as response:
                return 200 <= response.status < 300
        except OSError:
            return False

    return ready


def mosquitto_conf(port: int, workdir: Path, listeners: str | None = None) -> str:
    """A broker tuned and limited as `pantau broker config` makes one, without its security."""
    from pantau.collector.admin.broker_config import TUNING, limit_lines

    body = listeners or f"listener {port} 127.0.0.1\nallow_anonymous true\n"
    # Started as root, mosquitto would drop to its own user, who cannot enter our private workdir.
    user = "user root\n" if os.geteuid() == 0 else ""
    tuning = "".join(f"{line}\n" for line in (*TUNING, *limit_lines()))
    return (
        f"{user}{body}{tuning}"
        f"persistence_location {workdir}/\n"
        f"log_dest file {workdir}/mosquitto.log\nlog_type error\nlog_type warning\n"
        "log_type notice\nlog_type information\nlog_timestamp_format %Y-%m-%dT%H:%M:%S\n"
    )


def mosquitto(workdir: Path, port: int | None = None, conf: str | None = None) -> Service:
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    conf_path = workdir / "mosquitto.conf"
    conf_path.write_text(conf if conf is not None else mosquitto_conf(port, workdir))
    return mosquitto_from(conf_path, port, workdir)


def mosquitto_from(conf_path: Path, port: int, workdir: Path) -> Service:
    """A broker from a config file written elsewhere (e.g. by `pantau broker config`); `port`
    is the listener that tells it is up, `workdir` holds its log."""
    binary = find_binary(*MOSQUITTO_BINARIES)
    return Service("mosquitto", [binary, "-c", str(conf_path)], port, workdir, _tcp_ready)


@dataclass(frozen=True)
class InfluxUser:
    """One InfluxDB account; its password lives in a file of mode 600, never in this object."""

    name: str
    password_file: Path

    def password(self) -> str:
        return self.password_file.read_text(encoding="utf-8").strip()

    def section(self, url: str, database: str) -> dict[str, str]:
        """The `influx` section of a collector config that logs in as this user."""
        return {
            "api": "v1",
            "url": url,
            "database": database,
            "username": self.name,
            "password_file": str(self.password_file),
        }


@dataclass(frozen=True)
class InfluxAuth:
    """The three accounts of a Pantau InfluxDB: the admin (kept apart), the collector's writer
    (read and write on a database) and a reader (reports, Grafana)."""

    admin: InfluxUser
    writer: InfluxUser
    reader: InfluxUser


@dataclass
class InfluxService(Service):
    """influxd with authentication on: its users are made when it first starts."""

    auth: InfluxAuth | None = None

    def start(self, timeout_s: float = 30.0) -> InfluxService:
        super().start(timeout_s)
        if self.auth is not None:
            _influx_users(self, self.auth)
        return self

    def grant(self, database: str) -> None:
        """Create `database` and give the writer read and write, the reader read, on it."""
        assert self.auth is not None
        a = self.auth
        _influx_query(
            self,
            f'CREATE DATABASE "{database}"; GRANT ALL ON "{database}" TO "{a.writer.name}";'
            f' GRANT READ ON "{database}" TO "{a.reader.name}"',
            a.admin,
        )


def _influx_query(service: Service, q: str, user: InfluxUser | None) -> dict[str, object]:
    import base64
    import json
    from urllib.parse import urlencode

    request = urllib.request.Request(f"{service.url}/query", data=urlencode({"q": q}).encode())
    if user is not None:
        token = base64.b64encode(f"{user.name}:{user.password()}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        body = json.loads(response.read())
    errors = [r["error"] for r in body.get("results", []) if "error" in r]
    if errors:
        raise ServiceError(f"influxd refused {q.split()[0]} ...: {errors[0]}")
    return body


def _influx_users(service: Service, auth: InfluxAuth) -> None:
    """The admin first (InfluxDB lets anyone create the first user, an admin), then the others."""
    import urllib.error

    try:
        body = _influx_query(service, "SHOW USERS", auth.admin)
        values = body["results"][0].get("series", [{}])[0].get("values", [])  # type: ignore[index]
        existing = {row[0] for row in values}
    except urllib.error.HTTPError as exc:
        if exc.code not in (401, 403):  # 403: "create admin user first"
            raise
        _influx_query(
            service,
            f"CREATE USER \"{auth.admin.name}\" WITH PASSWORD '{auth.admin.password()}'"
            " WITH ALL PRIVILEGES",
            None,
        )
        existing = {auth.admin.name}
    for user in (auth.writer, auth.reader):
        if user.name not in existing:
            q = f"CREATE USER \"{user.name}\" WITH PASSWORD '{user.password()}'"
            _influx_query(service, q, auth.admin)


def influxd(
    workdir: Path, port: int | None = None, max_row_limit: int = 0, auth: bool = False
) -> InfluxService:
    """`max_row_limit` > 0 plays a server that cuts non-chunked answers at that many rows.
    `auth`: authentication on (an admin, a writer and a reader, passwords in files of mode 600
    in `workdir`; `grant(database)` after start), the profiling endpoints off."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    rpc_port = free_port()
    conf_path = workdir / "influxdb.conf"
    security = "  auth-enabled = true\n  pprof-enabled = false\n" if auth else ""
    conf_path.write_text(
        f"""reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"
[meta]
  dir = "{workdir}/meta"
  logging-enabled = false
[data]
  dir = "{workdir}/data"
  wal-dir = "{workdir}/wal"
  wal-fsync-delay = "0s"
  query-log-enabled = false
  cache-snapshot-write-cold-duration = "10s"
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:{port}"
  log-enabled = false
  max-body-size = 0
  max-row-limit = {max_row_limit}
{security}[continuous_queries]
  enabled = false
[shard-precreation]
  enabled = false
"""
    )
    binary = find_binary("/usr/bin/influxd", "influxd")
    users = None
    if auth:
        users = InfluxAuth(*(_influx_user(workdir, n) for n in ("admin", "pantau", "reader")))
    return InfluxService(
        "influxd",
        [binary, "-config", str(conf_path)],
        port,
        workdir,
        _http_ready("/ping"),
        auth=users,
    )


def _influx_user(workdir: Path, name: str) -> InfluxUser:
    """A user with a random password kept in `workdir` (the same one again on a restart)."""
    import secrets

    path = workdir / f"{name}.password"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(18) + "\n")
    return InfluxUser(name, path)


def victoria_metrics(workdir: Path, port: int | None = None) -> Service:
    """A real server for the /api/v2/write path (InfluxDB 2 cannot be installed here)."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    binary = find_binary("/usr/bin/victoria-metrics", "victoria-metrics")
    argv = [
        binary,
        f"-httpListenAddr=127.0.0.1:{port}",
        f"-storageDataPath={workdir}/vm-data",
        "-retentionPeriod=100y",
        "-search.disableCache",
        "-search.latencyOffset=0s",
    ]
    return Service("victoria-metrics", argv, port, workdir, _http_ready("/health"))
