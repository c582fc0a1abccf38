"""One point's sampling step: read the device, build the sample, spool it, wake the publisher.

When it runs is the scheduler's business (agent/scheduler.py: wall-clock ticks, a fixed pool of
workers, a slow device costing only its own samples). A sample is built, validated against the
wire contract and stored in the spool before anything else happens to it.
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from typing import TYPE_CHECKING, Any

from pantau.agent.point import PointContext
from pantau.agent.probes import Target, probe
from pantau.agent.rates import CounterSnapshot, Rates, compute_rates
from pantau.agent.sample import build_sample
from pantau.agent.sources.base import Reachability, Reading, Source, SourceIssue
from pantau.agent.sources.reachability import merge_burst
from pantau.agent.spool import SpoolFullError, SpoolWriteError
from pantau.shared.contract import encode_sample
from pantau.shared.logs import Once, PointLogger

if TYPE_CHECKING:
    from pantau.agent.config import PointConfig

log = logging.getLogger(__name__)

HELD_SAMPLES = 120  # per point, kept in memory while the disk is full (20 minutes at 10 s)


class PointSampler:
    def __init__(
        self,
        config: PointConfig,
        interval_s: float,
        source: Source,
        context: PointContext,
        boot: str,
    ) -> None:
        self.config = config
        self.point = config.id
        self.interval_s = interval_s
        self.source = source
        self.context = context
        self.spool = context.spool
        self.publisher = context.publisher
        self.clock = context.clock
        self.boot = boot
        self.log = PointLogger(log, config.id)
        self.samples_taken = 0
        self._previous: CounterSnapshot | None = None
        self._active_issues: dict[str, str] = {}
        self._held: deque[dict[str, Any]] = (
            deque()
        )  # taken while the disk was full, not yet spooled
        self._given_up = 0  # held samples pushed out by newer ones: reported as dropped
        self._spool_state = "ok"
        self._once = Once()

    def sample_once(self) -> None:
        ts_ms = int(self.clock.now() * 1000)
        reading = self._read()
        reach = self._reachability(reading)
        rates = self._rates(reading, ts_ms)
        if reading.device_up:
            self.context.note_wan_rates(ts_ms / 1000, self.interval_s, rates)
        self._report_issues(reading.issues, ts_ms)
        built = build_sample(
            reading, reach, rates, ts_ms=ts_ms, boot=self.boot, interval_s=self.interval_s
        )
        for rejected in built.rejected:
            if self._once.first(f"invalid:{rejected.field}"):
                self.log.warning(
                    "%s=%r rejected: %s", rejected.field, rejected.value, rejected.reason
                )
        self._store(built.sample)
        self._report_spool_state(ts_ms)
        self.context.store_held_events()
        if self.publisher is not None:
            if reading.device_up:
                self.publisher.set_facts(reading.facts)
            elif not self.publisher.has_facts:
                self.publisher.set_facts({})  # announce the agent even while the device is away
            self.publisher.notify()

    def _read(self) -> Reading:
        try:
            return self.source.read()
        except Exception as exc:  # a source that raises is a device we could not read
            return Reading(
                device_up=False,
                at_s=self.clock.monotonic(),
                issues=(SourceIssue("device", f"{type(exc).__name__}: {exc}"),),
            )

    def _reachability(self, reading: Reading) -> Reachability | None:
        """The source's own, else the agent's probes (when the device answers); then the
        latest ping burst's rtt, loss and jitter, if one is waiting."""
        reach = reading.reachability
        probes = self.config.probes
        if reach is None and reading.device_up and probes and probes.targets:
            targets = [Target(t.kind, t.host, t.port) for t in probes.targets]
            reach = probe(targets, probes.count, probes.timeout_s)
        burst = self.context.take_burst()
        return reach if burst is None else merge_burst(reach, burst)

    def _rates(self, reading: Reading, ts_ms: int) -> Rates:
        if not reading.device_up:
            return Rates()
        snapshot = CounterSnapshot(
            at_s=reading.at_s if reading.at_s is not None else self.clock.monotonic(),
            uptime_s=reading.uptime_s,
            counters=reading.counters,
        )
        previous, self._previous = self._previous, snapshot
        if (
            previous is not None
            and previous.uptime_s is not None
            and snapshot.uptime_s is not None
            and snapshot.uptime_s < previous.uptime_s
        ):
            self.context.record_event(
                "reboot",
                ts_ms,
                f"device restarted (uptime {previous.uptime_s:.0f}s -> {snapshot.uptime_s:.0f}s)",
                {"uptime_before_s": previous.uptime_s, "uptime_after_s": snapshot.uptime_s},
            )
        return compute_rates(previous, snapshot)

    def _report_issues(self, issues: tuple[SourceIssue, ...], ts_ms: int) -> None:
        """Each failing path is reported once when it starts failing and once when it recovers."""
        current = {i.path: i.message for i in issues}
        for path, message in current.items():
            if path not in self._active_issues:
                self.log.warning("%s: %s", path, message)
                self.context.record_event("source_error", ts_ms, message, {"path": path})
        for path in self._active_issues.keys() - current.keys():
            self.log.info("%s: recovered", path)
            self.context.record_event("source_recovered", ts_ms, None, {"path": path})
        self._active_issues = current

    def _store(self, sample: dict[str, Any]) -> None:
        """Spool the sample, after any the full disk made wait; while the disk is full they
        wait in memory (bounded), so a disk freed in time costs no sample at all."""
        self._held.append(sample)
        while self._held:
            try:
                self.spool.append_sample(
                    self.point,
                    lambda seq, s=self._held[0]: encode_sample(s, seq).decode(),
                )
            except SpoolFullError as exc:
                if self._once.first("disk-full"):
                    self.log.error(
                        "disk full: samples wait in memory (up to %d): %s", HELD_SAMPLES, exc
                    )
                if len(self._held) > HELD_SAMPLES:
                    self._held.popleft()
                    self._given_up += 1
                return
            self._held.popleft()
            self.samples_taken += 1
        self._once.clear("disk-full")
        if self._given_up:
            with contextlib.suppress(SpoolWriteError):
                self.spool.add_dropped(self.point, self._given_up)
                self.log.warning(
                    "%d sample(s) lost to a full disk; reported as dropped", self._given_up
                )
                self._given_up = 0

    def _report_spool_state(self, ts_ms: int) -> None:
        """The spool's state changed (full disk, or back): an event, once per change."""
        state = self.spool.state
        if state == self._spool_state:
            return
        previous, self._spool_state = self._spool_state, state
        self.context.record_event(
            "spool_state",
            ts_ms,
            f"spool {state} (was {previous})",
            {"state": state, "previous": previous, "held_samples": len(self._held)},
        )
