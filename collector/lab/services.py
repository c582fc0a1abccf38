"""Start the real central services (mosquitto, influxd, victoria-metrics) on free loopback ports
with their data in a directory of ours: for `pantau demo`, the tests and the benchmarks.

Nothing here touches a system service or a system-wide data directory.
"""

from __future__ import annotations

import contextlib
import os
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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


def influxd(workdir: Path, port: int | None = None, max_row_limit: int = 0) -> Service:
    """`max_row_limit` > 0 plays a server that cuts non-chunked answers at that many rows."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    rpc_port = free_port()
    conf_path = workdir / "influxdb.conf"
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
[continuous_queries]
  enabled = false
[shard-precreation]
  enabled = false
"""
    )
    binary = find_binary("/usr/bin/influxd", "influxd")
    return Service(
        "influxd", [binary, "-config", str(conf_path)], port, workdir, _http_ready("/ping")
    )


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
