"""Packed days against a real influxd: the report reads `sla_daily` where it still matches
`sla_hourly` and the hours themselves where not, and gets exactly what the hourly rows hold.
Every answer stays bounded."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from pantau.collector.admin.registry_cli import generate
from pantau.collector.influxdb.client import Influx
from pantau.collector.lab.services import Service
from pantau.collector.lines import SLA_DAILY, capacity_lines
from pantau.collector.report.cli import compute, render
from pantau.collector.report.compute import Filters
from pantau.collector.report.reader import InfluxSource
from pantau.collector.rollup import mark_lines, rollup_line
from pantau.collector.rollup_daily import refresh_days
from pantau.collector.sla.daily import PointHours, wib_day
from pantau.collector.sla.month import CONTEXT_MS
from pantau.collector.sla.periods import DAY_MS, HOUR_MS, month
from pantau.shared.registry import Registry, parse_registry
from pantau.shared.wire import Event
from tests.pipeline import influx
from tests.report_fixtures import MemorySource, synthetic_month
from tests.unit.sla.helpers import wib

OCT = month("2026-10")
START, END = OCT.start_ms - CONTEXT_MS, OCT.end_ms + CONTEXT_MS
NOW = wib(2026, 11, 15, 12, 0)
KELURAHAN = [
    {"kecamatan": "Jombang", "kelurahan": "Masigit", "kelurahan_code": "36.72.05.1003"},
    {"kecamatan": "Citangkil", "kelurahan": "Citangkil", "kelurahan_code": "36.72.08.1007"},
]
CHANGED = wib(2026, 10, 12, 9, 0)  # an hour of citangkil-02 rolled up again after packing


class Recorder:
    """The real client, keeping every query and the longest series any answer held."""

    def __init__(self, db: Influx) -> None:
        self.db = db
        self.queries: list[str] = []
        self.longest = 0

    def query_raw(self, influxql: str, database: str | None = None) -> list[dict[str, Any]]:
        self.queries.append(influxql)
        answer = self.db.query_raw(influxql, database)
        for result in answer:
            for series in result.get("series", []):
                self.longest = max(self.longest, len(series["values"]))
        return answer

    def write(self, lines: list[str]) -> None:
        self.db.write(lines)


def registry() -> Registry:
    return parse_registry(generate(KELURAHAN, 3, "Awinet"), "test")


def store_hourly(db: Influx, memory: MemorySource, reg: Registry, marks: bool = True) -> None:
    """As a collector would have: each hour marked when its raw data came, rolled up later."""
    tags = {p.id: p.tags() for p in reg.points}
    lines = []
    if marks:
        for point, rows in memory._rollups.items():
            for hour in rows:
                lines += mark_lines([(point, hour)], tags.__getitem__, hour + 1_800_000)
        db.write(lines)
    rolled = (lambda hour: hour + 3_660_000) if marks else (lambda hour: None)
    db.write(
        [
            rollup_line(row, tags[point], rolled(row.hour_ms))
            for point, rows in memory._rollups.items()
            for row in rows.values()
        ]
    )
    lines = []
    for point, tests in memory._tests.items():
        by_ts: dict[int, dict[str, float]] = {}
        for test in tests:
            by_ts.setdefault(test.ts_ms, {})[f"{test.direction}_mbps"] = test.mbps
        for ts, data in by_ts.items():
            event = Event(point=point, ts_ms=ts, kind="capacity", data={"method": "t"} | data)
            lines += capacity_lines(event, reg.by_id()[point])
    db.write(lines)


def assert_same(a: PointHours, b: PointHours) -> None:
    assert (a.start_ms, a.evidence, a.states) == (b.start_ms, b.evidence, b.states)
    for group in ("ints", "floats", "slots"):
        for name, column in getattr(a, group).items():
            np.testing.assert_array_equal(column, getattr(b, group)[name], err_msg=name)


@pytest.fixture(scope="module")
def loaded(influxd: Service) -> tuple[Influx, Registry, MemorySource]:
    db = influx(influxd.url, "report_daily")
    db.ensure_database()
    reg = registry()
    memory = synthetic_month(reg, OCT)
    store_hourly(db, memory, reg)
    days = {(p, h) for p, rows in memory._rollups.items() for h in rows}
    assert refresh_days(db, days, lambda p: reg.by_id()[p].tags()) == 6 * 33
    return db, reg, memory


def test_packed_days_give_exactly_the_hourly_rows(loaded: Any) -> None:
    db, reg, memory = loaded
    recorder = Recorder(db)
    ids = [p.id for p in reg.points]
    found = InfluxSource(recorder).hours(ids, START, END)  # type: ignore[arg-type]
    # the marks of the memory source: the same (marked, rolled) pair on every hour
    marks = {
        p: {h: (h + 1_800_000, h + 3_660_000) for h in rows} for p, rows in memory._rollups.items()
    }
    expected = MemorySource(memory._rollups, memory._tests, marks).hours(ids, START, END)
    for point in ids:
        assert_same(found[point], expected[point])
    reads = [q.split(" FROM ")[1].split(" ")[0] for q in recorder.queries]
    assert reads == ['"sla_daily"', '"sla_hourly"']  # the packed rows, one aggregate
    assert 'GROUP BY "point"' in recorder.queries[1] and "sum(" in recorder.queries[1]
    assert recorder.longest == 33  # a point's days


def test_figures_from_influxd_equal_figures_from_memory(loaded: Any) -> None:
    db, reg, memory = loaded
    from_db = compute(reg, InfluxSource(db), "2026-10", Filters(), NOW)
    from_memory = compute(reg, memory, "2026-10", Filters(), NOW)
    assert from_db.final
    assert json.loads(render(from_db, "json", "en")) == json.loads(
        render(from_memory, "json", "en")
    )


def test_hours_rolled_or_marked_after_packing_are_read_from_the_hourly_rows(
    influxd: Service,
) -> None:
    db = influx(influxd.url, "report_daily_changed")
    db.ensure_database()
    reg = registry()
    memory = synthetic_month(reg, OCT)
    late = wib(2026, 11, 1, 0, 0)  # masigit-01 is silent in the first hour after the month
    del memory._rollups["masigit-01"][late]
    store_hourly(db, memory, reg)
    refresh_days(db, {(p, h) for p, rows in memory._rollups.items() for h in rows})
    tags_for = {p.id: p.tags() for p in reg.points}.__getitem__
    # after packing: an hour of citangkil-02 rolled up again with other minutes, no refresh ...
    again = replace(memory._rollups["citangkil-02"][CHANGED], states="D" * 30 + "U" * 30)
    db.write([rollup_line(again, tags_for("citangkil-02"), NOW)])
    # ... and masigit-01's silent hour gets raw data, marked, not rolled up yet
    db.write(mark_lines([("masigit-01", late)], tags_for, NOW))

    recorder = Recorder(db)
    ids = [p.id for p in reg.points]
    found = InfluxSource(recorder).hours(ids, START, END)  # type: ignore[arg-type]
    rows = {p: dict(r) for p, r in memory._rollups.items()}
    rows["citangkil-02"][CHANGED] = again
    marks = {p: {h: (h + 1_800_000, h + 3_660_000) for h in r} for p, r in memory._rollups.items()}
    marks["citangkil-02"][CHANGED] = (CHANGED + 1_800_000, NOW)
    marks["masigit-01"][late] = (NOW, 0)
    changed = MemorySource(rows, memory._tests, marks)
    expected = changed.hours(ids, START, END)
    for point in ids:
        assert_same(found[point], expected[point])
    assert found["masigit-01"].evidence[(late - START) // HOUR_MS] == "m"
    assert found["citangkil-02"].states[(CHANGED - START) // 60_000 :][:60] == again.states
    hourly_reads = [q for q in recorder.queries if '"sla_hourly"' in q and "sum(" not in q]
    assert len(hourly_reads) == 1 and "citangkil-02|masigit-01" in hourly_reads[0]
    assert recorder.longest == 21 * 24  # both points' hours from 12 October to 1 November
    # the report sees the new minutes and the missing rollup, as it would from memory
    from_db = compute(reg, InfluxSource(db), "2026-10", Filters(), NOW)
    points = {d.figures.id: d.figures for d in from_db.points}
    assert points["masigit-01"].to_be_decided_reason == "rollup_missing"
    assert points["citangkil-02"].to_be_decided_reason is None
    from_memory = compute(reg, changed, "2026-10", Filters(), NOW)
    assert render(from_db, "json", "en") == render(from_memory, "json", "en")


def test_rows_from_before_marks_and_packing_are_read_as_they_are(influxd: Service) -> None:
    db = influx(influxd.url, "report_daily_legacy")
    db.ensure_database()
    reg = registry()
    memory = synthetic_month(reg, OCT)
    store_hourly(db, memory, reg, marks=False)  # no marks, no rolled_ms, no sla_daily
    recorder = Recorder(db)
    ids = [p.id for p in reg.points]
    found = InfluxSource(recorder).hours(ids, START, END)  # type: ignore[arg-type]
    expected = memory.hours(ids, START, END)
    for point in ids:
        assert_same(found[point], expected[point])
    assert recorder.longest == 33 * 24  # a point's hours: 792 rows, far under 10 000
    from_db = compute(reg, InfluxSource(db), "2026-10", Filters(), NOW)
    from_memory = compute(reg, memory, "2026-10", Filters(), NOW)
    assert render(from_db, "json", "en") == render(from_memory, "json", "en")


def test_refresh_days_packs_each_named_day_once_with_the_registry_tags(influxd: Service) -> None:
    db = influx(influxd.url, "report_daily_refresh")
    db.ensure_database()
    reg = registry()
    memory = synthetic_month(reg, OCT)
    store_hourly(db, memory, reg)
    day = wib(2026, 10, 5, 0, 0)
    pairs = [("masigit-02", day + 5 * HOUR_MS), ("masigit-02", day + 23 * HOUR_MS)]
    pairs += [("citangkil-01", day + DAY_MS - 1), ("citangkil-01", day - 1)]  # two days
    pairs += [("citangkil-03", wib(2026, 12, 5, 0, 0))]  # a day without any hourly row
    assert refresh_days(db, pairs) == 3
    rows = db.query(f'SELECT "hours", "v" FROM "{SLA_DAILY}" GROUP BY *')
    got = sorted(
        (r["point"], r["kelurahan"], r["kecamatan"], r["provider"], r["time"]) for r in rows
    )
    assert got == [
        ("citangkil-01", "Citangkil", "Citangkil", "Awinet", day - DAY_MS),
        ("citangkil-01", "Citangkil", "Citangkil", "Awinet", day),
        ("masigit-02", "Masigit", "Jombang", "Awinet", day),
    ]
    assert {r["hours"] for r in rows} == {"r" * 24}
    assert wib_day(day + 5 * HOUR_MS) == day
