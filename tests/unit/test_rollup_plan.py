"""How rollup reads are cut into bounded pieces, and how chunked InfluxDB answers are joined."""

from __future__ import annotations

import json

import pytest

from pantau.collector.influxdb.client import join_chunks
from pantau.collector.rollup import Read, _runs, plan_reads
from pantau.shared.errors import SinkError

H = 3_600_000
H0 = 1_790_848_800_000


def counts_at(interval_s: int, points: list[str], hours: list[int]) -> dict[tuple[str, int], int]:
    return {(p, h): 3600 // interval_s for p in points for h in hours}


def test_city_at_10_s_is_read_in_pieces_of_at_most_the_budget() -> None:
    points = [f"p{i:03d}" for i in range(430)]
    counts = counts_at(10, points, [H0])  # the current hour; the next has nothing yet
    reads = plan_reads(points, (H0, H0 + 2 * H), counts, 20_000)
    assert all(r.rows <= 20_000 for r in reads)
    assert [p for r in reads for p in r.points] == points  # every point read once
    assert {(r.start_ms, r.end_ms) for r in reads} == {(H0, H0 + 2 * H)}
    assert [len(r.points) for r in reads] == [55] * 7 + [45]  # 55 x 360 rows fit in 20,000


def test_one_second_samples_split_hours_and_read_a_point_alone() -> None:
    counts = counts_at(1, ["a", "b"], [H0, H0 + H, H0 + 2 * H])
    reads = plan_reads(["a", "b"], (H0, H0 + 3 * H), counts, 5_000)
    assert reads == [
        Read(("a",), H0, H0 + H, 3600),
        Read(("b",), H0, H0 + H, 3600),
        Read(("a",), H0 + H, H0 + 2 * H, 3600),
        Read(("b",), H0 + H, H0 + 2 * H, 3600),
        Read(("a",), H0 + 2 * H, H0 + 3 * H, 3600),
        Read(("b",), H0 + 2 * H, H0 + 3 * H, 3600),
    ]


def test_hourly_samples_read_a_month_of_many_points_at_once() -> None:
    hours = [H0 + i * H for i in range(744)]
    counts = counts_at(3600, ["a", "b"], hours)
    reads = plan_reads(["a", "b"], (H0, H0 + 744 * H), counts, 20_000)
    assert reads == [Read(("a", "b"), H0, H0 + 744 * H, 1488)]


def test_a_point_without_rows_is_not_read_unless_the_hour_before_may_spill() -> None:
    counts = {("a", H0): 10, ("c", H0 - H): 1}  # b: nothing; c: a sample just before
    assert plan_reads(["a", "b", "c"], (H0, H0 + H), counts, 100) == [
        Read(("a", "c"), H0, H0 + H, 10)
    ]


def test_points_needing_the_same_hours_share_a_run() -> None:
    runs = _runs({"a": {H0, H0 + H}, "b": {H0, H0 + H}, "c": {H0, H0 + 5 * H}})
    assert runs == {
        (H0, H0 + 2 * H): ["a", "b"],
        (H0, H0 + H): ["c"],
        (H0 + 5 * H, H0 + 6 * H): ["c"],
    }


def chunk(series: list[dict], partial: bool) -> bytes:
    result: dict = {"statement_id": 0, "series": series}
    if partial:
        result["partial"] = True
    return json.dumps({"results": [result]}).encode()


def test_chunks_of_one_series_are_joined_in_order() -> None:
    a1 = {"name": "t", "tags": {"point": "a"}, "columns": ["time"], "values": [[1], [2]]}
    a2 = {"name": "t", "tags": {"point": "a"}, "columns": ["time"], "values": [[3]]}
    b1 = {"name": "t", "tags": {"point": "b"}, "columns": ["time"], "values": [[1]]}
    body = b"\n".join(
        [chunk([a1 | {"partial": True}], True), chunk([a2], True), chunk([b1], False)]
    )
    results = join_chunks(body + b"\n")
    assert [(s["tags"]["point"], s["values"]) for s in results[0]["series"]] == [
        ("a", [[1], [2], [3]]),
        ("b", [[1]]),
    ]
    assert all("partial" not in s for s in results[0]["series"])


def test_an_answer_that_ends_while_announcing_more_is_refused() -> None:
    a1 = {"name": "t", "tags": {"point": "a"}, "columns": ["time"], "values": [[1]]}
    with pytest.raises(SinkError, match="refusing a truncated answer"):
        join_chunks(chunk([a1 | {"partial": True}], True))
    with pytest.raises(SinkError, match="refusing a truncated answer"):
        join_chunks(chunk([a1], True))
    # a server that ignores `chunked` and cuts at its row limit flags the series only
    with pytest.raises(SinkError, match="refusing a truncated answer"):
        join_chunks(chunk([a1 | {"partial": True}], False))


def test_errors_and_empty_answers() -> None:
    assert join_chunks(b'{"results":[{"statement_id":0}]}\n') == [{"statement_id": 0}]
    assert join_chunks(b'{"results":[{"statement_id":0,"error":"bad"}]}') == [
        {"statement_id": 0, "error": "bad"}
    ]
    with pytest.raises(SinkError, match="InfluxQL error: no db"):
        join_chunks(b'{"error":"no db"}')
