"""Every point's samples from one scheduler thread and a fixed pool of sampling workers.

The rule. Each point is due at every wall-clock multiple of its interval. At its tick the point
is handed to the pool, unless its previous sample is still running (a slow or hung device):
then that point alone skips that tick, as a point with its own thread would, counted and logged
once. A worker that takes up a sample a whole interval after its tick drops it (counted and
logged) instead of running it late. So a hung device holds at most one worker, for at most its
source's own timeout (`timeout_s`, which should be below the interval); the other points are
delayed only while more devices hang at once than there are workers, and then by at most one
such timeout. Size `workers` above the number of devices that may hang at the same moment.
"""

from __future__ import annotations

import heapq
import logging
import queue
import threading
import time
from typing import Protocol

from pantau.agent.sources.clock import Clock, next_tick
from pantau.shared.logs import PointLogger

log = logging.getLogger(__name__)

DEFAULT_WORKERS = 32
QUIET_S = 60.0  # a point that skipped is said to be on time again after this long without


class Sampler(Protocol):
    """One point's sampling step (agent/run.py `PointSampler`)."""

    point: str
    interval_s: float

    def sample_once(self) -> None: ...


class Scheduler:
    def __init__(self, clock: Clock, samplers: list[Sampler], workers: int = DEFAULT_WORKERS):
        if workers < 1:
            raise ValueError("the sampling pool needs at least one worker")
        self.clock = clock
        self.samplers = samplers
        self.skipped_busy = 0  # ticks skipped: the point's previous sample still ran
        self.skipped_late = 0  # samples dropped: a worker was free only an interval later
        self._busy = [False] * len(samplers)
        self._warned: dict[int, float] = {}  # point index -> when it last skipped (monotonic)
        self._queue: queue.SimpleQueue[tuple[int, float] | None] = queue.SimpleQueue()
        self._stop = threading.Event()
        size = min(workers, max(1, len(samplers)))  # never more threads than points
        self._workers = [
            threading.Thread(target=self._work, name=f"sample-{i}", daemon=True)
            for i in range(size)
        ]
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)

    @property
    def threads(self) -> int:
        return 1 + len(self._workers)

    def start(self) -> None:
        for worker in self._workers:
            worker.start()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        for _ in self._workers:
            self._queue.put(None)

    def join(self, timeout_s: float) -> None:
        self._thread.join(timeout_s)
        for worker in self._workers:
            worker.join(timeout_s)

    def _run(self) -> None:
        now = self.clock.now()
        due = [(next_tick(now, s.interval_s), i) for i, s in enumerate(self.samplers)]
        heapq.heapify(due)
        while due and not self._stop.is_set():
            tick = due[0][0]
            if not self.clock.sleep_until(tick, self._stop):
                return
            now = self.clock.now()
            while due and due[0][0] <= now:
                tick, index = heapq.heappop(due)
                self._hand_over(index, tick)
                interval = self.samplers[index].interval_s
                following = tick + interval
                if following <= now:
                    following = next_tick(now, interval)
                heapq.heappush(due, (following, index))

    def _hand_over(self, index: int, tick: float) -> None:
        if self._busy[index]:
            self.skipped_busy += 1
            self._warn(index, "the previous sample still runs (a device slow to answer?)")
            return
        self._busy[index] = True
        self._queue.put((index, tick))

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            index, tick = job
            sampler = self.samplers[index]
            try:
                if self.clock.now() >= tick + sampler.interval_s:
                    self.skipped_late += 1
                    self._warn(index, "no sampling worker was free for a whole interval")
                    continue
                sampler.sample_once()
                skipped_at = self._warned.get(index)
                if skipped_at is not None and time.monotonic() - skipped_at > QUIET_S:
                    del self._warned[index]
                    PointLogger(log, sampler.point).info("sampling on time again")
            except Exception:  # a bug in one point must not stop the others
                PointLogger(log, sampler.point).exception("sampling failed")
            finally:
                self._busy[index] = False

    def _warn(self, index: int, why: str) -> None:
        """Once per episode: a point is back on time after QUIET_S without a skip."""
        if index not in self._warned:
            PointLogger(log, self.samplers[index].point).warning("sample skipped: %s", why)
        self._warned[index] = time.monotonic()
