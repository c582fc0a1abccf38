"""The agent's on-disk outbox: every sample and event is here until a collector's receipt says
it is stored (or, with receipts off, until the broker acknowledged it).

SQLite in WAL mode with synchronous=FULL: a SIGKILL or a power cut at any moment leaves either
the whole row or none of it. Rows are clustered by point, so draining one point's backlog reads
consecutive pages even when hundreds of points were spooled side by side. `seq` is assigned here, in the same transaction as the row, so it is
monotonic per point and survives restarts.

`SpoolView` is the only way anything else (the demo, the tests, the benchmarks) looks into a
spool: read-only, so an observer never writes SQL against it nor holds up a sampler.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pantau.agent.forgetting import Done, Forget, Forgetter

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    point TEXT NOT NULL,
    id    INTEGER NOT NULL,
    kind  TEXT NOT NULL CHECK (kind IN ('telemetry', 'event')),
    seq   INTEGER,
    body  TEXT NOT NULL,
    PRIMARY KEY (point, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS points (
    point    TEXT PRIMARY KEY,
    next_seq INTEGER NOT NULL DEFAULT 0,
    held     INTEGER NOT NULL DEFAULT 0,
    dropped  INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS formed (
    point     TEXT NOT NULL,
    n         INTEGER NOT NULL,
    msg_id    TEXT NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('telemetry', 'event')),
    row_ids   TEXT NOT NULL,
    dropped   INTEGER NOT NULL,
    payload   BLOB NOT NULL,
    props     TEXT NOT NULL,
    PRIMARY KEY (point, n)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS chains (
    point     TEXT PRIMARY KEY,
    last_hash BLOB NOT NULL,
    formed_to INTEGER NOT NULL DEFAULT 0,
    next_n    INTEGER NOT NULL DEFAULT 0
);
"""


# Rows forgotten together are named IN_CHUNK at a time, the rest of a chunk NULL (which no id
# equals): one statement text whatever the count. With the count in the text, every new count
# was one more prepared statement in the connection's cache (about 5 KB each, up to 128 kept),
# so the agent's memory rose for as long as new batch sizes kept turning up.
IN_CHUNK = 64
_IN_LIST = ",".join("?" * IN_CHUNK)
COUNT_SAMPLES_IN = (
    f"SELECT COUNT(*) FROM outbox WHERE point = ? AND kind = 'telemetry' AND id IN ({_IN_LIST})"
)
DELETE_ROWS_IN = f"DELETE FROM outbox WHERE point = ? AND id IN ({_IN_LIST})"


def _in_chunks(ids: list[int] | tuple[int, ...]) -> Iterator[list[int | None]]:
    for start in range(0, len(ids), IN_CHUNK):
        chunk: list[int | None] = list(ids[start : start + IN_CHUNK])
        yield chunk + [None] * (IN_CHUNK - len(chunk))


@dataclass(frozen=True)
class Row:
    id: int
    kind: str
    seq: int | None
    body: str


@dataclass(frozen=True)
class PointProgress:
    """How far one point got, as its spool holds it."""

    next_seq: int  # the seq of the next sample; seq counts from 0, so also the samples taken
    waiting: int  # samples not yet acknowledged by the broker
    dropped: int  # samples dropped (full spool or disk), not yet reported to the collector

    @property
    def taken(self) -> int:
        return self.next_seq


@dataclass(frozen=True, slots=True)
class Kept:
    """A kept message without its bytes: what the publisher tracks while it awaits a receipt.
    The payload stays on disk only (`Spool.message`), so a point's receipt window of waiting
    messages costs a few ids in memory, not up to `receipt_window` payloads."""

    n: int
    msg_id: str
    kind: str
    row_ids: tuple[int, ...]
    dropped: int


@dataclass(frozen=True, slots=True)
class Formed(Kept):
    """A message made from spooled rows, kept byte for byte until its receipt: a resend is the
    same message, so its signature and its place in the point's hash chain hold."""

    payload: bytes
    props: dict[str, str]

    @property
    def kept(self) -> Kept:
        """This message without its payload and properties, to track it by."""
        return Kept(self.n, self.msg_id, self.kind, self.row_ids, self.dropped)


@dataclass(frozen=True)
class Chain:
    """Where a point's messages stand: the last message's chain hash, the last row in one."""

    last_hash: bytes
    formed_to: int


# Builds (payload, properties, chain hash) from the previous chain hash: the sealing step.
Seal = Callable[[bytes], tuple[bytes, dict[str, str], bytes]]


class SpoolFullError(Exception):
    """The disk is full: the sample could not be stored."""


class SpoolWriteError(Exception):
    """A write to the spool failed; the rows it was about are unchanged."""


OK, DISK_FULL, DEGRADED = "ok", "disk_full", "degraded"


class Spool:
    """Thread-safe: one connection behind a lock, cheap at hundreds of points per agent."""

    def __init__(
        self,
        path: Path,
        max_samples_per_point: int,
        max_bytes: int | None = None,
        sync: str = "full",
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_samples_per_point = max_samples_per_point
        self.max_bytes = max_bytes
        self._lock = threading.RLock()
        self._forgetter_lock = threading.Lock()
        self._forgetter: Forgetter | None = None  # started with the first `forget_later`
        self._closed = False
        self._in_transaction = False
        self._counters: dict[str, list[int]] = {}  # point -> [next_seq, held]; one writer
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "PRAGMA synchronous=FULL" if sync == "full" else "PRAGMA synchronous=NORMAL"
        )
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.execute("PRAGMA cache_size=-512")  # KiB: the spool is read in order, rarely twice
        self._db.executescript(SCHEMA)
        (last_id,) = self._db.execute(
            "SELECT MAX((SELECT COALESCE(MAX(id), 0) FROM outbox),"
            " (SELECT COALESCE(MAX(formed_to), 0) FROM chains))"
        ).fetchone()
        self._next_id = last_id + 1  # order of arrival across points, past every kept message
        self._page_size = self._db.execute("PRAGMA page_size").fetchone()[0]
        self._state = OK

    @property
    def state(self) -> str:
        """ok, disk_full or degraded: what the latest write found (shown in the birth message)."""
        return self._state

    def _wrote(self, exc: sqlite3.Error | None = None) -> None:
        new = OK if exc is None else DISK_FULL if _is_full(exc) else DEGRADED
        if new != self._state:
            (log.info if new == OK else log.error)(
                "spool %s: %s%s", self.path, new, f" ({exc})" if exc else ""
            )
            self._state = new

    def close(self) -> None:
        """Deletes already handed over (`forget_later`) are written first."""
        with self._forgetter_lock:
            forgetter, self._forgetter = self._forgetter, None
            self._closed = True
        if forgetter is not None:
            forgetter.close()
        with self._lock:
            self._db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Many appends in one commit: for replaying a past period, not for live sampling,
        where each sample is committed on its own."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._in_transaction = True
            try:
                yield
            except BaseException:
                self._rollback()
                raise
            else:
                self._db.execute("COMMIT")
            finally:
                self._in_transaction = False

    def append_sample(self, point: str, make_body: Callable[[int], str]) -> int:
        """Assign the next seq, store the sample made with it, return the seq."""
        with self._lock:
            own = not self._in_transaction
            try:
                if own:
                    self._db.execute("BEGIN IMMEDIATE")
                counters = self._point_counters(point)
                seq = counters[0]
                self._db.execute(
                    "INSERT INTO outbox (point, id, kind, seq, body)"
                    " VALUES (?, ?, 'telemetry', ?, ?)",
                    (point, self._take_id(), seq, make_body(seq)),
                )
                self._db.execute(
                    "UPDATE points SET next_seq = ?, held = ? WHERE point = ?",
                    (seq + 1, counters[1] + 1, point),
                )
                counters[0], counters[1] = seq + 1, counters[1] + 1
                self._enforce_cap(point)
                if own:
                    self._db.execute("COMMIT")
                self._wrote()
                return seq
            except sqlite3.Error as exc:
                self._counters.clear()  # re-read after a rollback
                if own:
                    self._rollback()
                self._wrote(exc)
                if _is_full(exc):
                    raise SpoolFullError(str(exc)) from exc
                raise

    def append_event(self, point: str, body: str) -> None:
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO outbox (point, id, kind, body) VALUES (?, ?, 'event', ?)",
                    (point, self._take_id(), body),
                )
                self._wrote()
            except sqlite3.Error as exc:
                self._wrote(exc)
                if _is_full(exc):
                    raise SpoolFullError(str(exc)) from exc
                raise

    def peek(self, point: str, after_id: int, limit: int) -> list[Row]:
        """The oldest rows of a point after `after_id`, samples and events in their order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, kind, seq, body FROM outbox WHERE point = ? AND id > ?"
                " ORDER BY id LIMIT ?",
                (point, after_id, limit),
            ).fetchall()
        return [Row(*row) for row in rows]

    def has_after(self, point: str, after_id: int) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM outbox WHERE point = ? AND id > ? LIMIT 1", (point, after_id)
            ).fetchone()
        return row is not None

    def chain(self, point: str, genesis: bytes) -> Chain:
        with self._lock:
            row = self._db.execute(
                "SELECT last_hash, formed_to FROM chains WHERE point = ?", (point,)
            ).fetchone()
        return Chain(bytes(row[0]), row[1]) if row else Chain(genesis, 0)

    def form(
        self,
        point: str,
        msg_id: str,
        kind: str,
        rows: list[Row],
        dropped: int,
        genesis: bytes,
        seal: Seal,
    ) -> Formed:
        """Make the next message of a point from `rows` and keep it, in one transaction with
        the point's chain (the hash it links to). Raises SpoolWriteError; nothing changed."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                found = self._db.execute(
                    "SELECT last_hash, next_n FROM chains WHERE point = ?", (point,)
                ).fetchone()
                prev, n = (bytes(found[0]), found[1]) if found else (genesis, 0)
                payload, props, new_hash = seal(prev)
                ids = tuple(r.id for r in rows)
                self._db.execute(
                    "INSERT INTO formed (point, n, msg_id, kind, row_ids, dropped, payload, props)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        point,
                        n,
                        msg_id,
                        kind,
                        ",".join(map(str, ids)),
                        dropped,
                        payload,
                        json.dumps(props, sort_keys=True),
                    ),
                )
                self._db.execute(
                    "INSERT INTO chains (point, last_hash, formed_to, next_n) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (point) DO UPDATE SET last_hash = excluded.last_hash,"
                    " formed_to = MAX(formed_to, excluded.formed_to), next_n = excluded.next_n",
                    (point, new_hash, max(ids), n + 1),
                )
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                self._wrote(exc)
                raise SpoolWriteError(f"cannot keep a message of {point}: {exc}") from exc
            self._wrote()
        return Formed(n, msg_id, kind, ids, dropped, payload, props)

    def formed(self, point: str) -> list[Kept]:
        """The messages of a point awaiting their receipt, oldest first, without their bytes
        (`message` reads one when it must go again)."""
        with self._lock:
            found = self._db.execute(
                "SELECT n, msg_id, kind, row_ids, dropped FROM formed WHERE point = ? ORDER BY n",
                (point,),
            ).fetchall()
        return [
            Kept(n, msg_id, sys.intern(kind), _row_ids(ids), dropped)
            for n, msg_id, kind, ids, dropped in found
        ]

    def message(self, point: str, n: int) -> Formed | None:
        """Kept message `n` of a point byte for byte, as `form` made it; None once forgotten."""
        with self._lock:
            row = self._db.execute(
                "SELECT n, msg_id, kind, row_ids, dropped, payload, props FROM formed"
                " WHERE point = ? AND n = ?",
                (point, n),
            ).fetchone()
        if row is None:
            return None
        n, msg_id, kind, ids, dropped, payload, props = row
        return Formed(n, msg_id, kind, _row_ids(ids), dropped, bytes(payload), json.loads(props))

    def forget(
        self,
        point: str,
        ids: list[int] | tuple[int, ...],
        dropped_reported: int = 0,
        formed_n: int | None = None,
    ) -> None:
        """Forget rows a collector has (its receipt), the drops their message reported and the
        kept message itself, in one transaction. Raises SpoolWriteError (disk full, I/O):
        nothing changed, try again."""
        if ids:
            self.forget_many([Forget(point, tuple(ids), dropped_reported, formed_n)])

    def forget_many(self, items: Sequence[Forget]) -> None:
        """`forget` for many messages (of any points) in one transaction and one sync: what
        the batched deletes of receipts (`forget_later`) write. Raises SpoolWriteError:
        nothing changed, try again."""
        items = [item for item in items if item.row_ids]
        if not items:
            return
        deleted: dict[str, int] = {}
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                for item in items:
                    deleted[item.point] = deleted.get(item.point, 0) + self._forget_one(item)
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                self._wrote(exc)
                rows = sum(len(item.row_ids) for item in items)
                points = {item.point for item in items}
                whose = items[0].point if len(points) == 1 else f"{len(points)} points"
                raise SpoolWriteError(f"cannot forget {rows} row(s) of {whose}: {exc}") from exc
            self._wrote()
            for point, count in deleted.items():
                if point in self._counters:
                    self._counters[point][1] = max(0, self._counters[point][1] - count)

    def _forget_one(self, item: Forget) -> int:
        """One message's deletes, inside the caller's transaction; the samples deleted."""
        point = item.point
        if item.n is not None:
            self._db.execute("DELETE FROM formed WHERE point = ? AND n = ?", (point, item.n))
        deleted = 0
        for chunk in _in_chunks(item.row_ids):
            deleted += self._db.execute(COUNT_SAMPLES_IN, (point, *chunk)).fetchone()[0]
            self._db.execute(DELETE_ROWS_IN, (point, *chunk))
        self._db.execute(
            "UPDATE points SET held = MAX(0, held - ?), dropped = MAX(0, dropped - ?)"
            " WHERE point = ?",
            (deleted, max(0, item.dropped), point),
        )
        return deleted

    def forget_later(self, items: list[Forget], done: Done) -> None:
        """Forget these messages soon, batched with every other point's (agent/forgetting.py):
        never blocks on the disk. `done(None)` once they are durably gone, `done(error)` if the
        spool could not (nothing changed): called on the forgetting thread."""
        with self._forgetter_lock:
            if self._closed:
                raise SpoolWriteError("the spool is closed")
            if self._forgetter is None:
                self._forgetter = Forgetter(self.forget_many)
            self._forgetter.submit(items, done)

    def empty(self) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM outbox LIMIT 1").fetchone() is None

    def pending_samples(self) -> int:
        """Samples waiting for the broker, all points (cheap: kept per point)."""
        with self._lock:
            return self._db.execute("SELECT COALESCE(SUM(held), 0) FROM points").fetchone()[0]

    def dropped(self, point: str) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT dropped FROM points WHERE point = ?", (point,)
            ).fetchone()
        return row[0] if row else 0

    def add_dropped(self, point: str, count: int) -> None:
        """Samples that never reached the spool (disk full) are reported like dropped ones."""
        with self._lock:
            try:
                self._db.execute("INSERT OR IGNORE INTO points (point) VALUES (?)", (point,))
                self._db.execute(
                    "UPDATE points SET dropped = dropped + ? WHERE point = ?", (count, point)
                )
            except sqlite3.Error as exc:
                self._wrote(exc)
                raise SpoolWriteError(f"cannot count {count} dropped sample(s): {exc}") from exc
            self._wrote()

    def count(self, point: str | None = None) -> int:
        with self._lock:
            if point is None:
                return self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
            return self._db.execute(
                "SELECT COUNT(*) FROM outbox WHERE point = ?", (point,)
            ).fetchone()[0]

    def next_seq(self, point: str) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT next_seq FROM points WHERE point = ?", (point,)
            ).fetchone()
        return row[0] if row else 0

    def _enforce_cap(self, point: str) -> None:
        held = self._point_counters(point)[1]
        excess = held - self.max_samples_per_point
        if self.max_bytes is not None and excess <= 0 and self._size_bytes() > self.max_bytes:
            excess = max(1, held // 100)
        if excess <= 0:
            return
        self._db.execute(
            "DELETE FROM outbox WHERE point = ? AND id IN (SELECT id FROM outbox WHERE point = ?"
            " AND kind = 'telemetry' ORDER BY id LIMIT ?)",
            (point, point, excess),
        )
        self._db.execute(
            "UPDATE points SET dropped = dropped + ?, held = held - ? WHERE point = ?",
            (excess, excess, point),
        )
        self._counters[point][1] -= excess
        log.warning("spool full for %s: dropped %d oldest sample(s)", point, excess)

    def _size_bytes(self) -> int:
        (pages,) = self._db.execute("PRAGMA page_count").fetchone()
        (free,) = self._db.execute("PRAGMA freelist_count").fetchone()
        return (pages - free) * self._page_size

    def _take_id(self) -> int:
        taken = self._next_id
        self._next_id += 1
        return taken

    def _point_counters(self, point: str) -> list[int]:
        counters = self._counters.get(point)
        if counters is None:
            self._db.execute("INSERT OR IGNORE INTO points (point) VALUES (?)", (point,))
            row = self._db.execute(
                "SELECT next_seq, held FROM points WHERE point = ?", (point,)
            ).fetchone()
            counters = self._counters[point] = [row[0], row[1]]
        return counters

    def _rollback(self) -> None:
        self._counters.clear()
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("ROLLBACK")


class SpoolView:
    """A read-only look into a spool that another process may be writing.

    Opened read-only (WAL lets it read beside the writer, never in its way). A spool whose tables
    are not made yet holds nothing: it reads as no points and no rows.
    """

    def __init__(self, path: Path, timeout_s: float = 5.0) -> None:
        if not path.exists():
            raise FileNotFoundError(f"no spool at {path}")
        uri = path.resolve().as_uri() + "?mode=ro"
        self._db = sqlite3.connect(uri, uri=True, timeout=timeout_s, check_same_thread=False)

    def __enter__(self) -> SpoolView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def progress(self) -> dict[str, PointProgress]:
        """Every point's progress: one row per point, cheap at any backlog."""
        rows = self._read("SELECT point, next_seq, held, dropped FROM points ORDER BY point")
        return {point: PointProgress(*counts) for point, *counts in rows}

    def rows(self, point: str | None = None) -> int:
        """Samples and events not yet acknowledged, of one point or all (reads the rows)."""
        if point is None:
            found = self._read("SELECT COUNT(*) FROM outbox")
        else:
            found = self._read("SELECT COUNT(*) FROM outbox WHERE point = ?", (point,))
        return found[0][0] if found else 0

    def waiting_before(self, point: str, seq: int) -> int:
        """Samples of a point taken before `seq` and still waiting: what is left of a backlog,
        however many newer samples wait beside it."""
        found = self._read(
            "SELECT COUNT(*) FROM outbox WHERE point = ? AND kind = 'telemetry' AND seq < ?",
            (point, seq),
        )
        return found[0][0] if found else 0

    def intact(self) -> bool:
        """SQLite's own integrity check of the whole file."""
        return self._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    def _has_tables(self) -> bool:
        names = {n for (n,) in self._db.execute("SELECT name FROM sqlite_master")}
        return {"outbox", "points"} <= names

    def _read(self, query: str, args: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        if not self._has_tables():
            return []
        return self._db.execute(query, args).fetchall()


def read_progress(path: Path) -> dict[str, PointProgress]:
    """Every point's progress in the spool at `path`; none while it does not exist yet."""
    if not path.exists():
        return {}
    with SpoolView(path) as view:
        return view.progress()


def _row_ids(text: str) -> tuple[int, ...]:
    """A kept message's row ids, as the `formed` table stores them (comma-separated)."""
    return tuple(map(int, text.split(",")))


def _is_full(exc: sqlite3.Error) -> bool:
    return "full" in str(exc).lower() or getattr(exc, "sqlite_errorcode", 0) == sqlite3.SQLITE_FULL
