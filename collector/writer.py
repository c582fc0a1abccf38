"""Batches lines to InfluxDB and acknowledges each message only once its lines are durable.

Durable means written to InfluxDB, or, while InfluxDB is away, committed to the disk buffer.
Acknowledgements go out in the order the messages arrived. A batch InfluxDB refuses outright
(4xx) is kept in the buffer's `refused` table for inspection and acknowledged: retrying it would
wedge the pipeline, and it is counted and logged, never silent.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from pantau.collector.buffer import DiskBuffer
from pantau.collector.influx import Influx
from pantau.collector.stats import Stats
from pantau.shared.errors import SinkError

log = logging.getLogger(__name__)

Ack = Callable[[], None]
OnWritten = Callable[[set[tuple[str, int]]], None]


@dataclass
class Pending:
    lines: list[str]
    ack: Ack
    hours: frozenset[int] = frozenset()
    point: str | None = None


class Writer:
    def __init__(
        self,
        influx: Influx,
        buffer: DiskBuffer,
        stats: Stats,
        max_lines: int,
        max_delay_s: float,
        queue_messages: int,
        on_written: OnWritten | None = None,
    ) -> None:
        self.influx = influx
        self.buffer = buffer
        self.stats = stats
        self.max_lines = max_lines
        self.max_delay_s = max_delay_s
        self.on_written = on_written
        self.queue: queue.Queue[Pending | None] = queue.Queue(maxsize=queue_messages)
        self._influx_down_until = 0.0
        self._down_since: float | None = None
        self._retry_s = 1.0
        self._thread = threading.Thread(target=self._run, name="writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, pending: Pending) -> None:
        """Blocks when the queue is full: the MQTT socket then stops being read (backpressure)."""
        self.queue.put(pending)

    def stop(self, timeout_s: float = 10.0) -> None:
        self.queue.put(None)
        self._thread.join(timeout_s)

    @property
    def influx_available(self) -> bool:
        return self._down_since is None

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch, stopping = self._collect()
            if batch:
                self._flush(batch)
            self._replay()

    def _collect(self) -> tuple[list[Pending], bool]:
        """Gather messages until the batch is full or the oldest has waited max_delay_s."""
        batch: list[Pending] = []
        lines = 0
        try:
            first = self.queue.get(timeout=0.25)
        except queue.Empty:
            return batch, False
        if first is None:
            return batch, True
        batch.append(first)
        lines += len(first.lines)
        deadline = time.monotonic() + self.max_delay_s
        while lines < self.max_lines:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                # Nothing queued right now: don't sit on acks the broker is waiting for.
                remaining = deadline - time.monotonic()
                if remaining <= 0 or lines == 0:
                    break
                try:
                    item = self.queue.get(timeout=min(remaining, 0.02))
                except queue.Empty:
                    break
            if item is None:
                return batch, True
            batch.append(item)
            lines += len(item.lines)
        return batch, False

    def _flush(self, batch: list[Pending]) -> None:
        all_lines = [line for p in batch for line in p.lines]
        if all_lines:
            self._store(all_lines)
        for pending in batch:
            pending.ack()
        touched = {(p.point, h) for p in batch if p.point for h in p.hours}
        if touched and self.on_written is not None and self.influx_available:
            self._notify(touched)

    def _store(self, lines: list[str]) -> None:
        if time.monotonic() >= self._influx_down_until:
            try:
                self.influx.write(lines)
                self.stats.add("lines_written", len(lines))
                self._mark_up()
                return
            except SinkError as exc:
                if not exc.retryable:
                    self._refuse(lines, str(exc))
                    return
                self._mark_down(str(exc))
        self.buffer.append(lines)
        self.stats.add("lines_buffered", len(lines))

    def _replay(self) -> None:
        """Oldest first; stop at the first failure and try again after a pause."""
        while time.monotonic() >= self._influx_down_until:
            item = self.buffer.oldest()
            if item is None:
                return
            batch_id, lines = item
            try:
                self.influx.write(lines)
            except SinkError as exc:
                if exc.retryable:
                    self._mark_down(str(exc))
                    return
                self._refuse(lines, str(exc))
            else:
                self.stats.add("lines_replayed", len(lines))
                self._mark_up()
            self.buffer.remove(batch_id)
            if self.on_written is not None:
                self._notify(_touched_from_lines(lines))
            if not self.queue.empty():
                return  # serve live traffic between replayed batches

    def _refuse(self, lines: list[str], reason: str) -> None:
        log.error(
            "InfluxDB refused %d line(s), kept in %s: %s", len(lines), self.buffer.path, reason
        )
        self.buffer.keep_refused(int(time.time() * 1000), reason, lines)
        self.stats.add("lines_refused", len(lines))

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
