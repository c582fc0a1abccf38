"""Hourly rollups against a real influxd: exact rows, late data recomputes, idempotent."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from pantau.collector.lab.services import Service, free_port
from pantau.collector.lab.services import influxd as influxd_service
from pantau.collector.lines import SLA_HOURLY, telemetry_lines
from pantau.collector.report.reader import InfluxSource
from pantau.collector.rollup import (
    ROWS_PER_READ,
    RollupStats,
    mark_lines,
    recompute,
    stale_hours,
    touched,
)
from pantau.collector.rollup_queue import RollupQueue
from pantau.collector.sla.hourly import RawSample, rollup_hour
from pantau.shared.registry import Point
from pantau.shared.wire import Sample, Telemetry
from tests.pipeline import influx, wait_for

POINT = Point(id="citangkil-01", kelurahan="Citangkil", kecamatan="Citangkil", provider="Awinet")
H0 = 1_790_848_800_000  # 2026-10-01 10:00 UTC (17:00 WIB)
MIN = 60_000


def registry_tags(point: str) -> dict[str, str]:
    return POINT.tags()


def sample(minute: int, seq: int, **kw: object) -> Sample:
    fields = {
        "wan_up": True,
        "rx_bps": 4e6,
        "clients_hotspot": 3,
        "rtt_ms": 20.0,
        "interval_s": 60,
    } | kw
    return Sample(
        ts_ms=H0 + minute * MIN + 1_000,
        seq=seq,
        boot="b1",
        device_up=True,
        **fields,  # type: ignore[arg-type]
    )


def store(db: object, samples: list[Sample]) -> None:
    db.write(telemetry_lines(Telemetry(point=POINT.id, samples=samples), POINT))  # type: ignore[attr-defined]


def test_rollups_exact_then_late_data_recomputes(
    tmp_path: Path, influxd: Service, database: str
) -> None:
    db = influx(influxd.url, database)
    db.ensure_database()
    # hour 0: minutes 0-29 up, 30-39 missing (arrive late), 40-59 with the WAN down
    first = [sample(m, m) for m in range(30)] + [sample(m, m, wan_up=False) for m in range(40, 60)]
    first += [sample(60 + m, 60 + m) for m in range(60)]  # hour 1, all up
    store(db, first)
    assert recompute(db, touched(POINT.id, first), registry_tags) == 2
    source = InfluxSource(db)
    rows = source.rollups([POINT.id], H0, H0 + 3 * 3_600_000)[POINT.id]
    assert sorted(rows) == [H0, H0 + 3_600_000]
    assert rows[H0].states == "U" * 30 + "N" * 10 + "D" * 20
    assert (rows[H0].samples_n, rows[H0].seq_gaps, rows[H0].seq_first, rows[H0].seq_last) == (
        50,
        10,
        0,
        59,
    )
    raw = [RawSample.from_row(s.model_dump()) for s in first if s.ts_ms < H0 + 3_600_000]
    assert rows[H0] == rollup_hour(raw, H0)  # every field survives the round trip
    assert rows[H0 + 3_600_000].states == "U" * 60

    late = [sample(m, m) for m in range(30, 40)]
    store(db, late)
    # the late hour and the one after it (a sample's interval may reach into it)
    assert recompute(db, touched(POINT.id, late), registry_tags) == 2
    again = source.rollups([POINT.id], H0, H0 + 3 * 3_600_000)[POINT.id]
    assert again[H0].states == "U" * 40 + "D" * 20
    assert (again[H0].samples_n, again[H0].seq_gaps) == (60, 0)
    assert again[H0 + 3_600_000] == rows[H0 + 3_600_000]
    stored = db.query(f'SELECT COUNT("samples_n") FROM "{SLA_HOURLY}"')
    assert stored[0]["count"] == 2  # recomputed in place, never a second row

    assert recompute(db, touched(POINT.id, first + late), registry_tags) == 2  # the same again
    assert source.rollups([POINT.id], H0, H0 + 3 * 3_600_000)[POINT.id] == again
    tags = db.query(f'SELECT "samples_n", "kelurahan", "provider" FROM "{SLA_HOURLY}"')
    assert {(r["kelurahan"], r["provider"]) for r in tags} == {("Citangkil", "Awinet")}


def test_a_long_interval_spills_into_the_next_hour(
    tmp_path: Path, influxd: Service, database: str
) -> None:
    db = influx(influxd.url, database)
    db.ensure_database()
    # one sample at 10:50 covering 15 minutes: 10 minutes of hour 0 and 5 of hour 1
    spill = [sample(50, 1, interval_s=900, wan_up=False)]
    store(db, spill)
    assert recompute(db, touched(POINT.id, spill)) == 2  # tags from the raw rows
    rows = InfluxSource(db).rollups([POINT.id], H0, H0 + 2 * 3_600_000)[POINT.id]
    assert rows[H0].states == "N" * 50 + "D" * 10
    assert rows[H0 + 3_600_000].states == "D" * 5 + "N" * 55
    assert (rows[H0].samples_n, rows[H0 + 3_600_000].samples_n) == (1, 0)


def city_samples(point_index: int, hours: int, interval_s: int) -> list[Sample]:
    """`hours` whole hours of samples every `interval_s`, real timestamps, WAN up."""
    step = interval_s * 1000
    return [
        Sample(
            ts_ms=H0 + i * step + point_index,  # points sample a few ms apart, as in the field
            seq=i,
            boot="b1",
            device_up=True,
            interval_s=interval_s,
            wan_up=True,
            rx_bps=1e6,
        )
        for i in range(hours * 3_600_000 // step)
    ]


def test_the_whole_city_at_10_s_gets_every_rollup(influxd: Service, database: str) -> None:
    """430 points x 2 hours at 10 s: 309,600 raw rows, far past the 10,000 rows at which
    InfluxDB 1.6 flags an answer partial."""
    db = influx(influxd.url, database)
    db.ensure_database()
    points = [
        Point(id=f"p{i:03d}", kelurahan=f"K{i // 10}", kecamatan="C", provider="Awinet")
        for i in range(430)
    ]
    pairs: set[tuple[str, int]] = set()
    lines: list[str] = []
    for index, point in enumerate(points):
        samples = city_samples(index, 2, 10)
        lines += telemetry_lines(Telemetry(point=point.id, samples=samples[:1]), point)
        for i in range(1, len(samples), 500):
            part = samples[i : i + 500]
            lines += telemetry_lines(Telemetry(point=point.id, samples=part), point)
        pairs |= touched(point.id, samples)
        if len(lines) >= 50_000:
            db.write(lines)
            lines = []
    db.write(lines)
    by_id = {p.id: p for p in points}
    stats = RollupStats()
    assert recompute(db, pairs, lambda pid: by_id[pid].tags(), stats) == 430 * 2
    assert 0 < stats.largest_read <= ROWS_PER_READ
    assert stats.rows_read == 430 * 720
    found = InfluxSource(db).rollups([p.id for p in points], H0, H0 + 3 * 3_600_000)
    assert sorted(found) == [p.id for p in points]
    for point in points:
        rows = found[point.id]
        assert sorted(rows) == [H0, H0 + 3_600_000], point.id
        for hour in rows.values():
            assert (hour.states, hour.samples_n, hour.seq_gaps) == ("U" * 60, 360, 0)
    assert stale_hours(db, [p.id for p in points], H0, H0 + 3 * 3_600_000) == set()
    # and the packed day the month report reads first: one per point (17:00-19:00 WIB, one day)
    daily = db.query('SELECT COUNT("packed_ms") FROM "sla_daily" GROUP BY "point"')
    assert len(daily) == 430 and {row["count"] for row in daily} == {1}


def test_one_second_samples_on_a_server_with_a_row_limit(tmp_path: Path, database: str) -> None:
    """A server that cuts every non-chunked answer at 1,000 rows still gives exact rollups."""
    server = influxd_service(tmp_path / "influxd", max_row_limit=1_000).start()
    try:
        db = influx(server.url, database)
        db.ensure_database()
        samples = city_samples(0, 3, 1)
        for i in range(0, len(samples), 1000):
            store(db, samples[i : i + 1000])
        assert recompute(db, touched(POINT.id, samples), registry_tags) == 3
        rows = InfluxSource(db).rollups([POINT.id], H0, H0 + 4 * 3_600_000)[POINT.id]
        assert sorted(rows) == [H0 + h * 3_600_000 for h in range(3)]
        for h, hour in enumerate(rows.values()):
            assert (hour.states, hour.samples_n, hour.seq_first, hour.seq_gaps) == (
                "U" * 60,
                3600,
                h * 3600,
                0,
            )
    finally:
        server.stop()


def test_marks_show_raw_data_the_rollup_does_not_reflect(influxd: Service, database: str) -> None:
    db = influx(influxd.url, database)
    db.ensure_database()
    first = [sample(m, m) for m in range(10)]
    store(db, first)
    db.write(mark_lines({(POINT.id, H0)}, registry_tags, 1_000))
    assert stale_hours(db, [POINT.id], H0, H0 + 3_600_000) == {(POINT.id, H0)}
    recompute(db, touched(POINT.id, first), registry_tags)
    assert stale_hours(db, [POINT.id], H0, H0 + 3_600_000) == set()
    late = [sample(m, m) for m in range(10, 20)]
    store(db, late)  # more raw data, marked after the rollup was computed
    db.write(mark_lines({(POINT.id, H0)}, registry_tags, int(time.time() * 1000) + 1))
    assert stale_hours(db, [POINT.id], H0, H0 + 3_600_000) == {(POINT.id, H0)}
    rows = InfluxSource(db).rollups([POINT.id], H0, H0 + 3_600_000)[POINT.id]
    assert rows[H0].samples_n == 10  # the stored rollup is still the old one ...
    recompute(db, touched(POINT.id, late), registry_tags)
    assert InfluxSource(db).rollups([POINT.id], H0, H0 + 3_600_000)[POINT.id][H0].samples_n == 20
    assert stale_hours(db, [POINT.id], H0, H0 + 3_600_000) == set()


def test_waiting_rollup_work_survives_a_restart(
    tmp_path: Path, influxd: Service, database: str
) -> None:
    db = influx(influxd.url, database)
    db.ensure_database()
    samples = [sample(m, m) for m in range(60)] + [sample(60 + m, 60 + m) for m in range(60)]
    store(db, samples)
    queue = RollupQueue(db, registry_tags, 3600, tmp_path / "rollups.sqlite")
    queue.mark(touched(POINT.id, samples))
    assert queue.pending == 2  # hours 0 and 1
    queue.poll()  # not due for an hour
    assert queue.pending == 2
    del queue  # as if killed: nothing computed, nothing said

    again = RollupQueue(db, registry_tags, 3600, tmp_path / "rollups.sqlite", max_pairs=1)
    assert again.pending == 2
    assert again.drain(60)
    assert again.pending == 0 and again.lag_s() == 0.0
    rows = InfluxSource(db).rollups([POINT.id], H0, H0 + 3 * 3_600_000)[POINT.id]
    assert {h: r.samples_n for h, r in rows.items()} == {H0: 60, H0 + 3_600_000: 60}
    again.close()


def test_falling_behind_and_catching_up_are_each_said_once(
    tmp_path: Path, influxd: Service, database: str, caplog: pytest.LogCaptureFixture
) -> None:
    db = influx(influxd.url, database)
    db.ensure_database()
    samples = [sample(m, m) for m in range(30)]
    store(db, samples)
    away = influx(f"http://127.0.0.1:{free_port()}", database)  # nothing listens there
    queue = RollupQueue(away, registry_tags, 0.01, tmp_path / "r.sqlite", behind_after_s=0.05)
    queue.mark(touched(POINT.id, samples))
    caplog.set_level(logging.INFO, logger="pantau.collector.rollup_queue")
    wait_for(lambda: queue.lag_s() > 0.05, 10, "the mark to age")
    for _ in range(5):  # five failing rounds: one line for the failure, one for the lag
        queue.poll(force=True)
    assert queue.errors == 5 and queue.pending == 1
    queue.influx = db
    queue.poll(force=True)
    queue.poll(force=True)
    assert queue.pending == 0
    said = [r.getMessage() for r in caplog.records]
    assert [m.split(":")[0] for m in said] == [
        "rollups failing (1 point-hour(s) kept, retrying)",
        "rollups falling behind",
        "rollups working again",
        "rollups caught up",
    ], said
    assert InfluxSource(db).rollups([POINT.id], H0, H0 + 3_600_000)[POINT.id][H0].samples_n == 30
    queue.close()


class StaleWriter:
    """Worker A's view of InfluxDB: it has read the hour, and before its rollup lands worker B
    stores more of the hour and writes its own (complete) rollup, so A's stale one lands last."""

    def __init__(self, db: object, meanwhile: object) -> None:
        self.db, self.meanwhile, self.rollups_written = db, meanwhile, 0

    def query_raw(self, influxql: str, database: str | None = None) -> list[dict[str, object]]:
        return self.db.query_raw(influxql, database)  # type: ignore[attr-defined, no-any-return]

    def write(self, lines: list[str]) -> None:
        if self.rollups_written == 0 and lines[0].startswith(SLA_HOURLY):
            self.meanwhile()  # type: ignore[operator]
        self.rollups_written += lines[0].startswith(SLA_HOURLY)
        self.db.write(lines)  # type: ignore[attr-defined]


def test_a_rollup_overwritten_by_an_older_one_is_recomputed(
    tmp_path: Path, influxd: Service, database: str
) -> None:
    """Two workers share a point's messages: each recomputes the hours its own writes touched,
    and the last rollup written wins, even one read before the other worker's rows landed."""
    db = influx(influxd.url, database)
    db.ensure_database()
    first = [sample(m, m) for m in range(0, 30)]
    later = [sample(m, m) for m in range(30, 60)]
    store(db, first)

    def worker_b() -> None:
        store(db, later)
        recompute(db, touched(POINT.id, later), registry_tags)

    queue = RollupQueue(StaleWriter(db, worker_b), registry_tags, 3600, tmp_path / "a.sqlite")  # type: ignore[arg-type]
    queue.mark(touched(POINT.id, first))
    queue.poll(force=True)
    rows = InfluxSource(db).rollups([POINT.id], H0, H0 + 3_600_000)[POINT.id]
    assert rows[H0].samples_n == 30  # worker A's rollup, read before B's rows, landed last ...
    assert queue.pending == 1  # ... and A saw the hour's rows grow after its read: again
    queue.poll(force=True)
    rows = InfluxSource(db).rollups([POINT.id], H0, H0 + 3_600_000)[POINT.id]
    assert (rows[H0].samples_n, rows[H0].states) == (60, "U" * 60)
    assert queue.pending == 0  # nothing landed this time: done
    queue.close()


def test_rebuild_reports_hours_whose_rows_grew_while_read(influxd: Service, database: str) -> None:
    db = influx(influxd.url, database)
    db.ensure_database()
    store(db, [sample(m, m) for m in range(0, 20)])
    writer = StaleWriter(db, lambda: store(db, [sample(m, m) for m in range(20, 25)]))
    changed: set[tuple[str, int]] = set()
    recompute(writer, [(POINT.id, H0)], registry_tags, None, changed)  # type: ignore[arg-type]
    assert changed == {(POINT.id, H0)}
    again: set[tuple[str, int]] = set()
    recompute(db, changed, registry_tags, None, again)
    assert again == set()
    assert InfluxSource(db).rollups([POINT.id], H0, H0 + 3_600_000)[POINT.id][H0].samples_n == 25
