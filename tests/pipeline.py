"""Helpers to run the real pipeline in tests: config files, real processes, InfluxQL reads."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from pantau.agent.spool import SpoolView, read_progress
from pantau.collector.admin.pki import Pki
from pantau.collector.influxdb.client import Influx
from pantau.collector.influxdb.config import InfluxConfig
from pantau.shared.errors import SinkError

PANTAU = [sys.executable, "-m", "pantau.shared.cli"]


def write_yaml(path: Path, data: Any) -> Path:
    """Mode 600, as a config holding a secret (an alert URL, a password) must be."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    path.chmod(0o600)
    return path


def registry_file(path: Path, point_ids: list[str], provider: str = "Awinet") -> Path:
    points = [
        {
            "id": pid,
            "kelurahan": "Citangkil",
            "kecamatan": "Citangkil",
            "provider": provider,
        }
        for pid in point_ids
    ]
    contracts = [{"provider": provider}]
    return write_yaml(path, {"contracts": contracts, "points": points})


def agent_config(
    path: Path,
    broker_port: int,
    points: list[dict[str, Any]],
    interval_s: float = 1.0,
    **extra: Any,
) -> Path:
    data: dict[str, Any] = {
        "interval_s": interval_s,
        "state_dir": str(path.parent / "agent-state"),
        "mqtt": {
            "host": "127.0.0.1",
            "port": broker_port,
            "reconnect_min_s": 0.2,
            "reconnect_max_s": 2,
        },
        "points": points,
    }
    for key, value in extra.items():
        data[key] = value
    return write_yaml(path, data)


def collector_config(
    path: Path,
    broker_port: int,
    influx_url: str,
    database: str,
    registry: Path,
    **extra: Any,
) -> Path:
    data: dict[str, Any] = {
        "mqtt": {"host": "127.0.0.1", "port": broker_port, "client_id": f"collector-{database}"},
        "influx": {"api": "v1", "url": influx_url, "database": database},
        "registry": str(registry),
        "state_dir": str(path.parent / "collector-state"),
        "metrics": {"port": 0},  # tests running side by side must not fight over one port
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return write_yaml(path, data)


class Proc:
    """A real `pantau` process, its output kept in a log file for the assertion messages."""

    def __init__(
        self,
        args: list[str],
        log_path: Path,
        env: dict[str, str] | None = None,
        prefix: list[str] | None = None,
    ) -> None:
        self.args = args
        self.log_path = log_path
        self.env = {**os.environ, **(env or {})}
        self.prefix = prefix or []
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.prefix + PANTAU + self.args, stdout=log, stderr=subprocess.STDOUT, env=self.env
            )
        return self

    def wait_log(self, text: str, timeout_s: float = 20.0) -> Proc:
        wait_for(lambda: text in self.log() or not self.alive(), timeout_s, f"{text!r} in log")
        assert self.alive(), f"{self.args[0]} exited: {self.log()[-2000:]}"
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        if self.alive():
            assert self.process is not None
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout_s: float = 20.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode


def signed_collector_config(
    tmp: Path,
    broker_port: int,
    influx_url: str,
    database: str,
    points: list[str],
    collector: str = "pantau-collector",
    **extra: Any,
) -> tuple[Pki, Path]:
    """A project PKI with a password and a signing key for each point and for the collector,
    and a collector.yaml that checks every signature and archives every message (tmp/archive),
    signing its daily checkpoints with its own key."""
    pki = Pki(tmp / "pki")
    pki.init()
    pki.issue_many(points, "agent", "password")
    pki.issue_many([collector], "collector", "password")
    config = collector_config(
        tmp / "collector.yaml",
        broker_port,
        influx_url,
        database,
        registry_file(tmp / "registry.yaml", points),
        evidence={
            "keys_file": str(pki.signing_keys_path),
            "archive_dir": str(tmp / "archive"),
            "signing_key_file": str(pki.bundle_dir(collector) / "signing.key"),
        },
        **extra,
    )
    return pki, config


def influx(url: str, database: str) -> Influx:
    return Influx(InfluxConfig(api="v1", url=url, database=database))


def poll_pauses(step_s: float, first_s: float = 0.01) -> Iterator[float]:
    """Pauses between two looks: 10 ms at first, doubling up to `step_s`. Most waits end within
    a fraction of a second (a log line, a listening port, a row), and a fixed period would add
    half of itself to each of them on average; a long wait still looks no more often than every
    `step_s`, so a costly check (an InfluxQL count) does not load the machine."""
    pause = min(first_s, step_s)
    while True:
        yield pause
        pause = min(2 * pause, step_s)


def wait_for(predicate: Callable[[], Any], timeout_s: float, what: str, step_s: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout_s
    last: Any = None
    pauses = poll_pauses(step_s)
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(next(pauses))
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what} (last: {last!r})")


def count_rows(db: Influx, measurement: str, where: str = "") -> int:
    clause = f" WHERE {where}" if where else ""
    try:
        rows = db.query(f'SELECT COUNT("seq") FROM "{measurement}"{clause}')
    except SinkError as exc:
        if "database not found" in str(exc):
            return 0  # the collector has not created it yet
        raise
    return int(rows[0]["count"]) if rows else 0


def start_collector(config: Path, log_path: Path, env: dict[str, str] | None = None) -> Proc:
    """A collector process, returned once its subscriptions are in place."""
    return (
        Proc(["collector", "--config", str(config)], log_path, env).start().wait_log("subscribed")
    )


def start_agent(
    config: Path, log_path: Path, env: dict[str, str] | None = None, prefix: list[str] | None = None
) -> Proc:
    return Proc(["agent", "--config", str(config)], log_path, env, prefix).start()


def spool_path(state_dir: Path) -> Path:
    return state_dir / "spool.sqlite"


def taken_samples(state_dir: Path) -> dict[str, int]:
    """Samples each point's agent took (its next seq), read from the agent's own spool."""
    return {point: p.taken for point, p in read_progress(spool_path(state_dir)).items()}


def taken_so_far(state_dir: Path) -> int:
    """Samples an agent has taken so far, all points together (0 before its spool exists)."""
    return sum(taken_samples(state_dir).values())


def spooled_before(state_dir: Path, next_seqs: dict[str, int]) -> int:
    """Samples still in the spool that were taken before the given next seq of their point:
    what is left of a backlog, however many fresh samples sit beside it."""
    with SpoolView(spool_path(state_dir)) as view:
        return sum(view.waiting_before(point, seq) for point, seq in next_seqs.items())


def spooled(state_dir: Path) -> int:
    """Samples and events in an agent's spool, not yet acknowledged (0 before it exists)."""
    if not spool_path(state_dir).exists():
        return 0
    with SpoolView(spool_path(state_dir)) as view:
        return view.rows()


def stored_seqs(db: Influx, point: str) -> list[int]:
    rows = db.query(f'SELECT "seq" FROM "telemetry" WHERE "point" = \'{point}\' ORDER BY time')
    return [int(r["seq"]) for r in rows]


def assert_exactly_once(db: Influx, taken: dict[str, int]) -> None:
    """InfluxDB holds every sample taken, once: seq 0..n-1 per point, nothing more."""
    for point, count in taken.items():
        seqs = stored_seqs(db, point)
        missing = sorted(set(range(count)) - set(seqs))
        assert not missing, f"{point}: {len(missing)} sample(s) lost, first {missing[:10]}"
        assert len(seqs) == count, f"{point}: {len(seqs) - count} extra row(s)"
        assert sorted(seqs) == list(range(count))


def wait_all_stored(db: Influx, taken: dict[str, int], timeout_s: float) -> None:
    total = sum(taken.values())
    wait_for(lambda: count_rows(db, "telemetry") >= total, timeout_s, f"{total} rows in InfluxDB")


def finish_with_receipts(
    db: Influx, state_dir: Path, agent: Proc, more: int = 40
) -> dict[str, int]:
    """Once every sample taken so far has its receipt, stop the agent (it waits for the last
    receipts on its way out): every sample it took is stored once and its spool is empty."""
    start = taken_so_far(state_dir)
    wait_for(lambda: taken_so_far(state_dir) >= start + more, 60, f"{more} more samples")
    before = taken_samples(state_dir)  # everything up to here was sent at least once
    wait_for(lambda: spooled_before(state_dir, before) == 0, 90, "receipts for what was taken")
    agent.stop()
    assert spooled(state_dir) == 0
    taken = taken_samples(state_dir)
    wait_all_stored(db, taken, 60)
    assert_exactly_once(db, taken)
    return taken
