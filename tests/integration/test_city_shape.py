"""The SLA at the city's real operating point: 430 points sampled every 10 s.

Real 10-s timestamps (never a stretched interval), replayed fast through the agent's sampler,
spool and MQTT publisher, a real mosquitto, a real `pantau collector` process and a real
influxd. Every (point, UTC hour) must get its `sla_hourly` row while the collector runs, holding
exactly that hour's raw samples, and the month report must count exactly the minutes sampled.
Every read here is bounded: counts grouped by point and hour, never one answer of 10,000 rows.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from pantau.collector.lab.demo import replay
from pantau.collector.lab.demo.replay import ReplayPoint, Segment
from pantau.collector.lab.services import Service
from pantau.collector.report.cli import compute
from pantau.collector.report.compute import Filters, MonthReport
from pantau.collector.report.reader import InfluxSource
from pantau.collector.sla.periods import month
from pantau.shared.registry import load_registry
from tests.city import (
    LIMITS,
    MONTH,
    REGISTRY,
    add_window,
    city_points,
    expected_minutes,
    expected_pairs,
    span_ms,
    utc,
    wait_rollups,
    wait_stored,
    wait_until,
)
from tests.pipeline import Proc, collector_config, count_rows, influx, start_collector

H0 = utc(2026, 10, 15, 3)  # 10:00 WIB: a working morning in the middle of the month
MIN = 60


def agent_mqtt(broker: Service) -> dict[str, object]:
    return {"host": "127.0.0.1", "port": broker.port, "reconnect_min_s": 0.2, "reconnect_max_s": 2}


def run_collector(
    tmp_path: Path, broker: Service, influxd: Service, database: str, name: str, **extra: object
) -> Proc:
    config = collector_config(
        tmp_path / "collector.yaml",
        broker.port,
        influxd.url,
        database,
        REGISTRY,
        limits=LIMITS,
        metrics={"port": 0},
        **extra,
    )
    return start_collector(config, tmp_path / f"{name}.log")


def assert_report(
    report: MonthReport, points: list[ReplayPoint], segment: Segment, samples: int
) -> Counter[str]:
    """Every point's minutes, exactly: what its samples say, and no sample in the rest of the
    month. Returns the letters summed over all points."""
    minutes = month(MONTH).minutes
    figures = {d.figures.id: d.figures for d in report.points}
    sampled = {p for p, _ in points}
    total: Counter[str] = Counter()
    for point, source in points:
        want = expected_minutes(source, [segment])
        total += want
        f = figures[point]
        got = (f.minutes_up, f.minutes_provider_down, f.minutes_device_unreachable)
        assert got == (want["U"], want["D"], want["X"]), point
        assert f.minutes_wan_unknown == 0, point
        assert f.minutes_no_sample == minutes - sum(want.values()), point
        assert f.samples_received == samples, point
    for point, f in figures.items():  # the registry's other points sent nothing
        if point not in sampled:
            assert (f.minutes_no_sample, f.samples_received) == (minutes, 0), point
    return total


@pytest.mark.timeout(1200)
def test_430_points_at_10_s_get_every_rollup_live(
    tmp_path: Path, mosquitto: Service, influxd: Service, database: str
) -> None:
    registry = load_registry(REGISTRY)
    points = city_points(registry)
    assert len(points) == 430
    segment = Segment(H0, 2 * 360, 10.0)  # two whole UTC hours, 720 samples per point
    # Beside the scenario's own: a provider outage starting and ending mid-minute (the two
    # edge minutes are 3 up / 3 down, a tie, so up), a router unreachable for a quarter
    # hour, and a short interruption (2 minutes down, then a minute that is mostly up).
    add_window(points, 0, "wan_down", H0 + 20 * MIN + 30, H0 + 31 * MIN + 30)
    add_window(points, 1, "device_down", H0 + 65 * MIN, H0 + 80 * MIN)
    add_window(points, 2, "wan_down", H0 + 110 * MIN, H0 + 112 * MIN + 15)
    total = len(points) * segment.ticks
    assert total == 309_600

    collector = run_collector(
        tmp_path, mosquitto, influxd, database, "collector", rollup={"every_s": 10}
    )
    db = influx(influxd.url, database)
    run = replay.start(tmp_path, agent_mqtt(mosquitto), points, [segment], workers=2)
    try:
        wait_stored(db, run, total, 900, [collector])
        expected = expected_pairs(points, segment)
        assert len(expected) == 860 and set(expected.values()) == {360}
        lo, hi = span_ms(segment)
        # live: the collector keeps running; its rollups must catch up on their own
        wait_rollups(db, expected, (lo, hi), 300, [collector])
        assert count_rows(db, "telemetry") == total  # nothing doubled
        raw = replay.raw_per_hour(db, sorted(p for p, _ in points), lo, hi)
        assert raw == expected
        rolled = replay.rollups_per_hour(db, sorted(p for p, _ in points), lo, hi)
        assert rolled == expected  # and no rollup row for an hour without samples
    finally:
        run.stop()
        collector.stop()

    report = compute(registry, InfluxSource(db), MONTH, Filters())
    assert len(report.points) == 430
    letters = assert_report(report, points, segment, 720)
    assert letters["D"] >= 10 and letters["X"] >= 15  # the test's own windows are in there
    assert sum(letters.values()) == 430 * 120
    assert report.total.minutes_up == letters["U"]
    assert report.total.minutes_provider_down == letters["D"]
    assert report.total.samples_received == total


@pytest.mark.timeout(600)
def test_three_points_at_1_s(
    tmp_path: Path, mosquitto: Service, influxd: Service, database: str
) -> None:
    """7,200 samples per point: one point-hour alone is 3,600 raw rows."""
    registry = load_registry(REGISTRY)
    points = city_points(registry, limit=3)
    segment = Segment(H0, 2 * 3600, 1.0)
    # minute 10: 30 samples up, 30 down (a tie: up); 11-19 down; minute 20: 31 down, 29 up
    add_window(points, 1, "wan_down", H0 + 10 * MIN + 30, H0 + 20 * MIN + 31)
    assert expected_minutes(points[1][1], [segment])["D"] == 10
    total = 3 * segment.ticks
    assert total == 21_600

    collector = run_collector(
        tmp_path, mosquitto, influxd, database, "collector", rollup={"every_s": 5}
    )
    db = influx(influxd.url, database)
    run = replay.start(tmp_path, agent_mqtt(mosquitto), points, [segment], workers=1)
    try:
        wait_stored(db, run, total, 300, [collector])
        expected = expected_pairs(points, segment)
        assert set(expected.values()) == {3600} and len(expected) == 6
        lo, hi = span_ms(segment)
        wait_rollups(db, expected, (lo, hi), 180, [collector])
        assert count_rows(db, "telemetry") == total
        assert replay.raw_per_hour(db, [p for p, _ in points], lo, hi) == expected
        assert replay.rollups_per_hour(db, [p for p, _ in points], lo, hi) == expected
    finally:
        run.stop()
        collector.stop()

    report = compute(registry, InfluxSource(db), MONTH, Filters())
    letters = assert_report(report, points, segment, 7200)
    assert letters == Counter({"U": 3 * 120 - 10, "D": 10})


@pytest.mark.timeout(900)
def test_rollup_backlog_survives_sigkill(
    tmp_path: Path, mosquitto: Service, influxd: Service, database: str
) -> None:
    """The whole city for a day at 10-minute samples: 10,320 point-hours of rollup work, more
    than one round of it. The collector is SIGKILLed with all of it waiting, restarted, and
    SIGKILLed again in the middle of working it off; the third run must finish it exactly."""
    registry = load_registry(REGISTRY)
    points = city_points(registry)
    segment = Segment(utc(2026, 10, 20, 0), 24 * 6, 600.0)
    total = len(points) * segment.ticks
    expected = expected_pairs(points, segment)
    assert len(expected) == 10_320 and set(expected.values()) == {6}
    lo, hi = span_ms(segment)
    ids = sorted(p for p, _ in points)

    def rolled_up() -> int:
        return len(replay.rollups_per_hour(db, ids, lo, hi))

    # One collector process (workers: 1): it is SIGKILLed while its own durable queue is part
    # worked off; two workers split that work and can finish it between two looks.
    # 1. rollups not due for an hour: every (point, hour) is stored and waits for its rollup
    first = run_collector(
        tmp_path, mosquitto, influxd, database, "collector-1", rollup={"every_s": 3600}, workers=1
    )
    db = influx(influxd.url, database)
    run = replay.start(tmp_path, agent_mqtt(mosquitto), points, [segment], workers=2)
    try:
        wait_stored(db, run, total, 600, [first])
        assert rolled_up() == 0  # the whole backlog is still to do
    finally:
        run.stop()
        first.kill()

    # 2. restarted, it takes up the backlog from its disk; killed once part of it is done
    second = run_collector(
        tmp_path, mosquitto, influxd, database, "collector-2", rollup={"every_s": 3600}, workers=1
    )
    try:
        done = wait_until(
            rolled_up,
            300,
            "the first rollups after the restart (was the waiting work lost with the SIGKILL?)",
            [second],
            0.05,
        )
    finally:
        second.kill()
    assert 0 < done < len(expected), f"killed with {done} of {len(expected)} rollups done"

    # 3. the rest is done by the next run, exactly once per (point, hour)
    third = run_collector(
        tmp_path, mosquitto, influxd, database, "collector-3", rollup={"every_s": 3600}, workers=1
    )
    try:
        wait_rollups(db, expected, (lo, hi), 300, [third])
    finally:
        third.stop()
    assert replay.rollups_per_hour(db, ids, lo, hi) == expected
    assert count_rows(db, "telemetry") == total
