"""The guard's screen of a write whose every line is new (`Guard._all_new`, C calls over the whole
write) is held equal to its line-by-line screen (`Guard._screen`) on generated writes: new
lines, late ones, a series and instant twice in one write, rows that are not evidence, series
whose tags hold escaped spaces or commas."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pantau.collector.evidence import Guard
from pantau.collector.influxdb.line_protocol import line

POINTS = {
    "cit-01": {"kelurahan": "Citangkil", "kecamatan": "Citangkil", "provider": "A"},
    "cit-02": {"kelurahan": "Blok A", "kecamatan": "Ci, Tangkil", "provider": "B"},  # escaped
    "cit-03": {"kelurahan": "A,B=C", "kecamatan": "Citangkil", "provider": "A"},
}
MEASUREMENTS = ("telemetry", "event", "state", "sla_hourly", "integrity")
T0 = 1_790_000_000_000


class RecordingInflux:
    """Nothing stored; every statement the guard sends is kept."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def query_raw(self, influxql: str, database: str | None = None) -> list[dict[str, Any]]:
        self.statements += influxql.split(";")
        return []


@st.composite
def writes(draw: st.DrawFn) -> list[str]:
    out = []
    spread = draw(st.sampled_from([6, 100_000]))  # instants often shared, or seldom
    points = draw(st.lists(st.sampled_from(sorted(POINTS)), min_size=1, unique=True))
    for _ in range(draw(st.integers(min_value=0, max_value=30))):
        point = draw(st.sampled_from(points))
        measurement = draw(st.sampled_from(MEASUREMENTS))
        tags = {"point": point, **POINTS[point]}
        if measurement == "event":
            tags["kind"] = draw(st.sampled_from(["reboot", "path_down"]))
        fields = {"seq": draw(st.integers(min_value=0, max_value=2)), "boot": "b1"}
        out.append(line(measurement, tags, fields, T0 + draw(st.integers(0, spread)) * 1000))
    return out


newest = st.dictionaries(
    st.sampled_from(
        [
            "telemetry,point=cit-01",
            "telemetry,point=cit-02",
            "event,kind=reboot,point=cit-01",
            "state,point=cit-02",
            "telemetry,point=cit-03",
        ]
    ),
    st.integers(0, 6).map(lambda s: T0 + s * 1000),
)


def guard(known: dict[str, int], learned: bool) -> tuple[Guard, RecordingInflux]:
    influx = RecordingInflux()
    made = Guard(influx, 86_400)  # type: ignore[arg-type]
    made._newest = dict(known)
    if learned:
        made._known_points = {(m, p) for m in MEASUREMENTS for p in POINTS}
    return made, influx


@settings(max_examples=600)
@given(writes(), newest, st.booleans(), st.integers(min_value=1, max_value=3))
def test_a_write_of_new_lines_is_screened_as_line_by_line(
    lines: list[str], known: dict[str, int], learned: bool, rounds: int
) -> None:
    fast, fast_influx = guard(known, learned)
    slow, slow_influx = guard(known, learned)
    for _ in range(rounds):  # once written, the same write again is all redeliveries
        got, expected = fast.screen(lines), slow._screen(lines)
        assert got == expected
        assert sorted(fast_influx.statements) == sorted(slow_influx.statements)
        fast.written(got)
        slow.written(expected)
        assert fast._newest == slow._newest
        assert fast._known_points == slow._known_points


def test_new_lines_take_the_fast_screen() -> None:
    lines = [
        line("telemetry", {"point": p, **tags}, {"seq": s}, T0 + s)
        for s in range(3)
        for p, tags in POINTS.items()
        if p == "cit-01"
    ] + [line("sla_hourly", {"point": "cit-01"}, {"marked_ms": 1}, T0)]
    made, _ = guard({}, learned=True)
    fresh = made._all_new(lines)
    assert fresh is not None
    assert fresh.lines == lines
    assert fresh.newest == {"telemetry,point=cit-01": T0 + 2}
    made.written(fresh)
    assert made._all_new(lines) is None  # now stored: read back, line by line


def test_the_newest_rows_are_read_a_hundred_points_a_statement() -> None:
    """A worker sharing its subscription reads the newest rows of a write's points before every
    write: one statement per measurement and 100 points, telemetry by its `seq` column (every
    sample has one) instead of every column."""
    points = [f"p{i:03d}" for i in range(250)]
    lines = [line("telemetry", {"point": p}, {"seq": 1}, T0) for p in points]
    lines += [
        line("event", {"point": p, "kind": "reboot"}, {"message": ""}, T0) for p in points[:3]
    ]
    influx = RecordingInflux()
    Guard(influx, 86_400, shared=True).screen(lines)  # type: ignore[arg-type]
    telemetry = [s for s in influx.statements if '"telemetry"' in s]
    events = [s for s in influx.statements if '"event"' in s]
    assert len(telemetry) == 3 and len(events) == 1
    assert all(s.startswith('SELECT "seq" FROM "telemetry" WHERE (') for s in telemetry)
    assert [s.count('"point" = \'') for s in telemetry] == [100, 100, 50]
    named = {p for s in telemetry for p in points if f"\"point\" = '{p}'" in s}
    assert named == set(points)
    assert events[0].startswith('SELECT * FROM "event" WHERE (')
    assert events[0].count('"point" = \'') == 3
    assert all(s.endswith("GROUP BY * ORDER BY time DESC LIMIT 1") for s in influx.statements)
