"""What one point's sampler and its capacity worker share, so neither reaches into the other.

Both are handed the same context: events go through it to the spool (and wake the publisher),
the sampler leaves its latest WAN rates in it for the worker to judge user traffic by, and the
worker leaves a ping burst in it for the next sample to carry.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Mapping
from typing import Any

from pantau.agent.publisher import PointPublisher
from pantau.agent.rates import Rates
from pantau.agent.sources.base import Reachability
from pantau.agent.sources.clock import Clock
from pantau.agent.spool import Spool, SpoolFullError
from pantau.shared.contract import EventKind, encode_event
from pantau.shared.logs import PointLogger

log = logging.getLogger(__name__)

STALE_INTERVALS = 3  # WAN rates older than this many sampling intervals are not trusted
HELD_EVENTS = 100  # events kept in memory while the disk is full, oldest given up first


class PointContext:
    """One point's spool, publisher and clock, and what its sampler and worker hand over."""

    def __init__(
        self, point: str, spool: Spool, publisher: PointPublisher | None, clock: Clock
    ) -> None:
        self.point = point
        self.spool = spool
        self.publisher = publisher
        self.clock = clock
        self.log = PointLogger(log, point)
        self._lock = threading.Lock()
        self._wan: tuple[float, float, Rates] | None = None  # at_s, interval_s, rates
        self._burst: Reachability | None = None
        self._held: deque[str] = deque()  # events the full disk could not take yet

    def record_event(
        self, kind: EventKind, ts_ms: int, message: str | None, data: Mapping[str, Any]
    ) -> None:
        """Spool an event, then wake the publisher: it travels like samples do, never lost.
        A full disk is logged, not raised: the event waits in memory (bounded) for room."""
        event = encode_event(self.point, ts_ms, kind, message, data).decode()
        with self._lock:
            self._held.append(event)
            if len(self._held) > HELD_EVENTS:
                self._held.popleft()
                self.log.error("event given up: more than %d wait for disk space", HELD_EVENTS)
        if not self.store_held_events():
            self.log.error("event %s waits in memory: the spool cannot store it", kind)

    def store_held_events(self) -> bool:
        """Spool the events that wait, oldest first; false while the disk is still full."""
        stored = False
        with self._lock:
            while self._held:
                try:
                    self.spool.append_event(self.point, self._held[0])
                except SpoolFullError:
                    return False
                self._held.popleft()
                stored = True
        if stored and self.publisher is not None:
            self.publisher.notify()
        return True

    def note_wan_rates(self, at_s: float, interval_s: float, rates: Rates) -> None:
        """The sampler's latest WAN rates (wall time of the sample, its interval)."""
        with self._lock:
            self._wan = (at_s, interval_s, rates)

    def wan_traffic_bps(self) -> float | None:
        """User traffic on the WAN (rx + tx) from the latest sample, if it is recent."""
        with self._lock:
            latest = self._wan
        if latest is None:
            return None
        at_s, interval_s, rates = latest
        if self.clock.now() - at_s > STALE_INTERVALS * interval_s + 1:
            return None
        if rates.rx_bps is None and rates.tx_bps is None:
            return None
        return (rates.rx_bps or 0.0) + (rates.tx_bps or 0.0)

    def offer_burst(self, burst: Reachability) -> None:
        """A ping burst for the next sample (a newer one replaces one not yet taken)."""
        with self._lock:
            self._burst = burst

    def take_burst(self) -> Reachability | None:
        """The burst waiting for this sample, once."""
        with self._lock:
            burst, self._burst = self._burst, None
        return burst
