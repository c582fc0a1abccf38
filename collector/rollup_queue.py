"""Which hours need their `sla_hourly` rollup recomputed, and when to do it.

Writes mark (point, hour) pairs; every `every_s` the marked hours are recomputed from their raw
rows (collector/rollup.py). Late data, such as a backlog replayed after an outage, marks old
hours, which are then recomputed like any other: the rollup row overwrites itself.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping

from pantau.collector.rollup import InfluxLike, recompute
from pantau.shared.errors import SinkError

log = logging.getLogger(__name__)


class RollupQueue:
    def __init__(
        self,
        influx: InfluxLike,
        tags_for: Callable[[str], Mapping[str, str]],
        every_s: float,
    ) -> None:
        self.influx = influx
        self.tags_for = tags_for
        self.every_s = every_s
        self._pending: set[tuple[str, int]] = set()
        self._due_at = time.monotonic() + every_s
        self.rows_written = 0

    def mark(self, pairs: Iterable[tuple[str, int]]) -> None:
        self._pending.update(pairs)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def poll(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self._pending or (not force and now < self._due_at):
            return
        self._due_at = now + self.every_s
        pairs, self._pending = self._pending, set()
        try:
            self.rows_written += recompute(self.influx, pairs, self.tags_for)
        except SinkError as exc:
            self._pending |= pairs  # InfluxDB away: try these hours again next time
            log.warning("rollups postponed (%d point-hours): %s", len(pairs), exc)
