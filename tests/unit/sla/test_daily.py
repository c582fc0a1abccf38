"""Packed days and hour columns: exact round trips, evidence letters, clipping, bad rows."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from pantau.collector.sla.daily import (
    ABSENT,
    INT_FIELDS,
    MISSING,
    NO_ROW,
    ROLLED,
    STALE,
    PointHours,
    decode_runs,
    encode_runs,
    hour_evidence,
    pack_day,
    unpack,
    wib_day,
)
from pantau.collector.sla.hourly import EMPTY_SLOTS, HourRollup
from pantau.collector.sla.periods import DAY_MS, HOUR_MS
from tests.unit.sla.helpers import wib

D = wib(2026, 10, 5, 0, 0)  # a WIB day: 2026-10-04 17:00 UTC


def test_wib_day_starts_at_17_utc() -> None:
    assert D % DAY_MS == 17 * HOUR_MS
    assert wib_day(D) == D
    assert wib_day(D + DAY_MS - 1) == D
    assert wib_day(D - 1) == D - DAY_MS
    assert wib_day(wib(2026, 10, 5, 23, 59)) == D


@pytest.mark.parametrize(
    ("has_rollup", "marked", "rolled", "letter"),
    [
        (False, None, None, NO_ROW),  # nothing stored
        (True, None, None, ROLLED),  # a rollup from before marks: taken as it is
        (False, 1_000, 0, MISSING),  # raw data marked, never rolled up
        (True, 1_000, 0, STALE),  # rolled up once, raw data marked again since
        (True, 1_000, 2_000, ROLLED),  # rolled up after the last mark
        (True, 2_000, 2_000, ROLLED),  # the same millisecond: the rollup read after it
        (True, 2_001, 2_000, STALE),
        (False, 1_000, 2_000, NO_ROW),  # rolled up, but the rollup had nothing to write
        (True, None, 5, ROLLED),
    ],
)
def test_hour_evidence(
    has_rollup: bool, marked: int | None, rolled: int | None, letter: str
) -> None:
    assert hour_evidence(has_rollup, marked, rolled) == letter


@pytest.mark.parametrize(
    ("letters", "runs"),
    [("U" * 1440, "U1440"), ("UUUDDN", "U3D2N1"), ("", ""), ("XWXW", "X1W1X1W1")],
)
def test_minute_states_as_runs(letters: str, runs: str) -> None:
    assert encode_runs(letters) == runs
    assert decode_runs(runs) == letters


def rollup(hour: int, **kw: Any) -> HourRollup:
    return HourRollup(hour_ms=hour, **{"states": "U" * 60} | kw)


def odd_day() -> tuple[dict[int, HourRollup], dict[int, tuple[int | None, int | None]]]:
    """A day with every kind of value: absent hours, absent optional fields, floats that need
    their full precision, mixed minute states, empty and partial 5-minute slots."""
    hours = [D + i * HOUR_MS for i in range(24)]
    rows = {
        hours[0]: rollup(hours[0]),
        hours[1]: rollup(
            hours[1],
            states="U" * 20 + "D" * 7 + "N" * 3 + "X" * 10 + "W" * 20,
            samples_n=57,
            interval_s=60.0,
            seq_first=2**62,
            seq_last=2**62 + 56,
            seq_gaps=2,
            seq_resets=1,
            unsynced_n=4,
            clients_max=0,
            clients_sum=0,
            clients_n=57,
            rtt_median_ms=0.1 + 0.2,
            loss_median_pct=1e-300,
            jitter_median_ms=12345.678901234567,
            rx_kbps_5m="1,,3,,,,,,,,,12",
            tx_kbps_5m=EMPTY_SLOTS,
        ),
        hours[5]: rollup(hours[5], states="N" * 60, samples_n=0, interval_s=3600.0),
        hours[23]: rollup(hours[23], rtt_median_ms=20.0, rx_kbps_5m="5,5,5,5,5,5,5,5,5,5,5,5"),
    }
    marks = {
        hours[0]: (100, 200),  # rolled after its mark
        hours[5]: (300, 0),  # stale
        hours[7]: (400, 0),  # missing: no rollup
        hours[23]: (None, None),
    }
    return rows, marks


def assert_same(a: PointHours, b: PointHours) -> None:
    assert (a.start_ms, a.evidence, a.states) == (b.start_ms, b.evidence, b.states)
    for group in ("ints", "floats", "slots"):
        left, right = getattr(a, group), getattr(b, group)
        assert set(left) == set(right)
        for name in left:
            assert left[name].dtype == right[name].dtype, name
            np.testing.assert_array_equal(left[name], right[name], err_msg=name)


def test_a_packed_day_unpacks_to_the_same_columns_as_its_rollups() -> None:
    rows, marks = odd_day()
    packed = pack_day(D, rows, marks)
    assert packed["hours"] == "r" + "r" + "---" + "s" + "-" + "m" + "-" * 15 + "r"
    # hour 0 up, hour 1 mixed, hours 2-22 without data (21 × 60, hour 5 rolled up as N), hour 23
    assert packed["states"] == "U80D7N3X10W20N1260U60"
    assert_same(unpack(D, 24, [(D, packed)]), PointHours.from_rollups(rows, D, D + DAY_MS, marks))


def test_columns_hold_every_value_exactly() -> None:
    rows, marks = odd_day()
    hours = unpack(D, 24, [(D, pack_day(D, rows, marks))])
    assert hours.ints["seq_first"][1] == 2**62
    assert hours.ints["seq_first"][0] == ABSENT  # the rollup had no seq
    assert hours.ints["samples_n"][2] == ABSENT  # no rollup
    assert hours.floats["rtt_median_ms"][1] == 0.1 + 0.2
    assert hours.floats["loss_median_pct"][1] == 1e-300
    assert hours.floats["jitter_median_ms"][1] == 12345.678901234567
    assert np.isnan(hours.floats["rtt_median_ms"][0])
    assert hours.slots["rx_kbps_5m"][1].tolist() == [1, -1, 3] + [-1] * 8 + [12]
    assert hours.slots["rx_kbps_5m"][23].tolist() == [5] * 12
    assert hours.states[60:120] == rows[D + HOUR_MS].states
    assert hours.states[120:180] == "N" * 60
    assert hours.has_rollup().tolist() == [i in (0, 1, 5, 23) for i in range(24)]
    assert hours.incomplete().tolist() == [i in (5, 7) for i in range(24)]


def test_days_join_and_gaps_are_hours_without_rollups() -> None:
    rows, marks = odd_day()
    later = D + 2 * DAY_MS
    moved = {h + 2 * DAY_MS: replace(r, hour_ms=h + 2 * DAY_MS) for h, r in rows.items()}
    runs = [(later, pack_day(later, moved)), (D, pack_day(D, rows, marks))]
    hours = unpack(D, 72, runs)
    assert hours.evidence[:24] == pack_day(D, rows, marks)["hours"]
    assert hours.evidence[24:48] == NO_ROW * 24
    assert hours.evidence[48:] == pack_day(later, moved)["hours"]
    assert hours.states[24 * 60 : 48 * 60] == "N" * 24 * 60
    assert (hours.ints["samples_n"][24:48] == ABSENT).all()
    both = {**rows, **moved}
    assert_same(hours, PointHours.from_rollups(both, D, D + 3 * DAY_MS, marks))


def test_a_window_clips_packed_days() -> None:
    rows, marks = odd_day()
    packed = pack_day(D, rows, marks)
    start = D + 5 * HOUR_MS
    hours = unpack(start, 30, [(D, packed)])  # from hour 5 of the day to hour 11 of the next
    assert hours.evidence == packed["hours"][5:] + NO_ROW * 11
    assert_same(hours, PointHours.from_rollups(rows, start, start + 30 * HOUR_MS, marks))
    before = unpack(D - 2 * HOUR_MS, 4, [(D, packed)])
    assert before.evidence == NO_ROW * 2 + packed["hours"][:2]
    assert before.ints["seq_last"].tolist() == [ABSENT, ABSENT, ABSENT, 2**62 + 56]


def test_no_rows_is_a_window_of_empty_hours() -> None:
    hours = PointHours.empty(D, 48)
    assert hours.evidence == NO_ROW * 48 and hours.states == "N" * 48 * 60
    assert {name: set(hours.ints[name].tolist()) for name in INT_FIELDS} == {
        name: {ABSENT} for name in INT_FIELDS
    }
    assert hours.slots["tx_kbps_5m"].shape == (48, 12)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"v": 2}, "format 2 unknown"),
        ({"states": "U60"}, "60 minute states"),
        ({"data": "eJwDAAAAAAE="}, "0 bytes of data, expected 4800"),
        ({"data": "not base64!"}, "unreadable data"),
    ],
)
def test_a_malformed_packed_row_raises(change: dict[str, Any], message: str) -> None:
    packed = pack_day(D, odd_day()[0]) | change
    with pytest.raises(ValueError, match=message):
        unpack(D, 24, [(D, packed)])


def test_a_rate_beyond_int32_is_refused_not_cut() -> None:
    rows = {D: rollup(D, rx_kbps_5m=",".join(["2147483648"] * 12))}
    with pytest.raises(ValueError, match="rx_kbps_5m: a 5-minute rate above 2147483647 kbit/s"):
        pack_day(D, rows)
    rows = {D: rollup(D, rx_kbps_5m=",".join(["2147483647"] * 12))}
    assert (
        unpack(D, 24, [(D, pack_day(D, rows))]).slots["rx_kbps_5m"][0].tolist() == [2147483647] * 12
    )


def test_overlapping_packed_rows_raise() -> None:
    packed = pack_day(D, odd_day()[0])
    with pytest.raises(ValueError, match="overlap"):
        unpack(D, 48, [(D, packed), (D + HOUR_MS, packed)])


def test_pack_day_wants_a_wib_day() -> None:
    with pytest.raises(ValueError, match="not the start of a WIB day"):
        pack_day(D + HOUR_MS, {})
