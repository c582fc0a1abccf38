"""Deletes what receipts confirm, in batches, on a thread of its own.

A receipt used to delete its rows on the network thread: one synced SQLite transaction each.
After a collector outage, receipts for every point's backlog arrive together (30,000 within
three minutes at 1,000 points) and those fsyncs kept the network thread from reading its
sockets long enough for sessions to miss their keepalives. Here a receipt only hands its
messages over (cheap, in memory); this thread deletes everything handed over in the last
`GATHER_S` in one transaction and one sync (`BATCH_MAX` messages at a time), for every point
of the process at once, and tells each submitter the outcome.

Nothing is forgotten before its receipt, and a crash loses nothing: a message whose delete was
not yet durable is still in the spool, is sent again at the next start, and the collector's
idempotent writes drop the repeat (as for any receipt lost on the way).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)

GATHER_S = 0.1  # one commit for all that arrives this long after the last one
# Messages per transaction: the spool's lock (which samplers and the network thread also take)
# is held for one batch at a time, so a backlog is deleted in short turns, one after another.
BATCH_MAX = 64


@dataclass(frozen=True, slots=True)
class Forget:
    """One kept message to delete: its rows, the drops it reported, its place in `formed`."""

    point: str
    row_ids: tuple[int, ...]
    dropped: int
    n: int | None


# What a submitter hears back, on the forgetter's thread: None once durable, else the error
# (the spool unchanged for these messages: submit them again later).
Done = Callable[[Exception | None], None]
# Deletes a batch in one transaction, or raises with nothing changed.
Write = Callable[[Sequence[Forget]], None]


class Forgetter:
    """Batches deletes for one spool. Thread-safe; `submit` never blocks on the disk."""

    def __init__(self, write: Write, name: str = "spool-forget") -> None:
        self._write = write
        self._name = name
        self._cond = threading.Condition()
        self._queue: list[tuple[list[Forget], Done]] = []
        self._closing = False
        self._thread: threading.Thread | None = None
        self._last_commit = float("-inf")
        self._behind = False

    def submit(self, items: list[Forget], done: Done) -> None:
        """Delete `items` soon; `done` says when they are durable (or why not)."""
        with self._cond:
            if self._closing:
                raise RuntimeError("the spool is closed")
            self._queue.append((items, done))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify()

    def close(self, timeout_s: float = 10.0) -> None:
        """Delete what is submitted (at once, no gathering), then end the thread."""
        with self._cond:
            self._closing = True
            self._cond.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout_s)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return
                # gather: one commit for whatever arrives until GATHER_S after the last one
                while not self._closing and not self._behind:
                    wait = self._last_commit + GATHER_S - time.monotonic()
                    if wait <= 0:
                        break
                    self._cond.wait(wait)
                taken, count = 0, 0
                for items, _ in self._queue:
                    taken += 1
                    count += len(items)
                    if count >= BATCH_MAX:
                        break
                batch, self._queue = self._queue[:taken], self._queue[taken:]
                self._behind = bool(self._queue)  # more waits already: no gathering for it
            self._last_commit = time.monotonic()
            self._commit(batch)

    def _commit(self, batch: list[tuple[list[Forget], Done]]) -> None:
        error: Exception | None = None
        try:
            self._write([item for items, _ in batch for item in items])
        except Exception as exc:  # handed to each submitter, who retries with backoff
            error = exc
        for _, done in batch:
            try:
                done(error)
            except Exception:
                log.exception("a forget callback failed")
