"""The collector's own disk buffer: where acknowledged data waits while InfluxDB is away.

A message is acknowledged to the broker only once its lines are in InfluxDB or committed here
(SQLite, synchronous=FULL, so committed means fsynced). Batches are replayed in the order they
were appended; a replayed batch is deleted only after InfluxDB took it.
"""

from __future__ import annotations

import sqlite3
import threading
import zlib
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (id INTEGER PRIMARY KEY AUTOINCREMENT, lines INTEGER NOT NULL,
                                    body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS refused (id INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL,
                                    reason TEXT NOT NULL, body BLOB NOT NULL);
"""


class DiskBuffer:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def append(self, lines: list[str]) -> None:
        body = zlib.compress("\n".join(lines).encode(), 1)
        with self._lock:
            self._db.execute("INSERT INTO pending (lines, body) VALUES (?, ?)", (len(lines), body))

    def oldest(self) -> tuple[int, list[str]] | None:
        with self._lock:
            row = self._db.execute("SELECT id, body FROM pending ORDER BY id LIMIT 1").fetchone()
        if row is None:
            return None
        return row[0], zlib.decompress(row[1]).decode().split("\n")

    def remove(self, batch_id: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM pending WHERE id = ?", (batch_id,))

    def depth(self) -> tuple[int, int]:
        """(batches, lines) waiting."""
        with self._lock:
            batches, lines = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(lines), 0) FROM pending"
            ).fetchone()
        return batches, lines

    def keep_refused(self, at_ms: int, reason: str, lines: list[str]) -> None:
        """Data InfluxDB refused outright is kept for inspection, never silently dropped."""
        body = zlib.compress("\n".join(lines).encode(), 1)
        with self._lock:
            self._db.execute(
                "INSERT INTO refused (at_ms, reason, body) VALUES (?, ?, ?)", (at_ms, reason, body)
            )

    def refused_count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM refused").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
