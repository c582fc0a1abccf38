"""A synthetic month of rollups and capacity tests for any registry: for renderer tests and the
report benchmark (bench/report.py), where hand-computed figures are not the point.

Deterministic (seeded): a day curve of clients and traffic, a few outages, a few points dead for
days, and one kelurahan whose provider delivers about 20 Mbps at peak.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from pantau.collector.report.reader import Hours, Rollups, Tests
from pantau.collector.sla.capacity import CapacityTest
from pantau.collector.sla.daily import PointHours
from pantau.collector.sla.hourly import HourRollup, encode_slots
from pantau.collector.sla.month import CONTEXT_MS
from pantau.collector.sla.periods import HOUR_MS, MINUTE_MS, Period, hour_of_day_wib
from pantau.shared.registry import Registry

# share of the day's peak demand by WIB hour of day
DAY_CURVE = (
    0.10, 0.06, 0.04, 0.03, 0.04, 0.10, 0.20, 0.30, 0.35, 0.40, 0.45, 0.50,
    0.55, 0.55, 0.50, 0.55, 0.65, 0.75, 0.85, 0.95, 1.00, 0.95, 0.70, 0.35,
)  # fmt: skip
SLOW_KELURAHAN = "Masigit"
TESTS_PER_DAY_HOURS = (3, 10, 16, 20)  # WIB hours of the day's capacity tests


Marks = dict[str, dict[int, tuple[int | None, int | None]]]


class MemorySource:
    """The ReportSource interface over rows held in memory: rollups and capacity tests by
    point, and the (marked_ms, rolled_ms) pair of the `sla_hourly` rows that carry one (a mark
    without a rollup is a point-hour whose rollup is missing)."""

    def __init__(self, rollups: Rollups, tests: Tests, marks: Marks | None = None) -> None:
        self._rollups = rollups
        self._tests = tests
        self._marks = marks or {}

    def hours(self, points: Sequence[str], start_ms: int, end_ms: int) -> Hours:
        return {
            p: PointHours.from_rollups(
                self._rollups.get(p, {}), start_ms, end_ms, self._marks.get(p)
            )
            for p in points
        }

    def capacity(self, points: Sequence[str], start_ms: int, end_ms: int) -> Tests:
        return {
            p: [t for t in self._tests.get(p, []) if start_ms <= t.ts_ms < end_ms] for p in points
        }


def synthetic_month(registry: Registry, period: Period, seed: int = 7) -> MemorySource:
    rng = random.Random(seed)
    start, end = period.start_ms - CONTEXT_MS, period.end_ms + CONTEXT_MS
    hours = list(range(start, end, HOUR_MS))
    hod = [hour_of_day_wib(h) for h in hours]
    slots_by_hod = [
        encode_slots(round(30_000 * DAY_CURVE[h] * (0.9 + 0.02 * i)) for i in range(12))
        for h in range(24)
    ]
    tx_by_hod = [
        encode_slots(round(4_000 * DAY_CURVE[h] * (0.9 + 0.02 * i)) for i in range(12))
        for h in range(24)
    ]
    rollups: Rollups = {}
    tests: Tests = {}
    minutes = len(hours) * 60
    for n, point in enumerate(registry.points):
        states = bytearray(b"U" * minutes)
        for _ in range(rng.randint(0, 3)):  # outages and short interruptions
            at = rng.randrange(minutes - 600)
            length = rng.choice((2, 4, 7, 25, 90, 240))
            states[at : at + length] = b"D" * length
        if n % 97 == 5:  # dead for days: power or site fault
            at = rng.randrange(minutes // 2)
            states[at : at + 3 * 1440] = b"N" * (3 * 1440)
        if n % 61 == 3:  # the agent sees the router only sometimes
            at = rng.randrange(minutes - 120)
            states[at : at + 90] = b"X" * 90
        seq = 1_000
        rows: dict[int, HourRollup] = {}
        text = states.decode()
        for i, hour in enumerate(hours):
            letters = text[i * 60 : i * 60 + 60]
            samples = 60 - letters.count("N")
            rows[hour] = HourRollup(
                hour_ms=hour,
                states=letters,
                samples_n=samples,
                interval_s=60.0,
                seq_first=seq if samples else None,
                seq_last=seq + samples - 1 if samples else None,
                unsynced_n=1 if (n == 11 and hod[i] == 4) else 0,
                clients_max=round(40 * DAY_CURVE[hod[i]]) + 1 if samples else None,
                clients_sum=round(25 * DAY_CURVE[hod[i]] * samples),
                clients_n=samples,
                rtt_median_ms=18.0 + 30 * DAY_CURVE[hod[i]] if samples else None,
                loss_median_pct=0.0 if DAY_CURVE[hod[i]] < 0.9 else 0.5,
                jitter_median_ms=2.0 if samples else None,
                rx_kbps_5m=slots_by_hod[hod[i]],
                tx_kbps_5m=tx_by_hod[hod[i]],
            )
            seq += samples + (1 if n == 13 and i == 100 else 0)
        rollups[point.id] = rows
        slow = point.kelurahan == SLOW_KELURAHAN
        point_tests = []
        for day in range(period.days):
            for test_hour in TESTS_PER_DAY_HOURS:
                ts = period.start_ms + day * 86_400_000 + test_hour * HOUR_MS + 7 * MINUTE_MS
                peak = DAY_CURVE[test_hour] >= 0.85
                base = 22.0 if slow and peak else (38.0 if slow else 52.0)
                down = max(1.0, rng.gauss(base, 4.0) - (8.0 if peak and not slow else 0.0))
                point_tests.append(CapacityTest(ts, "down", round(down, 1), "synthetic"))
                point_tests.append(CapacityTest(ts, "up", round(rng.gauss(45, 3), 1), "synthetic"))
        tests[point.id] = point_tests
    return MemorySource(rollups, tests)
