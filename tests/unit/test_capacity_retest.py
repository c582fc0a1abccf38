"""Which results the agent checks again, what a retest says of the first, and how a refused
test (503) waits: pure rules, exact outcomes."""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo

import pytest

from pantau.agent.capacity.config import CapacityConfig, RetestConfig
from pantau.agent.capacity.result import Measurement
from pantau.agent.capacity.retest import judge
from pantau.agent.capacity.schedule import Limits, Pending, Plan, Planner, busy_retry
from pantau.shared.config import validate
from pantau.shared.errors import ConfigError

CFG = RetestConfig(below_pct=80, server_cpu_pct=80, server_tests=3)


def result(
    down: float | None, cpu: float | None = None, tests: int | None = None, busy: bool = False
) -> Measurement:
    m = Measurement("http", "s:8080", 4, 10.0, down_mbps=down, up_mbps=10.0)
    if cpu is not None:
        m.note_load(tests or 1, 8, cpu)
    m.server_busy = busy
    return m


@pytest.mark.parametrize(
    ("down", "cpu", "tests", "busy", "needs", "reasons", "verdict"),
    [
        (40.0, None, None, False, False, "", "superseded"),  # 80 % of 50 exactly: not low
        (39.999, None, None, False, True, "low", "confirmed"),
        (39.0, 79.9, 2, False, True, "low", "confirmed"),
        (39.0, 80.0, 1, False, True, "low,server_loaded", "inconclusive"),
        (39.0, 10.0, 3, False, True, "low,server_loaded", "inconclusive"),
        (45.0, 95.0, 1, False, True, "server_loaded", "superseded"),
        (39.0, None, None, True, True, "low,server_busy", "inconclusive"),
        (45.0, None, None, True, True, "server_busy", "superseded"),
        (None, None, None, False, False, "", "superseded"),  # no download measured
    ],
)
def test_which_results_are_retested_and_what_a_retest_says(
    down: float | None,
    cpu: float | None,
    tests: int | None,
    busy: bool,
    needs: bool,
    reasons: str,
    verdict: str,
) -> None:
    judged = judge(result(down, cpu, tests, busy), CFG, committed_mbps=50.0)
    assert (judged.needs_retest, judged.reasons, judged.verdict) == (needs, reasons, verdict)
    assert judged.below_mbps == 40.0


def test_cpu_not_considered_when_its_threshold_is_null() -> None:
    cfg = RetestConfig(server_cpu_pct=None)
    assert not judge(result(45.0, 100.0, 5), cfg, 50.0).loaded


def test_committed_speed_defaults_to_expected_and_the_second_server_is_checked() -> None:
    method = {"kind": "http", "url": "http://speed.noc:8080"}
    cfg = validate({"method": method, "expected_mbps": 20}, CapacityConfig, "capacity")
    assert cfg.committed_mbps == 20.0 and cfg.retest.enabled and cfg.retest.server is None
    cfg = validate(
        {"method": method, "retest": {"committed_mbps": 50, "server": "http://speed2.noc:8080"}},
        CapacityConfig,
        "capacity",
    )
    assert cfg.committed_mbps == 50.0
    with pytest.raises(ConfigError, match=r"retest\.server 'speed2\.noc' is not a base url"):
        validate({"method": method, "retest": {"server": "speed2.noc"}}, CapacityConfig, "c")
    with pytest.raises(ConfigError, match="below_pct"):
        validate({"method": method, "retest": {"below_pct": 0}}, CapacityConfig, "c")


LIMITS = Limits(defer_above_bps=5e6, retry_s=300, max_deferrals=2, budget_bytes=10**9)


@pytest.mark.parametrize(
    ("retry_after", "deferrals", "deadline", "retry_at"),
    [
        (30.0, 0, None, 1030.0),  # what the server asked
        (None, 0, None, 1300.0),  # no Retry-After: the point's retry_s
        (0.2, 0, None, 1001.0),  # at least a second
        (30.0, 2, None, None),  # the deferrals are used up: given up
        (30.0, 0, 1020.0, None),  # past a peak test's latest start: given up
    ],
)
def test_a_refused_test_waits_what_the_server_asked(
    retry_after: float | None, deferrals: int, deadline: float | None, retry_at: float | None
) -> None:
    decision = busy_retry(1000.0, retry_after, deferrals, LIMITS, deadline)
    assert (decision.run, decision.reason, decision.retry_at) == (False, "server_busy", retry_at)


def test_the_planner_runs_a_retest_when_due_and_forgets_it_once_done() -> None:
    plan = Plan(
        mean_s=6 * 3600,
        min_s=3600,
        max_s=12 * 3600,
        first_after_s=7200,
        zone=zoneinfo.ZoneInfo("Asia/Jakarta"),
        peak_start=dt.time(19),
        peak_end=dt.time(23),
        peak_per_day=0,
        test_s=24,
    )
    planner = Planner(plan, random.Random(1), 0.0)
    assert planner.next() == Pending("first", 7200.0)
    planner.retest(of_ms=5_000, due_s=900.0)
    retest = planner.next()
    assert retest == Pending("retest", 900.0, retest_of_ms=5_000)
    planner.deferred(retest, 1200.0)
    assert planner.next() == Pending("retest", 1200.0, deferrals=1, retest_of_ms=5_000)
    planner.done(planner.next(), 1230.0, 0)
    assert planner.retests == [] and planner.next() == Pending("first", 7200.0)
