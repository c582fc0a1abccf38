"""`pantau collector` on several cores: one supervisor, `workers` ingest processes.

One Python process spends a core on paho's receive path, validation and line building, so the
collector scales out the way the broker already lets several collectors share the load: each
worker is a whole collector (collector/service.py) on one shared subscription
(`$share/<group>/...`), with its own MQTT session (client id `<client_id>-<n>`), its own
`state_dir` subfolder (`worker-<n>`: disk buffer and rollup queue) and its own
acknowledge-after-durable and receipts. The supervisor starts them, starts again one that dies
(after a pause that doubles while it keeps dying), stops them all on SIGTERM or SIGINT, and
serves one /metrics with their figures added up. A worker whose supervisor is gone stops too.

Identities: a broker made by `pantau broker config` takes the client id from the user name and
its dynamic security pins the id to the identity, so two workers under one identity would take
each other's session in turn. Each worker then needs its own identity: issue `pantau-collector-1`,
`pantau-collector-2`, ... (`pantau pki issue pantau-collector-1 --role collector`) and write
`{worker}` where the name goes in `mqtt.username`, `password_file` and the `tls` files. Without
credentials (a broker on loopback) the suffixed client ids are enough.
"""

from __future__ import annotations

import fcntl
import json
import logging
import multiprocessing
import os
import shutil
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from multiprocessing import forkserver
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from pantau.collector.config import CollectorConfig
from pantau.collector.metrics import NS, Health, add_counters, merge
from pantau.shared.errors import ConfigError

log = logging.getLogger(__name__)

WORKER = "{worker}"  # replaced by the worker's number in the MQTT credentials
DEFAULT_SHARE_GROUP = "pantau"
# What a worker keeps in its folder, and how to count (and name) what waits in each
STATE_FILES = {
    "buffer.sqlite": ("SELECT COALESCE(SUM(lines), 0) FROM pending", "line(s) for InfluxDB"),
    "rollups.sqlite": ("SELECT COUNT(*) FROM pending", "point-hour(s) to roll up"),
}
HEALTH_TIMEOUT_S = 2.0
PRELOAD = ["pantau.collector.service", "pantau.collector.metrics", "pantau.collector.cli"]
REFUSED_EXIT = 2  # a worker refused its files (ConfigError), said why in one line, and left
COUNT_EVERY_S = 10.0  # how often the supervisor takes each worker's figures unasked


@dataclass(frozen=True)
class Plan:
    """How many workers, on which share group, and what to say about it at start."""

    count: int
    share_group: str | None
    notes: tuple[tuple[int, str], ...] = ()  # (logging level, line)


def plan(config: CollectorConfig, cores: int | None = None) -> Plan:
    mqtt = config.mqtt
    cores = cores or os.cpu_count() or 1
    tls = mqtt.tls
    named = [mqtt.username, mqtt.password_file]
    named += [tls.cert_file, tls.key_file] if tls is not None else []
    credentials = any(named) or mqtt.password is not None
    own_identity = any(WORKER in (value or "") for value in named)
    notes: list[tuple[int, str]] = []
    count = config.workers or cores
    shared_identity = credentials and not own_identity
    if config.workers is None and count > 1 and shared_identity:
        notes.append(
            (
                logging.INFO,
                f"workers: 1 ({cores} cores): the MQTT identity has no {WORKER} in it, and a"
                " broker that takes the client id from the user name (pantau broker config) keeps"
                " one connection per identity; give each worker its own identity to use them",
            )
        )
        count = 1
    elif count > 1 and shared_identity:
        notes.append(
            (
                logging.WARNING,
                f"{count} workers share one MQTT identity: a broker that takes the client id from"
                f" the user name (pantau broker config) keeps only one of them connected; write"
                f" {WORKER} in mqtt.username and the credential files to give each its own",
            )
        )
    share_group = mqtt.share_group
    if count > 1 and not share_group:
        share_group = DEFAULT_SHARE_GROUP
        notes.append(
            (
                logging.INFO,
                f"mqtt.share_group is not set: the {count} workers share the subscription as"
                f" $share/{share_group}/...",
            )
        )
    return Plan(count, share_group, tuple(notes))


def worker_config(config: CollectorConfig, index: int, plan: Plan) -> CollectorConfig:
    """Worker `index` (from 1): its client id, credentials and state folder. A single worker is
    the collector as it always was: same client id, same state_dir."""
    mqtt = config.mqtt
    number = str(index)
    update: dict[str, object] = {}
    if mqtt.username:
        update["username"] = mqtt.username.replace(WORKER, number)
    if mqtt.password_file:
        update["password_file"] = mqtt.password_file.replace(WORKER, number)
    if mqtt.tls is not None:
        tls = {
            name: value.replace(WORKER, number)
            for name in ("cert_file", "key_file")
            if (value := getattr(mqtt.tls, name))
        }
        update["tls"] = mqtt.tls.model_copy(update=tls)
    if plan.count == 1:
        return config.model_copy(update={"mqtt": mqtt.model_copy(update=update)})
    update["client_id"] = f"{mqtt.client_id}-{index}"
    update["share_group"] = plan.share_group
    own: dict[str, object] = {
        "mqtt": mqtt.model_copy(update=update),
        "state_dir": home(config.state_dir, index),
    }
    archive = config.evidence.archive_dir
    if archive is not None:  # one writer per archive folder: each worker keeps its own
        own["evidence"] = config.evidence.model_copy(update={"archive_dir": home(archive, index)})
    return config.model_copy(update=own)


def home(state_dir: Path, index: int) -> Path:
    return state_dir / f"worker-{index}"


def adopt_leftovers(state_dir: Path, count: int) -> None:
    """Buffers and rollup queues left by a run with another number of workers hold data already
    acknowledged to the broker: move each into a folder in use whose own is empty, so it is
    taken up; one that cannot be moved is named in the log, never dropped. Each folder is
    locked first, so a process of the last run still finishing its batch is waited for."""
    homes = [state_dir] if count == 1 else [home(state_dir, i) for i in range(1, count + 1)]
    others = [state_dir, *sorted(state_dir.glob("worker-*"))] if state_dir.is_dir() else []
    for folder in others:
        if folder in homes or not folder.is_dir():
            continue
        with state_lock(folder):
            for name, (count_query, unit) in STATE_FILES.items():
                _adopt(folder / name, homes, count_query, unit)


def _adopt(path: Path, homes: list[Path], count_query: str, unit: str) -> None:
    waiting = _waiting(path, count_query)
    if not waiting:
        return
    for target in homes:
        with state_lock(target):
            if _waiting(target / path.name, count_query):
                continue
            for suffix in ("-wal", "-shm", ""):  # an empty one of its own makes way
                Path(f"{target / path.name}{suffix}").unlink(missing_ok=True)
            for suffix in ("", "-wal", "-shm"):
                if Path(f"{path}{suffix}").exists():
                    shutil.move(f"{path}{suffix}", f"{target / path.name}{suffix}")
        log.info("%s: %d %s taken over by %s", path, waiting, unit, target)
        return
    log.warning(
        "%s holds %d %s that no worker takes: every worker has its own; run with the number"
        " of workers that left it to take it",
        path,
        waiting,
        unit,
    )


def _waiting(path: Path, count_query: str) -> int:
    if not path.exists():
        return 0
    db = sqlite3.connect(path)
    try:
        return int(db.execute(count_query).fetchone()[0])
    except sqlite3.Error:
        return 0
    finally:
        db.close()


@contextmanager
def state_lock(state_dir: Path) -> Iterator[None]:
    """One process at a time in a state folder: a worker started again while the one before it
    still finishes its last batch waits for it instead of sharing its buffer."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / ".lock").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("waiting for the process before us to leave %s", state_dir)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


class Restarts:
    """When to start a worker again after it died: after `first_s`, doubling while it keeps
    dying, at most `max_s`; one that ran `stable_s` before dying starts from `first_s` again."""

    def __init__(self, first_s: float = 1.0, max_s: float = 60.0, stable_s: float = 60.0) -> None:
        self.first_s = first_s
        self.max_s = max_s
        self.stable_s = stable_s
        self._next_s = first_s

    def delay(self, ran_s: float) -> float:
        if ran_s >= self.stable_s:
            self._next_s = self.first_s
        delay = self._next_s
        self._next_s = min(self._next_s * 2, self.max_s)
        return delay


@dataclass
class Worker:
    index: int
    config: CollectorConfig
    restarts: Restarts = field(default_factory=Restarts)
    process: BaseProcess | None = None
    conn: Connection | None = None
    started_at: float = 0.0
    start_at: float | None = 0.0  # when to start (again); None while running
    started: int = 0
    last: Health | None = None  # the last figures it sent
    lock: threading.Lock = field(default_factory=threading.Lock)


class Supervisor:
    def __init__(
        self,
        config: CollectorConfig,
        plan: Plan,
        registry_points: int,
        log_level: str = "INFO",
        stats_every_s: float = 60.0,
        restarts: Restarts | None = None,
    ) -> None:
        self.config = config
        self.registry_points = registry_points
        self.log_level = log_level
        self.stats_every_s = stats_every_s
        self.workers = [
            Worker(i, worker_config(config, i, plan), restarts or Restarts())
            for i in range(1, plan.count + 1)
        ]
        self.restarted = 0
        self._retired: Health | None = None  # counters of workers that died
        # Workers are forked from a server process that has imported the collector once and runs
        # no threads: a worker starts in milliseconds (a restart too), and never inherits the
        # supervisor's threads (its /metrics server) mid-lock as a plain fork would.
        self._ctx = start_forkserver()

    def run(self, stop: threading.Event) -> None:
        next_count_at = time.monotonic() + COUNT_EVERY_S
        while not stop.is_set():
            now = time.monotonic()
            for worker in self.workers:
                if worker.start_at is None:
                    self._check(worker, now)
                elif now >= worker.start_at:
                    self._start(worker)
            if now >= next_count_at:  # so a worker that dies takes little of its count along
                self.health()
                next_count_at = now + COUNT_EVERY_S
            stop.wait(0.2)
        self._stop_all()

    def _start(self, worker: Worker) -> None:
        ours, theirs = self._ctx.Pipe()
        process = self._ctx.Process(
            target=_worker_main,
            args=(worker.config, worker.index, theirs, self.log_level, self.stats_every_s),
            name=f"pantau-collector-worker-{worker.index}",
        )
        process.start()
        theirs.close()
        with worker.lock:
            worker.process, worker.conn = process, ours
        worker.started_at = time.monotonic()
        worker.start_at = None
        worker.started += 1
        log.info("worker %d started (pid %s)", worker.index, process.pid)

    def _check(self, worker: Worker, now: float) -> None:
        process = worker.process
        assert process is not None
        if process.is_alive():
            return
        process.join()
        code = process.exitcode
        delay = worker.restarts.delay(now - worker.started_at)
        if code == REFUSED_EXIT:  # it said why in one line; the files may be put right meanwhile
            log.error(
                "worker %d cannot run with the files it was given (its line above says why);"
                " trying again in %.0fs",
                worker.index,
                delay,
            )
        else:
            how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
            log.error("worker %d died (%s); starting it again in %.0fs", worker.index, how, delay)
        with worker.lock:
            if worker.conn is not None:
                worker.conn.close()
            worker.process, worker.conn = None, None
            if worker.last is not None:
                self._retire(worker.last)
                worker.last = None
        worker.start_at = now + delay
        self.restarted += 1

    def _retire(self, last: Health) -> None:
        if self._retired is None:
            self._retired = merge([], self.registry_points)
        add_counters(self._retired, last)

    def _stop_all(self) -> None:
        running = [w for w in self.workers if w.process is not None and w.process.is_alive()]
        for worker in running:
            assert worker.process is not None
            worker.process.terminate()  # SIGTERM: the worker flushes, acknowledges, then goes
        give_up = time.monotonic() + self.config.rollup.drain_on_stop_s + 60
        finals = []
        for worker in running:
            assert worker.process is not None
            worker.process.join(max(0.0, give_up - time.monotonic()))
            if worker.process.is_alive():
                log.error("worker %d did not stop in time; killing it", worker.index)
                worker.process.kill()
                worker.process.join()
            with worker.lock:
                finals.append(self._last_figures(worker))
        total = merge([f for f in finals if f is not None], self.registry_points, self._retired)
        log.info(
            "all %d workers stopped; stats %s",
            len(self.workers),
            json.dumps(total.stats(), sort_keys=True),
        )

    @staticmethod
    def _last_figures(worker: Worker) -> Health | None:
        """What a stopped worker sent last (its final count), else what it sent before."""
        conn = worker.conn
        try:
            while conn is not None and conn.poll(0):
                worker.last = conn.recv()
        except (EOFError, OSError):
            pass
        return worker.last

    def health(self) -> Health:
        """The workers' figures added up (asked of each live worker now)."""
        parts = []
        for worker in self.workers:
            with worker.lock:
                if worker.conn is not None:
                    try:
                        worker.conn.send("health")
                        if worker.conn.poll(HEALTH_TIMEOUT_S):
                            worker.last = worker.conn.recv()
                    except (OSError, EOFError):
                        pass  # dying: the supervisor's loop notices and starts it again
                if worker.last is not None:
                    parts.append(worker.last)
        total = merge(parts, self.registry_points, self._retired)
        if len(parts) < len(self.workers):  # a worker down is not a connected collector
            total.mqtt_connected = False
        return total

    def gauges(self) -> Iterator[Metric]:
        running = sum(1 for w in self.workers if w.start_at is None)
        yield GaugeMetricFamily(f"{NS}_workers", "Ingest worker processes running", running)
        yield CounterMetricFamily(
            f"{NS}_worker_restarts", "Worker processes started again after dying", self.restarted
        )


def start_forkserver() -> multiprocessing.context.ForkServerContext:
    """The server workers are forked from, started now: its imports (about half a second) run
    beside whatever the caller does next, not when the first worker is due."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    forkserver.ensure_running()
    return ctx


def _worker_main(
    config: CollectorConfig, index: int, conn: Connection, log_level: str, stats_every_s: float
) -> None:
    """One worker process: a whole collector, stopped by SIGTERM, SIGINT or its supervisor's
    end (the pipe closes)."""
    logging.basicConfig(
        level=log_level,
        format=f"%(asctime)s %(levelname)s %(name)s [worker {index}]: %(message)s",
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        _serve(config, conn, stop, stats_every_s)
    except ConfigError as exc:  # a file changed since the supervisor's preflight: one line
        log.error("%s", exc)
        sys.exit(REFUSED_EXIT)


def _serve(
    config: CollectorConfig, conn: Connection, stop: threading.Event, stats_every_s: float
) -> None:
    from pantau.collector.cli import report_stats
    from pantau.collector.metrics import health
    from pantau.collector.service import Collector
    from pantau.shared.registry import load_registry

    registry = load_registry(config.registry)
    with state_lock(config.state_dir):
        collector = Collector(config, registry)
        sending = threading.Lock()

        def answer() -> None:
            while True:
                try:
                    conn.recv()
                    figures = health(collector)
                    with sending:
                        conn.send(figures)
                except (EOFError, OSError):
                    stop.set()  # the supervisor is gone: finish the batch and go
                    return
                except Exception:  # stopping: its buffer may be closed already
                    log.debug("no figures while stopping", exc_info=True)

        threading.Thread(target=answer, daemon=True).start()
        threading.Thread(
            target=report_stats, args=(collector, stop, stats_every_s), daemon=True
        ).start()
        collector.run(stop)
    log.info("stopped; stats %s", json.dumps(collector.stats.snapshot(), sort_keys=True))
    with sending, suppress(OSError):  # the last figures, for the supervisor's total
        conn.send(health(collector, live=False))
