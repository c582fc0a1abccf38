"""One thread per point that tests capacity and runs ping bursts, beside its sampler.

A test is decided just before it starts: the sampler's latest WAN rates (read from the point's
context) tell whether users are busy, the ledger whether the day's data budget allows it, the
uplink lock whether another test is running. Results and deferrals become events in the spool,
through the same context, so none is ever lost.

A result that may be the test server's fault (low, or the server loaded or busy; retest.py) is
marked awaiting a retest, and retested on the second server at once or on the same one after
`retest.delay_s`, within the same rules and budget. A test the server refused outright (503)
did not take place: it is deferred like a busy uplink, for as long as the server asked.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from pantau.agent.capacity.bursts import agent_burst
from pantau.agent.capacity.link import PointLink, PointSettings
from pantau.agent.capacity.methods import Method, build_method, priced_seconds
from pantau.agent.capacity.result import Measurement
from pantau.agent.capacity.retest import AWAITING, judge
from pantau.agent.capacity.schedule import (
    Decision,
    Limits,
    Pending,
    Plan,
    Planner,
    Trigger,
    busy_retry,
    decide,
    estimate_bytes,
    in_peak,
    local_day,
)
from pantau.agent.capacity.settings import committed_mbps, is_routeros, schedule_zone
from pantau.agent.capacity.state import LedgerFile, uplink_lock
from pantau.agent.sources.base import Reachability
from pantau.agent.sources.clock import Clock
from pantau.shared.errors import ConfigError
from pantau.shared.logs import PointLogger

if TYPE_CHECKING:
    from pantau.agent.capacity.config import BurstConfig, CapacityConfig
    from pantau.agent.sources.routeros.config import RouterOSSourceConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    decision: Decision
    measurement: Measurement | None
    traffic_bps: float | None
    in_peak: bool
    started_s: float
    cost_bytes: int
    spent_bytes: int


class Tester:
    """Runs one test of one point, when the rules allow it, and keeps its ledger."""

    def __init__(
        self, point: str, cfg: CapacityConfig, method: Method, state_dir: Path, clock: Clock
    ) -> None:
        self.point = point
        self.cfg = cfg
        self.method = method
        self.state_dir = state_dir
        self.clock = clock
        self.ledger = LedgerFile(state_dir, point)
        self.uplink = cfg.uplink or point
        self.limits = Limits(
            defer_above_bps=cfg.defer_above_bps,
            retry_s=cfg.defer_retry_s,
            max_deferrals=cfg.max_deferrals,
            budget_bytes=int(cfg.daily_budget_mb * 1e6),
        )

    def attempt(
        self,
        traffic_bps: float | None,
        deferrals: int = 0,
        deadline_s: float | None = None,
        manual: bool = False,
        method: Method | None = None,
    ) -> Outcome:
        """Decide and, when allowed, test (with `method`, default the point's). A manual test
        skips the traffic and budget rules (a technician asked for it) but never runs beside
        another test on the uplink. A test the server refused is not charged as a test."""
        sched = self.cfg.schedule
        now = self.clock.now()
        ledger = self.ledger.load(local_day(now, schedule_zone(sched)))
        cost = estimate_bytes(
            self.ledger.last_bytes, self.cfg.expected_mbps, priced_seconds(self.cfg), 1
        )
        peak = in_peak(now, schedule_zone(sched), sched.peak_start, sched.peak_end)
        with uplink_lock(self.state_dir, self.uplink) as free:
            if manual:
                decision = Decision(True) if free else Decision(False, "uplink_busy", None)
            else:
                decision = decide(
                    now, traffic_bps, free, ledger.bytes, cost, deferrals, self.limits, deadline_s
                )
            measurement = None
            if decision.run:
                left = None if manual else max(0, self.limits.budget_bytes - ledger.bytes)
                measurement = (method or self.method).measure(left)
                ledger = self.ledger.load(local_day(self.clock.now(), schedule_zone(sched)))
                if measurement.refused:
                    decision = busy_retry(
                        self.clock.now(),
                        measurement.retry_after_s,
                        deferrals,
                        self.limits,
                        deadline_s,
                    )
                else:
                    ledger = ledger.charged(measurement.bytes, peak and measurement.ok)
                    self.ledger.save(ledger, measurement.bytes if measurement.ok else None)
        return Outcome(decision, measurement, traffic_bps, peak, now, cost, ledger.bytes)


def capacity_data(outcome: Outcome, trigger: Trigger) -> dict[str, Any]:
    assert outcome.measurement is not None
    return outcome.measurement.data(outcome.traffic_bps, outcome.in_peak, trigger)


def deferral_message(outcome: Outcome, limits: Limits) -> str:
    d = outcome.decision
    what = {
        "user_traffic": f"user traffic {_mbps(outcome.traffic_bps)} above"
        f" {_mbps(limits.defer_above_bps)}",
        "no_traffic_reading": "no recent reading of the WAN traffic",
        "uplink_busy": "another test is running on this uplink",
        "budget": f"daily budget: {outcome.spent_bytes / 1e6:.0f} MB spent, the test would take"
        f" about {outcome.cost_bytes / 1e6:.0f} MB of {limits.budget_bytes / 1e6:.0f} MB",
        "server_busy": "the test server runs its maximum of tests (503)",
    }[d.reason or "uplink_busy"]
    then = "given up" if d.retry_at is None else f"retry in {retry_in_s(outcome, limits):.0f}s"
    return f"capacity test deferred: {what}; {then}"


def retry_in_s(outcome: Outcome, limits: Limits) -> float:
    """How long a deferred test waits: what the server asked after a 503, else retry_s."""
    m = outcome.measurement
    if outcome.decision.reason == "server_busy" and m is not None:
        return max(1.0, m.retry_after_s or limits.retry_s)
    return limits.retry_s


def retest_method(point: str, cfg: CapacityConfig, source: object) -> Method | None:
    """The point's method aimed at the second test server, when one is configured."""
    server = cfg.retest.server
    if server is None:
        return None
    method = cfg.method
    if method.kind == "http":
        method = method.model_copy(update={"url": server})
    elif method.kind == "iperf3":
        method = method.model_copy(update={"host": server, "load_url": None})
    else:  # the RouterOS methods
        method = method.model_copy(update={"server": server})
    return build_method(point, cfg.model_copy(update={"method": method}), source)


def _mbps(bps: float | None) -> str:
    return "unknown" if bps is None else f"{bps / 1e6:.1f} Mbps"


class CapacityWorker:
    """The capacity tests and ping bursts of one point."""

    def __init__(
        self,
        point: PointSettings,
        state_dir: Path,
        link: PointLink,
        clock: Clock,
        rng: random.Random | None = None,
    ) -> None:
        self.point = point.id
        self.link = link
        self.clock = clock
        self.rng = rng or random.Random()
        self.log = PointLogger(log, point.id)
        self.tests_run = 0
        self.deferrals = 0
        self.retests_run = 0
        self.tester: Tester | None = None
        self.planner: Planner | None = None
        self.second: Method | None = None  # the retest's server, when another one
        cfg: CapacityConfig | None = point.capacity
        if cfg is not None:
            method = build_method(point.id, cfg, point.source)
            self.tester = Tester(point.id, cfg, method, state_dir, clock)
            self.second = retest_method(point.id, cfg, point.source)
            check_peak_room(point.id, cfg, method)
        self.bursts: BurstConfig | None = point.bursts
        self._burst: Callable[[], Reachability] | None = None
        if self.bursts is not None:
            self._burst = burst_runner(point, self.bursts)
        self._next_burst = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"capacity-{point.id}", daemon=True)

    def start(self) -> None:
        now = self.clock.now()
        if self.tester is not None:
            sched = self.tester.cfg.schedule
            plan = Plan(
                mean_s=sched.mean_interval_h * 3600,
                min_s=sched.min_interval_h * 3600,
                max_s=sched.max_interval_h * 3600,
                first_after_s=sched.first_after_s,
                zone=schedule_zone(sched),
                peak_start=sched.peak_start,
                peak_end=sched.peak_end,
                peak_per_day=sched.peak_tests_per_day,
                test_s=self.tester.method.seconds,
            )
            self.planner = Planner(plan, self.rng, now)
        if self.bursts is not None:
            self._next_burst = now + self.rng.uniform(0, min(self.bursts.every_s, 60.0))
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout_s: float) -> None:
        self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            wakes = []
            if self.planner is not None:
                wakes.append(self.planner.next().due_s)
            if self._burst is not None:
                wakes.append(self._next_burst)
            if not wakes or not self.clock.sleep_until(min(wakes), self._stop):
                return
            try:
                self.run_due(self.clock.now())
            except ConfigError as exc:  # e.g. a password variable unset: say so, stop testing
                self.log.error("capacity tests stopped: %s", exc)
                return
            except Exception:  # a bug here must not stop the point's sampling
                self.log.exception("capacity worker failed")
                self._stop.wait(60)

    def run_due(self, now: float) -> None:
        """Run the burst and the test that are due at `now`."""
        if self._burst is not None and now >= self._next_burst:
            assert self.bursts is not None
            self.link.offer_burst(self._burst())
            self._next_burst = self.clock.now() + self.bursts.every_s
        if self.planner is not None and now >= self.planner.next().due_s:
            self.attempt(self.planner.next())

    def attempt(self, pending: Pending) -> Outcome | None:
        assert self.tester is not None and self.planner is not None
        tester, planner = self.tester, self.planner
        now = self.clock.now()
        today = tester.ledger.load(local_day(now, schedule_zone(tester.cfg.schedule)))
        if planner.peak_covered(pending, today.peak_tests):
            planner.done(pending, now, today.peak_tests)
            return None
        retest = pending.trigger == "retest"
        method = self.second if retest and self.second is not None else None
        outcome = tester.attempt(
            self.link.wan_traffic_bps(), pending.deferrals, pending.deadline_s, method=method
        )
        ts_ms = int(outcome.started_s * 1000)
        if outcome.measurement is not None and not outcome.measurement.refused:
            m = outcome.measurement
            self.tests_run += 1
            self.retests_run += int(retest)
            self.log.info("capacity test (%s): %s", pending.trigger, m.summary())
            message = "; ".join(m.errors)[:400] if m.errors else None
            data = capacity_data(outcome, pending.trigger) | self._retest_data(pending, m, ts_ms)
            self.link.record_event("capacity", ts_ms, message, data)
            ledger = tester.ledger.load(
                local_day(self.clock.now(), schedule_zone(tester.cfg.schedule))
            )
            planner.done(pending, self.clock.now(), ledger.peak_tests)
            return outcome
        decision = outcome.decision
        self.deferrals += 1
        message = deferral_message(outcome, tester.limits)
        self.log.info("%s", message)
        self.link.record_event(
            "test_deferred",
            ts_ms,
            message,
            {
                "reason": decision.reason,
                "trigger": pending.trigger,
                "attempt": pending.deferrals + 1,
                "user_traffic_bps": None  # a float, as in a result (shared/contract.py)
                if outcome.traffic_bps is None
                else float(round(outcome.traffic_bps)),
                "threshold_bps": tester.limits.defer_above_bps,
                "retry_in_s": None
                if decision.retry_at is None
                else retry_in_s(outcome, tester.limits),
                "gave_up": decision.retry_at is None,
                "in_peak": outcome.in_peak,
                "spent_bytes": outcome.spent_bytes,
                "cost_bytes": outcome.cost_bytes,
            }
            | ({"retest_of_ms": pending.retest_of_ms} if retest else {}),
        )
        if decision.retry_at is None:
            planner.done(pending, now, today.peak_tests, gave_up=True)
        else:
            planner.deferred(pending, decision.retry_at)
        return outcome

    def _retest_data(self, pending: Pending, m: Measurement, ts_ms: int) -> dict[str, Any]:
        """The result's judgement; a first result that needs it is marked awaiting and its
        retest planned, a retest says what it found of the result it checks."""
        assert self.tester is not None and self.planner is not None
        cfg = self.tester.cfg
        if not cfg.retest.enabled or not m.ok:
            return {}
        judged = judge(m, cfg.retest, committed_mbps(cfg))
        data = judged.data()
        if pending.trigger == "retest":
            data |= {"retest_of_ms": pending.retest_of_ms, "retest_outcome": judged.verdict}
            self.log.info("retest of the result of %s: %s", pending.retest_of_ms, judged.verdict)
        elif judged.needs_retest:
            data |= {"retest": AWAITING, "retest_reason": judged.reasons}
            delay = 0.0 if self.second is not None else cfg.retest.delay_s
            self.planner.retest(ts_ms, self.clock.now() + delay)
            self.log.info("result to be retested (%s) in %.0fs", judged.reasons, delay)
        return data


def check_peak_room(point: str, cfg: CapacityConfig, method: Method) -> None:
    import datetime as dt

    sched = cfg.schedule
    day = dt.date(2024, 1, 1)
    opens = dt.datetime.combine(day, sched.peak_start)
    closes = dt.datetime.combine(
        day if sched.peak_end > sched.peak_start else day + dt.timedelta(days=1), sched.peak_end
    )
    if sched.peak_tests_per_day and (closes - opens).total_seconds() < method.seconds:
        raise ConfigError(
            f"point {point}: field 'capacity.schedule' peak window is shorter than one test"
            f" ({method.seconds:.0f}s)"
        )


def burst_runner(point: PointSettings, cfg: BurstConfig) -> Callable[[], Reachability]:
    source = point.source
    via = cfg.via
    if via == "auto":
        via = "router" if is_routeros(source) else "agent"
    if via == "agent":
        return lambda: agent_burst(cfg)
    if not is_routeros(source):
        raise ConfigError(f"point {point.id}: field 'bursts.via' router needs a routeros source")
    # Imported only for a router: the RouterOS API client (and asyncio under it) is no small
    # part of an agent that tests only Linux points.
    from pantau.agent.capacity.bursts import router_burst
    from pantau.agent.capacity.routeros import RouterSession

    session = RouterSession(cast("RouterOSSourceConfig", source))

    def run() -> Reachability:
        try:
            return router_burst(cfg, session)
        except Exception as exc:  # the router is away: no burst, the sample stays as it is
            log.debug("[%s] burst failed: %s", point.id, exc)
            return Reachability()

    return run


class CapacityWorkers:
    """The workers of every point that has a `capacity` or `bursts` section."""

    def __init__(self, workers: Sequence[CapacityWorker]) -> None:
        self.workers = list(workers)

    def start(self) -> None:
        for worker in self.workers:
            worker.start()

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        for worker in self.workers:
            worker.join(5.0)
