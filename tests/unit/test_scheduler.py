"""The sampling scheduler: a hung device costs only its own samples, with a fixed pool."""

from __future__ import annotations

import threading

from pantau.agent.scheduler import Scheduler
from pantau.agent.sources.clock import RealClock
from tests.pipeline import wait_for

INTERVAL_S = 0.2


class Counting:
    def __init__(self, point: str, hang: threading.Event | None = None) -> None:
        self.point = point
        self.interval_s = INTERVAL_S
        self.samples = 0
        self.hang = hang

    def sample_once(self) -> None:
        self.samples += 1
        if self.hang is not None:
            self.hang.wait(30)


def test_a_hung_device_holds_one_worker_and_skips_only_its_own_ticks() -> None:
    release = threading.Event()
    hung = Counting("hung-01", release)
    others = [Counting(f"ok-{i:02d}") for i in range(6)]
    scheduler = Scheduler(RealClock(), [hung, *others], workers=2)
    assert scheduler.threads == 3
    before = threading.active_count()
    scheduler.start()
    try:
        assert threading.active_count() == before + 3
        wait_for(lambda: min(o.samples for o in others) >= 10, 30, "ten samples each")
        assert hung.samples == 1  # still in its first sample: its later ticks were skipped
        assert scheduler.skipped_busy >= 9
    finally:
        release.set()
        scheduler.stop()
        scheduler.join(5)


def test_never_more_threads_than_points() -> None:
    scheduler = Scheduler(RealClock(), [Counting("solo-01")], workers=32)
    assert scheduler.threads == 2
