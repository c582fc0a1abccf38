"""Samples of one point-hour → one rollup row, by hand."""

from __future__ import annotations

from typing import Any

import pytest

from pantau.collector.sla.hourly import (
    HourRollup,
    RawSample,
    hours_touched,
    minute_state,
    rollup_hour,
)
from tests.unit.sla.helpers import wib

H = wib(2026, 10, 5, 10, 0)  # 03:00 UTC


def s(minute: int, second: int = 5, **kw: Any) -> RawSample:
    return RawSample(ts_ms=H + minute * 60_000 + second * 1000, **{"wan_up": True} | kw)


@pytest.mark.parametrize(
    ("votes", "state"),
    [
        ("", "N"),
        ("u", "U"),
        ("d", "D"),
        ("ud", "U"),  # a tie is not "more than half"
        ("udd", "D"),
        ("dx", "D"),  # only samples that saw the WAN vote
        ("x", "X"),
        ("w", "W"),
        ("xw", "X"),
        ("uxx", "U"),
    ],
)
def test_minute_state(votes: str, state: str) -> None:
    assert minute_state(votes) == state


CASES: list[tuple[str, list[RawSample], dict[str, Any]]] = [
    (
        "one sample a minute for the first 3 minutes, the third WAN down",
        [s(0), s(1), s(2, wan_up=False)],
        {"states": "UUD" + "N" * 57, "samples_n": 3},
    ),
    (
        "two 30 s samples in one minute, one down: a tie is up",
        [s(0, 5), s(0, 35, wan_up=False)],
        {"states": "U" + "N" * 59, "samples_n": 2, "interval_s": 60.0},
    ),
    (
        "a 300 s sample covers 5 minutes; device unreachable is X",
        [s(0, interval_s=300.0), s(5, interval_s=300.0, device_up=False)],
        {"states": "U" * 5 + "X" * 5 + "N" * 50, "interval_s": 300.0},
    ),
    (
        "a sample of the previous hour whose interval reaches into this one",
        [RawSample(ts_ms=H - 120_000, interval_s=300.0, wan_up=False)],
        {"states": "DDD" + "N" * 57, "samples_n": 0, "seq_first": None},
    ),
    (
        "WAN not probed is W",
        [s(0, wan_up=None)],
        {"states": "W" + "N" * 59},
    ),
    (
        "seq gaps inside the hour: 10, 11, 14 (2 missing), then 3 (a reset)",
        [s(0, seq=10), s(1, seq=11), s(2, seq=14), s(3, seq=3)],
        {"seq_first": 10, "seq_last": 3, "seq_gaps": 2, "seq_resets": 1},
    ),
    (
        "clients: hotspot sessions preferred; unsynced clock counted",
        [s(0, clients=4, clock_synced=False), s(1, clients=10), s(2, clock_synced=True)],
        {"clients_max": 10, "clients_sum": 14, "clients_n": 2, "unsynced_n": 1},
    ),
    (
        "medians of RTT (20, 30, 100 → 30) and loss (0, 5 → 2.5)",
        [s(0, rtt_ms=20.0, loss_pct=0.0), s(1, rtt_ms=100.0, loss_pct=5.0), s(2, rtt_ms=30.0)],
        {"rtt_median_ms": 30.0, "loss_median_pct": 2.5},
    ),
    (
        "5-minute means: minutes 0-1 at 1 and 3 Mbit/s → 2000 kbit/s; slot 2 at 10 Mbit/s",
        [s(0, rx_bps=1e6), s(1, rx_bps=3e6), s(10, rx_bps=1e7, tx_bps=5e5)],
        {"rx_kbps_5m": "2000,,10000,,,,,,,,,", "tx_kbps_5m": ",,500,,,,,,,,,"},
    ),
]


@pytest.mark.parametrize(("name", "samples", "expected"), CASES, ids=[c[0] for c in CASES])
def test_rollup_hour(name: str, samples: list[RawSample], expected: dict[str, Any]) -> None:
    row = rollup_hour(samples, H)
    assert row is not None
    assert {k: getattr(row, k) for k in expected} == expected


def test_rollup_hour_ignores_samples_that_do_not_touch_it() -> None:
    assert rollup_hour([RawSample(ts_ms=H - 3_600_000, wan_up=True)], H) is None
    assert rollup_hour([RawSample(ts_ms=H + 3_600_000, wan_up=True)], H) is None


def test_fields_round_trip() -> None:
    row = rollup_hour([s(0, seq=7, rtt_ms=12.5, rx_bps=2e6, clients=3)], H)
    assert row is not None
    assert HourRollup.from_fields(H, row.to_fields()) == row


def test_from_row_reads_influx_rows() -> None:
    row = {
        "time": H,
        "seq": 5,
        "interval_s": 60,
        "device_up": True,
        "wan_up": False,
        "clients_assoc": 7,
        "clients_dhcp": 9,
        "boot": "b1",
    }
    assert RawSample.from_row(row) == RawSample(ts_ms=H, seq=5, wan_up=False, clients=7)


def test_hours_touched() -> None:
    samples = [s(59, interval_s=300.0), s(10)]
    assert hours_touched(samples) == {H, H + 3_600_000}


def test_an_hour_of_one_state_is_stored_as_one_letter() -> None:
    row = rollup_hour([s(m, seq=m) for m in range(60)], H)
    assert row is not None and row.states == "U" * 60
    assert row.to_fields()["states"] == "U"
    assert HourRollup.from_fields(H, row.to_fields()) == row
