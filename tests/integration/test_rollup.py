"""Hourly rollups against a real influxd: exact rows, late data recomputes, idempotent."""

from __future__ import annotations

from pathlib import Path

from pantau.collector.lines import telemetry_lines
from pantau.collector.report.reader import InfluxSource
from pantau.collector.rollup import SLA_HOURLY, recompute, touched
from pantau.collector.services import Service
from pantau.collector.sla.hourly import RawSample, rollup_hour
from pantau.shared.registry import Point
from pantau.shared.wire import Sample, Telemetry
from tests.pipeline import influx

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
