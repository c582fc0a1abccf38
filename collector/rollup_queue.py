"""Which hours need their `sla_hourly` rollup recomputed, kept on disk until they are done.

Writes mark (point, hour) pairs before their messages are acknowledged; every `every_s` the
marked hours are recomputed from their raw rows (collector/rollup.py), in the queue's own thread
so ingest never waits on a rollup read, at most `max_pairs` per round, and a round that leaves
work behind is followed by another a second later. A pair marked again while its round runs
keeps its row (its version moved on) and is computed again. The marks live in SQLite beside the collector's disk buffer, so a
SIGKILL or a restart loses none of them. The table holds one row per (point, hour): it cannot
grow past registry points × the hours the collector accepts samples for.

Falling behind is said once when it starts and once when it ends, never every round.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from pantau.collector.rollup import InfluxLike, RollupStats, recompute
from pantau.shared.errors import SinkError

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (
    point TEXT NOT NULL, hour_ms INTEGER NOT NULL, marked_ms INTEGER NOT NULL,
    version INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (point, hour_ms)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS pending_by_age ON pending (marked_ms);
"""
MAX_PAIRS_PER_ROUND = 5_000
FOLLOW_UP_S = 1.0  # pause between rounds while a backlog remains
RETRY_MAX_S = 300.0


MARK = (
    "INSERT INTO pending (point, hour_ms, marked_ms) VALUES (?, ?, ?)"
    " ON CONFLICT DO UPDATE SET version = version + 1"
)


def _marks(pairs: Iterable[tuple[str, int]]) -> list[tuple[str, int, int]]:
    now_ms = int(time.time() * 1000)
    return [(point, hour - hour % 3_600_000, now_ms) for point, hour in pairs]


class RollupQueue:
    def __init__(
        self,
        influx: InfluxLike,
        tags_for: Callable[[str], Mapping[str, str]],
        every_s: float,
        path: Path,
        max_pairs: int = MAX_PAIRS_PER_ROUND,
        behind_after_s: float | None = None,
    ) -> None:
        self.influx = influx
        self.tags_for = tags_for
        self.every_s = every_s
        self.max_pairs = max_pairs
        # a mark normally waits up to one round; three rounds (at least ten minutes) is late
        self.behind_after_s = behind_after_s or max(600.0, 3 * every_s)
        self.stats = RollupStats()
        self.errors = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # survives a killed process
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pending = self._count()
        self._due_at = time.monotonic() + (FOLLOW_UP_S if self._pending else every_s)
        self._retry_s = FOLLOW_UP_S
        self._behind = False
        self._failing: str | None = None
        if self._pending:
            log.info("rollups: %d point-hour(s) left from the last run", self._pending)

    def mark(self, pairs: Iterable[tuple[str, int]]) -> None:
        """Durable once this returns (the caller acknowledges the data afterwards)."""
        rows = _marks(pairs)
        if not rows:
            return
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._db.executemany(MARK, rows)
            self._pending = self._count()

    def _count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM pending").fetchone()[0])

    @property
    def pending(self) -> int:
        """Point-hours waiting for their rollup."""
        return self._pending

    def lag_s(self) -> float:
        """How long the oldest waiting mark has waited; 0 when nothing waits."""
        with self._lock:
            oldest = self._db.execute("SELECT MIN(marked_ms) FROM pending").fetchone()[0]
        return 0.0 if oldest is None else max(0.0, time.time() - oldest / 1000)

    def poll(self, force: bool = False, can_write: bool = True) -> None:
        """One round when due (or forced): the oldest marks first."""
        now = time.monotonic()
        if not self._pending or (not force and now < self._due_at):
            return
        if not can_write:  # InfluxDB away: the writer says so; just watch the lag
            self._due_at = now + self.every_s
            self._watch_lag()
            return
        with self._lock:
            taken = self._db.execute(
                "SELECT point, hour_ms, version FROM pending"
                " ORDER BY marked_ms, point, hour_ms LIMIT ?",
                (self.max_pairs,),
            ).fetchall()
        changed: set[tuple[str, int]] = set()
        try:
            pairs = [(t[0], t[1]) for t in taken]
            recompute(self.influx, pairs, self.tags_for, self.stats, changed)
        except SinkError as exc:
            self.errors += 1
            self._retry_s = min(self._retry_s * 2, RETRY_MAX_S)
            self._due_at = time.monotonic() + self._retry_s
            if self._failing != str(exc):
                self._failing = str(exc)
                log.warning(
                    "rollups failing (%d point-hour(s) kept, retrying): %s", self._pending, exc
                )
            self._watch_lag()
            return
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "DELETE FROM pending WHERE point = ? AND hour_ms = ? AND version = ?", taken
            )
            # raw rows landed while these were read: another writer's rollup may be older
            self._db.executemany(MARK, _marks(changed))
            self._pending = self._count()
        if self._failing is not None:
            log.info("rollups working again")
            self._failing = None
        self._retry_s = FOLLOW_UP_S
        self._due_at = time.monotonic() + (FOLLOW_UP_S if self._pending else self.every_s)
        self._watch_lag()

    def drain(self, deadline_s: float) -> bool:
        """Rounds back to back until nothing waits or the deadline passes; True when empty."""
        end = time.monotonic() + deadline_s
        while self._pending and time.monotonic() < end:
            before = self.errors
            self.poll(force=True)
            if self.errors != before:
                return False
        return not self._pending

    def _watch_lag(self) -> None:
        lag = self.lag_s()
        if not self._behind and lag > self.behind_after_s:
            self._behind = True
            log.warning(
                "rollups falling behind: %d point-hour(s) waiting, oldest for %.0f s",
                self._pending,
                lag,
            )
        elif self._behind and lag <= self.behind_after_s:
            self._behind = False
            log.info("rollups caught up: %d point-hour(s) waiting", self._pending)

    def start(self, can_write: Callable[[], bool]) -> None:
        """Run rounds in a thread of their own until `stop()`."""

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.poll(can_write=can_write())
                except Exception:  # a bug here must not end rollups for the process's life
                    log.exception("rollup round failed")
                    self._due_at = time.monotonic() + RETRY_MAX_S
                wait = self._due_at - time.monotonic() if self._pending else self.every_s
                self._stop.wait(min(1.0, max(0.05, wait)))

        self._thread = threading.Thread(target=loop, name="rollups", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Let a running round finish, then stop the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def close(self) -> None:
        self.stop()
        with self._lock:
            self._db.close()
