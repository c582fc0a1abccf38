"""Two report JSONs to their first difference (point, minute, figure), and which samples cover
a minute: table rows computed by hand."""

from __future__ import annotations

import pytest

from pantau.collector.archive.compare import first_difference
from pantau.collector.archive.locate import covers

REPORT = {
    "report": "pantau-sla",
    "generated": "2026-10-05T12:00:00+07:00",
    "software_version": "1.0",
    "total": {"minutes_up": 100},
    "points": [{"id": "cit-01", "minutes_up": 50}, {"id": "cit-02", "minutes_up": 50}],
    "outages": [{"point": "cit-01", "start": "2026-09-10T05:40:00+07:00", "duration_s": 1200}],
}


def changed(**parts: object) -> dict[str, object]:
    return REPORT | parts


def test_the_same_report_made_later_by_another_version_matches() -> None:
    later = changed(generated="2026-11-01T00:00:00+07:00", software_version="1.1")
    assert first_difference(REPORT, later) is None


def test_a_point_figure_comes_before_the_total_it_changes() -> None:
    other = changed(
        total={"minutes_up": 99},
        points=[{"id": "cit-01", "minutes_up": 50}, {"id": "cit-02", "minutes_up": 49}],
    )
    assert str(first_difference(REPORT, other)) == (
        "points, point cit-02, minutes_up: the report says 50, the archive gives 49"
    )


def test_an_outage_the_archive_does_not_give_is_named_by_its_minute() -> None:
    assert str(first_difference(REPORT, changed(outages=[]))) == (
        "outages, point cit-01, minute 2026-09-10T05:40:00+07:00, outage: the report says"
        " 'present', the archive gives nothing"
    )


def test_a_point_the_report_left_out_is_named() -> None:
    fewer = changed(points=REPORT["points"][:1])  # type: ignore[index]
    assert str(first_difference(fewer, REPORT)) == (
        "points, point cit-02, present: the report says nothing, the archive gives 'present'"
    )


@pytest.mark.parametrize(
    ("ts_ms", "interval_s", "minute_ms", "expected"),
    [
        (60_000 * 10 + 5_000, 10.0, 60_000 * 10, True),  # a 10-s sample: its own minute
        (60_000 * 10 + 5_000, 10.0, 60_000 * 11, False),
        (60_000 * 10, 60.0, 60_000 * 11, False),  # 60 s: ⌈60/60⌉ = 1 minute
        (60_000 * 10, 90.0, 60_000 * 11, True),  # 90 s: ⌈1.5⌉ = 2 minutes, 10 and 11
        (60_000 * 10, 90.0, 60_000 * 12, False),
        (60_000 * 10, 300.0, 60_000 * 14, True),  # 5 minutes: 10 to 14
        (60_000 * 10, 300.0, 60_000 * 9, False),
    ],
)
def test_which_minutes_a_sample_covers(
    ts_ms: int, interval_s: float, minute_ms: int, expected: bool
) -> None:
    assert covers({"ts_ms": ts_ms, "interval_s": interval_s}, minute_ms) is expected
