"""The collector's own counters: what came in, what was refused and why, what was stored."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

WRITE_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass
class Stats:
    received: int = 0
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    lines_written: int = 0
    lines_buffered: int = 0
    lines_replayed: int = 0
    lines_refused: int = 0
    lines_identical: int = 0  # redeliveries of rows already stored (not written again)
    receipts_sent: int = 0
    archived: int = 0  # messages appended to the evidence archive
    seq_gaps: int = 0
    seq_duplicates: int = 0
    samples: int = 0
    write_count: int = 0
    write_seconds: float = 0.0
    write_buckets: list[int] = field(default_factory=lambda: [0] * len(WRITE_BUCKETS_S))
    last_seen_ms: dict[str, int] = field(default_factory=dict)
    _last_seq: dict[str, tuple[str, int]] = field(default_factory=dict)
    # per point [lowest seq, highest seq, samples]: what workers of one collector add up, since
    # each sees only part of a point's stream (collector/workers.py)
    _spans: dict[str, list[int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reject(self, reason: str, count: int = 1) -> None:
        with self._lock:
            self.rejected[reason] += count

    def add(self, name: str, amount: int = 1) -> None:
        """Without a lock (it costs more than the count on the per-message path): each counter
        is written by one thread only, the network thread or the writer's store thread
        (collector/writer.py); readers see each number whole."""
        setattr(self, name, getattr(self, name) + amount)

    def observe_seqs(self, point: str, seqs: Iterable[tuple[str, int]]) -> None:
        """The (boot, seq) of each sample of one message, in order. Live view only: the report
        recounts gaps from stored seq values, which is exact. Called by the ingest thread alone:
        no lock, like `add`."""
        span = self._spans.get(point)
        last = self._last_seq.get(point)
        for boot, seq in seqs:
            self.samples += 1
            if span is None:
                span = self._spans[point] = [seq, seq, 1]
            else:
                if seq < span[0]:
                    span[0] = seq
                elif seq > span[1]:
                    span[1] = seq
                span[2] += 1
            if last is not None and seq <= last[1]:
                self.seq_duplicates += 1
                continue
            if last is not None and seq > last[1] + 1:
                self.seq_gaps += seq - last[1] - 1
            last = (boot, seq)
        if last is not None:
            self._last_seq[point] = last

    def seq_spans(self) -> dict[str, tuple[int, int, int]]:
        """Per point (lowest seq, highest seq, samples) seen so far."""
        return {point: (a, b, n) for point, (a, b, n) in list(self._spans.items())}

    def seen(self, point: str, at_ms: int) -> None:
        """When a message of this point was last taken in (for /metrics)."""
        self.last_seen_ms[point] = at_ms  # one dict store: atomic, no lock on the hot path

    def observe_write(self, seconds: float) -> None:
        """One InfluxDB write took this long (successful or not)."""
        with self._lock:
            self.write_count += 1
            self.write_seconds += seconds
            for index, bound in enumerate(WRITE_BUCKETS_S):
                if seconds <= bound:
                    self.write_buckets[index] += 1

    def write_histogram(self) -> tuple[list[tuple[float, int]], int, float]:
        """(cumulative buckets, count, sum) of write latencies."""
        with self._lock:
            return (
                list(zip(WRITE_BUCKETS_S, self.write_buckets, strict=True)),
                (self.write_count),
                self.write_seconds,
            )

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {
                "received": self.received,
                "accepted": self.accepted,
                "rejected": dict(self.rejected),
                "lines_written": self.lines_written,
                "lines_buffered": self.lines_buffered,
                "lines_replayed": self.lines_replayed,
                "lines_refused": self.lines_refused,
                "lines_identical": self.lines_identical,
                "receipts_sent": self.receipts_sent,
                "archived": self.archived,
                "seq_gaps": self.seq_gaps,
                "seq_duplicates": self.seq_duplicates,
                "samples": self.samples,
            }
