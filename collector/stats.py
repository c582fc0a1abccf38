"""The collector's own counters: what came in, what was refused and why, what was stored."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Stats:
    received: int = 0
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    lines_written: int = 0
    lines_buffered: int = 0
    lines_replayed: int = 0
    lines_refused: int = 0
    seq_gaps: int = 0
    seq_duplicates: int = 0
    _last_seq: dict[str, tuple[str, int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reject(self, reason: str) -> None:
        with self._lock:
            self.rejected[reason] += 1

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + amount)

    def observe_seq(self, point: str, boot: str, seq: int) -> None:
        """Live view only: the report recounts gaps from stored seq values, which is exact."""
        with self._lock:
            last = self._last_seq.get(point)
            if last is not None and seq <= last[1]:
                self.seq_duplicates += 1
                return
            if last is not None and seq > last[1] + 1:
                self.seq_gaps += seq - last[1] - 1
            self._last_seq[point] = (boot, seq)

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
                "seq_gaps": self.seq_gaps,
                "seq_duplicates": self.seq_duplicates,
            }
