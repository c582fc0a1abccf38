"""Batches lines to InfluxDB and acknowledges each message only once its lines are durable.

Durable means written to InfluxDB, or, while InfluxDB is away, committed to the disk buffer.
Then, in this order: the receipts the agents asked for (wire v2: the agent forgets a sample only
on its receipt), and the acknowledgements to the broker, in the order the messages arrived. A
batch InfluxDB refuses outright (4xx) is kept in the buffer's `refused` table for inspection and
acknowledged: retrying it would wedge the pipeline, and it is counted and logged, never silent.
Every write, live or replayed, first goes through the evidence guard (collector/evidence.py):
stored rows are never rewritten.

Two stages. The collector's network thread takes messages in and batches them (`submit`,
`poll`); a store thread of the writer's own archives, screens and writes one batch at a time and
replays the disk buffer. So reading and checking the next batch overlaps InfluxDB's work on this
one: a handoff per batch, not per message. Receipts and acknowledgements go out back on the
network thread (paho's client is driven from there alone). At most one batch is being stored and
one is being filled: a full batch waits for the one before it, which bounds memory and lets the
broker's receive maximum hold the rest of the stream back.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from pantau.collector.archive.segments import ArchiveError, ArchiveWriter, Record
from pantau.collector.buffer import DiskBuffer
from pantau.collector.evidence import OVERLAP, REWRITE, Guard, Screened
from pantau.collector.influxdb.client import Influx
from pantau.collector.stats import Stats
from pantau.shared.errors import SinkError
from pantau.shared.logs import Throttle

log = logging.getLogger(__name__)
WHAT_WAS_REFUSED = {
    REWRITE: "rewrite(s) of stored rows",
    OVERLAP: "late sample(s) where stored samples leave no gap",
}

Ack = Callable[[], None]
OnWritten = Callable[[set[tuple[str, int]]], None]
OnDurable = Callable[[list["Pending"]], None]
MarkLines = Callable[[set[tuple[str, int]]], list[str]]
ARCHIVE_RETRY_S = 5.0
REPLAY_EVERY_S = 0.2  # live batches first, but the disk buffer always moves
IDLE_WAKE_S = 0.2
_PARTIAL = re.compile(r"partial write\b.*\bdropped=(\d+)")  # InfluxDB 1.x


@dataclass
class Pending:
    lines: list[str]
    ack: Ack
    hours: frozenset[int] = frozenset()
    point: str | None = None
    receipt: str | None = None  # the agent's message id, when it asked for a receipt
    refused: bool = False  # refused as invalid: the receipt says so, the agent forgets it
    record: Record | None = None  # the message as received, for the evidence archive


class Writer:
    def __init__(
        self,
        influx: Influx,
        buffer: DiskBuffer,
        stats: Stats,
        max_lines: int,
        max_delay_s: float,
        on_written: OnWritten | None = None,
        mark_lines: MarkLines | None = None,
        guard: Guard | None = None,
        log_every_s: float = 300.0,
        on_durable: OnDurable | None = None,
        archive: ArchiveWriter | None = None,
    ) -> None:
        self.influx = influx
        self.buffer = buffer
        self.stats = stats
        self.max_lines = max_lines
        self.max_delay_s = max_delay_s
        self.on_written = on_written
        self.mark_lines = mark_lines
        self.guard = guard
        self.on_durable = on_durable
        self.archive = archive
        # network thread: the batch being filled, and stored batches waiting for their acks
        self._pending: list[Pending] = []
        self._pending_lines = 0
        self._oldest_at = 0.0
        # between the threads, under _cond: the batch handed to the store thread, and those done
        self._cond = threading.Condition()
        self._job: list[Pending] | None = None
        self._job_lines = 0
        self._done: deque[list[Pending]] = deque()
        self._archive_failing = False  # the job waits for the archive: do not wait for it
        self._final = False  # stopping: a batch the archive refuses is left unacknowledged
        self._stopped = False
        # store thread only
        self._throttle = Throttle(log_every_s)
        self._influx_down_until = 0.0
        self._down_since: float | None = None
        self._retry_s = 1.0
        self._buffered = buffer.depth()[0] > 0  # left over from before a restart
        self._next_replay_at = 0.0
        self._thread = threading.Thread(target=self._store_loop, name="writer", daemon=True)
        self._thread.start()

    @property
    def influx_available(self) -> bool:
        return self._down_since is None

    @property
    def backlog(self) -> int:
        """Lines held in memory, not yet durable (their messages not yet acknowledged)."""
        return self._pending_lines + self._job_lines

    @property
    def busy(self) -> bool:
        """A batch is being stored, or stored and waiting for its acknowledgements."""
        return self._job is not None or bool(self._done)

    # -- the network thread --------------------------------------------------------------------
    def submit(self, pending: Pending) -> None:
        if not self._pending:
            self._oldest_at = time.monotonic()
        self._pending.append(pending)
        self._pending_lines += len(pending.lines)
        if self._pending_lines >= self.max_lines:
            self._wait_for_store()
            self._acknowledge()
            self._hand_off()

    def poll(self, idle: bool) -> None:
        """Acknowledge what is stored; hand the batch over when it is due or the wire went
        quiet and the store thread is free."""
        self._acknowledge()
        now = time.monotonic()
        if self._pending and (idle or now - self._oldest_at >= self.max_delay_s):
            self._hand_off()

    def flush(self) -> None:
        """Store everything taken in and acknowledge it (at stop). While the archive cannot be
        written, nothing more is stored or acknowledged: the broker delivers it again."""
        with self._cond:
            self._final = True
            self._cond.notify_all()
        while self._pending or self._job is not None:
            self._wait_for_store(ignore_archive=True)
            self._acknowledge()
            if not self._hand_off():
                break
        self._wait_for_store(ignore_archive=True)
        self._acknowledge()

    def close(self) -> None:
        """Stop the store thread once it has nothing to store."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join(30)

    def _wait_for_store(self, ignore_archive: bool = False) -> None:
        with self._cond:
            while self._job is not None and (ignore_archive or not self._archive_failing):
                self._cond.wait()

    def _hand_off(self) -> bool:
        """The batch being filled goes to the store thread, when it is free."""
        with self._cond:
            if self._job is not None or not self._pending:
                return False
            if self._final and self._archive_failing:
                return False
            self._job, self._job_lines = self._pending, self._pending_lines
            self._pending, self._pending_lines = [], 0
            self._cond.notify_all()
        return True

    def _acknowledge(self) -> None:
        """Receipts, then broker acknowledgements, of every stored batch, in arrival order."""
        while self._done:
            with self._cond:
                batch = self._done.popleft()
            if self.on_durable is not None:
                try:
                    self.on_durable(batch)
                except Exception:  # a receipt not sent is sent again on the agent's next try
                    log.exception("sending receipts failed")
            for pending in batch:
                pending.ack()

    # -- the store thread ----------------------------------------------------------------------
    def _store_loop(self) -> None:
        while True:
            with self._cond:
                if self._job is None and not self._stopped:
                    self._cond.wait(IDLE_WAKE_S)
                job, final, stopped = self._job, self._final, self._stopped
            if job is not None:
                try:
                    stored = self._store_batch(job)
                except Exception:  # a bug here must not stop storing for the process's life
                    log.exception("storing a batch failed; its messages stay unacknowledged")
                    stored = False
                    time.sleep(ARCHIVE_RETRY_S)
                if stored:
                    with self._cond:
                        self._done.append(job)
                        self._job, self._job_lines = None, 0
                        self._cond.notify_all()
                elif final:
                    with self._cond:  # not stored: left unacknowledged, delivered again
                        self._job, self._job_lines = None, 0
                        self._cond.notify_all()
                continue
            if stopped:
                return
            self._replay_when_due()
            for key, count, detail in self._throttle.due():
                point, _, reason = key.partition(" ")
                if reason in WHAT_WAS_REFUSED:
                    what = WHAT_WAS_REFUSED[reason]
                    log.warning("refused %d more %s of %s: %s", count, what, point, detail)
                else:  # the archive
                    log.error("%d more failure(s) to append to the archive: %s", count, detail)

    def _store_batch(self, batch: list[Pending]) -> bool:
        """Archive, store, note the hours touched: in that order, so a crash at any point
        leaves the data redelivered or its rollup work on disk. False: the archive cannot be
        written; the batch is tried again after a pause (or left unacknowledged, when stopping)."""
        if not self._archived(batch):
            with self._cond:
                self._archive_failing = True
                self._cond.notify_all()
                if not self._final:
                    self._cond.wait(ARCHIVE_RETRY_S)
            return False
        if self._archive_failing:
            with self._cond:
                self._archive_failing = False
        all_lines = [line for p in batch for line in p.lines]
        touched = {(p.point, h) for p in batch if p.point for h in p.hours}
        if touched and self.mark_lines is not None:
            all_lines += self.mark_lines(touched)  # same request as the raw rows they describe
        if all_lines:
            self._store(all_lines)
        if touched and self.on_written is not None:
            self._notify(touched)
        self._replay_when_due()
        return True

    def _replay_when_due(self) -> None:
        """One buffered batch, at most every REPLAY_EVERY_S: live batches first, but the disk
        buffer always moves."""
        if self._buffered and time.monotonic() >= self._next_replay_at:
            self._next_replay_at = time.monotonic() + REPLAY_EVERY_S
            self._replay(max_batches=1)

    def _archived(self, batch: list[Pending]) -> bool:
        """The raw messages on disk in the archive before their rows are stored (one sync)."""
        records = [p.record for p in batch if p.record is not None]
        if self.archive is None or not records:
            return True
        try:
            self.archive.append_many(records)
        except (ArchiveError, OSError) as exc:
            count = self._throttle.hit("archive", str(exc))
            if count:
                log.error("cannot append %d message(s) to the archive: %s", len(records), exc)
            return False
        self.stats.add("archived", len(records))
        return True

    def _store(self, lines: list[str]) -> None:
        if time.monotonic() >= self._influx_down_until:
            try:
                self.stats.add("lines_written", self._write(lines))
                self._mark_up()
                return
            except SinkError as exc:
                if not exc.retryable:
                    self._refuse(lines, str(exc))
                    return
                self._mark_down(str(exc))
        self.buffer.append(lines)
        self._buffered = True
        self.stats.add("lines_buffered", len(lines))

    def _replay(self, max_batches: int) -> None:
        """Oldest first; stop at the first failure and try again after a pause."""
        for _ in range(max_batches):
            if time.monotonic() < self._influx_down_until:
                return
            item = self.buffer.oldest()
            if item is None:
                self._buffered = False
                return
            batch_id, lines = item
            try:
                written = self._write(lines)
            except SinkError as exc:
                if exc.retryable:
                    self._mark_down(str(exc))
                    return
                self._refuse(lines, str(exc))
            else:
                self.stats.add("lines_replayed", written)
                self._mark_up()
            self.buffer.remove(batch_id)
            if self.on_written is not None:
                self._notify(_touched_from_lines(lines))

    def _write(self, lines: list[str]) -> int:
        """Screen, then write; returns the lines written. Raises SinkError."""
        started = time.perf_counter()
        try:
            screened = None
            if self.guard is not None:
                screened = self.guard.screen(lines)
                lines = screened.lines + self.guard.integrity_lines(
                    screened.refused, int(time.time() * 1000)
                )
            self.influx.write(lines)
        except SinkError as exc:
            if screened is not None and not exc.retryable:  # a partial write stored the rest:
                assert self.guard is not None  # the guard must know they are there
                self.guard.written(screened)
            raise
        finally:
            self.stats.observe_write(time.perf_counter() - started)
        if screened is not None:
            assert self.guard is not None
            self.guard.written(screened)
            self._report(screened)
        return len(lines)

    def _report(self, screened: Screened) -> None:
        if screened.identical:
            self.stats.add("lines_identical", screened.identical)
        if not screened.refused:
            return
        for refusal in screened.refused:
            self.stats.reject(refusal.reason, 1)
            point = dict(refusal.tags).get("point", "?")
            detail = refusal.describe()
            count = self._throttle.hit(f"{point} {refusal.reason}", detail)
            if count:
                what = WHAT_WAS_REFUSED[refusal.reason]
                log.warning("refused %d %s of %s: %s", count, what, point, detail)

    def _refuse(self, lines: list[str], reason: str) -> None:
        """InfluxDB refused the batch, or part of it (1.x: `partial write: ... dropped=N`, e.g.
        a field type conflict: the other lines are stored). The answer does not say which lines,
        so the whole batch is kept in the buffer's `refused` table; the count is InfluxDB's."""
        found = _PARTIAL.search(reason)
        refused = min(int(found.group(1)), len(lines)) if found else len(lines)
        if refused < len(lines):
            self.stats.add("lines_written", len(lines) - refused)
        log.error(
            "InfluxDB refused %d of %d line(s) (the batch is kept in %s): %s",
            refused,
            len(lines),
            self.buffer.path,
            reason,
        )
        self.buffer.keep_refused(int(time.time() * 1000), reason, lines)
        self.stats.add("lines_refused", refused)

    def _mark_down(self, reason: str) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning("InfluxDB unavailable, buffering on disk: %s", reason)
            self._retry_s = 1.0
        else:
            self._retry_s = min(self._retry_s * 2, 30.0)
        self._influx_down_until = time.monotonic() + self._retry_s

    def _mark_up(self) -> None:
        if self._down_since is not None:
            _, lines = self.buffer.depth()
            log.info(
                "InfluxDB back after %.0fs; replaying %d buffered line(s)",
                time.monotonic() - self._down_since,
                lines,
            )
            self._down_since = None
        self._retry_s = 1.0

    def _notify(self, touched: set[tuple[str, int]]) -> None:
        assert self.on_written is not None
        try:
            self.on_written(touched)
        except Exception:
            log.exception("post-write hook failed")


def _touched_from_lines(lines: list[str]) -> set[tuple[str, int]]:
    """Recover (point, hour) from replayed telemetry lines, so late data updates its rollups."""
    touched: set[tuple[str, int]] = set()
    for line in lines:
        if not line.startswith("telemetry,"):
            continue
        head, _, rest = line.partition(" ")
        ts = rest.rpartition(" ")[2]
        point = next((t[6:] for t in head.split(",") if t.startswith("point=")), None)
        if point and ts.isdigit():
            touched.add((point, int(ts) - int(ts) % 3_600_000))
    return touched
