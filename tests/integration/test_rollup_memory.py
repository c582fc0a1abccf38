"""A rollup round holds one bounded piece of raw rows at a time, and only the columns it uses.

The collector's resident memory is the high-water mark of its rollup rounds: the allocator keeps
what a round's answers took for the life of the process. So what a round holds at once is
bounded exactly here: every raw read names the columns the rollup uses and no others, no read
returns more than ROWS_PER_READ rows, and when a read is sent nothing of the pieces before it
is still alive (bench/city_live.py prints the collector's RSS over a 24-hour city replay).
"""

from __future__ import annotations

import gc
from typing import Any

from pantau.collector.influxdb.client import Influx
from pantau.collector.lab.services import Service
from pantau.collector.lines import TAG_KEYS, telemetry_lines
from pantau.collector.rollup import RAW_FIELDS, ROWS_PER_READ, RollupStats, recompute, touched
from pantau.collector.sla.hourly import RawSample
from pantau.shared.registry import Point
from pantau.shared.wire import Sample, Telemetry
from tests.pipeline import influx

H0 = 1_790_848_800_000  # 2026-10-01 10:00 UTC
STEP_MS = 10_000
PER_HOUR = 3_600_000 // STEP_MS  # 360 samples a point-hour
POINTS = 40
RAW_SELECT = 'SELECT "seq"'  # how a rollup's raw read begins (counts select COUNT(...))


class Recording:
    """The real client, noting for each raw read its answer's columns and rows, and how many
    RawSamples were alive when it was sent beyond those alive before the round (other tests
    in the same process may hold some)."""

    def __init__(self, db: Influx) -> None:
        self.db = db
        self.reads: list[tuple[list[str], int, int]] = []
        self.before = _raw_samples_alive()

    def query_raw(self, influxql: str, database: str | None = None) -> list[dict[str, Any]]:
        alive = _raw_samples_alive() - self.before if influxql.startswith(RAW_SELECT) else 0
        answer = self.db.query_raw(influxql, database)
        if influxql.startswith(RAW_SELECT):
            series = [s for result in answer for s in result.get("series", [])]
            columns = series[0]["columns"] if series else []
            self.reads.append((columns, sum(len(s["values"]) for s in series), alive))
        return answer

    def write(self, lines: list[str]) -> None:
        self.db.write(lines)


def _raw_samples_alive() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is RawSample)


def test_a_round_reads_bounded_pieces_of_the_columns_it_uses(
    influxd: Service, database: str
) -> None:
    db = influx(influxd.url, database)
    db.ensure_database()
    points = [
        Point(id=f"p{i:02d}", kelurahan=f"K{i // 10}", kecamatan="C", provider="Awinet")
        for i in range(POINTS)
    ]
    lines: list[str] = []
    pairs: set[tuple[str, int]] = set()
    for index, point in enumerate(points):
        samples = [
            Sample(
                ts_ms=H0 + k * STEP_MS + index,
                seq=k,
                boot="b1",
                interval_s=10,
                device_up=True,
                wan_up=True,
                rx_bps=1e6,
                rx_bytes=k * 1000,  # stored, not read by the rollup
                cpu_pct=5.0,
                clients_dhcp=4,
            )
            for k in range(PER_HOUR)
        ]
        lines += telemetry_lines(Telemetry(point=point.id, samples=samples), point)
        pairs |= touched(point.id, samples)
    db.write(lines)
    recording = Recording(db)
    stats = RollupStats()
    by_id = {p.id: p for p in points}

    assert recompute(recording, pairs, lambda pid: by_id[pid].tags(), stats) == POINTS

    per_piece = ROWS_PER_READ // PER_HOUR  # whole point-hours that fit a read: 13
    full, rest = divmod(POINTS, per_piece)
    expected_rows = [per_piece * PER_HOUR] * full + ([rest * PER_HOUR] if rest else [])
    with_rows = [(columns, rows, alive) for columns, rows, alive in recording.reads if rows]
    assert [rows for _, rows, _ in with_rows] == expected_rows
    assert stats.largest_read == per_piece * PER_HOUR == 4_680
    assert stats.rows_read == POINTS * PER_HOUR
    for columns, _, alive in with_rows:
        assert columns == ["time", *RAW_FIELDS, *TAG_KEYS]
        assert alive == 0  # the pieces before were let go before this one was read


def test_raw_fields_are_what_a_raw_sample_reads() -> None:
    """The reads name RAW_FIELDS instead of `*`: a field RawSample comes to read must be named
    there too, or it would silently read as absent."""
    asked: set[str] = set()

    class Row(dict[str, Any]):
        def get(self, key: str, default: Any = None) -> Any:
            asked.add(key)
            return super().get(key, default)

        def __getitem__(self, key: str) -> Any:
            asked.add(key)
            return super().__getitem__(key)

    RawSample.from_row(Row(time=H0, seq=1))
    assert asked - {"time", "ts_ms"} == set(RAW_FIELDS)
