"""Parsing of test results: iperf3 JSON, RouterOS replies, and the rate of parallel streams."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pantau.agent.capacity.parse import (
    DirectionResult,
    aggregate_rate,
    bytes_at,
    iperf3_busy,
    parse_bandwidth_test,
    parse_iperf3,
    parse_rate_bps,
    parse_speed_test,
)

DATA = Path(__file__).parent.parent / "testdata" / "capacity"


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "iperf3_up_50mbit.json",
            DirectionResult(
                mbps=48.054, bytes=28_748_544, rtt_loaded_ms=36.337, retransmits=49, error=None
            ),
        ),
        (
            "iperf3_down_20mbit.json",
            DirectionResult(
                mbps=19.457, bytes=9_605_520, rtt_loaded_ms=None, retransmits=76, error=None
            ),
        ),
        (
            "iperf3_busy.json",
            DirectionResult(None, 0, error="the server is busy running a test. try again later"),
        ),
        (
            "iperf3_refused.json",
            DirectionResult(None, 0, error="unable to connect to server: Connection refused"),
        ),
    ],
)
def test_iperf3_fixtures(name: str, expected: DirectionResult) -> None:
    assert parse_iperf3(load(name)) == expected


def test_iperf3_rate_is_the_receivers_and_bytes_count_omitted_seconds() -> None:
    doc = load("iperf3_down_20mbit.json")
    omitted = [i["sum"]["bytes"] for i in doc["intervals"] if i["sum"]["omitted"]]
    assert omitted  # the fixture has a slow-start second that the rate leaves out
    result = parse_iperf3(doc)
    assert result.mbps == round(doc["end"]["sum_received"]["bits_per_second"] / 1e6, 3)
    assert result.bytes == sum(i["sum"]["bytes"] for i in doc["intervals"])


def test_iperf3_without_received_sum() -> None:
    assert parse_iperf3({"intervals": [], "end": {}}) == DirectionResult(
        None, 0, error="iperf3 reported no received data"
    )


@pytest.mark.parametrize(
    ("error", "busy"),
    [
        ("the server is busy running a test. try again later", True),
        ("unable to connect to server: Connection refused", False),
        (None, False),
        ("", False),
    ],
)
def test_iperf3_busy(error: str | None, busy: bool) -> None:
    assert iperf3_busy(error) is busy


@pytest.mark.parametrize(
    ("text", "bps"),
    [
        ("48234567", 48_234_567.0),
        ("921Mbps", 921e6),
        ("509.6kbps", 509_600.0),
        ("1.2Gbps", 1.2e9),
        ("50.0Mbps local-cpu-load:11%", 50e6),
        (12, 12.0),
    ],
)
def test_rates(text: object, bps: float) -> None:
    assert parse_rate_bps(text) == pytest.approx(bps)


@pytest.mark.parametrize("text", ["fast", "", "Mbps", "12Xbps"])
def test_bad_rates(text: str) -> None:
    with pytest.raises(ValueError, match="not a rate"):
        parse_rate_bps(text)


@pytest.mark.parametrize(
    ("omit_s", "down", "up"),
    [
        (1, 48e6, 19e6),  # the half-speed first second left out
        (0, 42e6, 16.625e6),  # every second counted
        (5, 42e6, 16.625e6),  # nothing after the omit: the router's own total average
    ],
)
def test_bandwidth_test(omit_s: int, down: float, up: float) -> None:
    found = parse_bandwidth_test(load("btest_both_tcp.json"), omit_s)
    assert found["seconds"] == 4.0
    assert found["down_bps"] == pytest.approx(down)
    assert found["up_bps"] == pytest.approx(up)
    assert found["lost_packets"] == 0


def test_bandwidth_test_one_way_has_no_other_direction() -> None:
    rows = [
        {k: v for k, v in row.items() if not k.startswith("tx-")}
        for row in load("btest_both_tcp.json")
    ]
    found = parse_bandwidth_test(rows, 1)
    assert found["down_bps"] == pytest.approx(48e6)
    assert found["up_bps"] is None


def test_bandwidth_test_that_never_ran() -> None:
    with pytest.raises(ValueError, match=r"never ran \(status can not connect, connecting\)"):
        parse_bandwidth_test(load("btest_cannot_connect.json"), 1)


def test_speed_test() -> None:
    assert parse_speed_test(load("speedtest_done.json")) == {
        "down_bps": 921e6,
        "up_bps": 920e6,
        "udp_down_bps": 917e6,
        "udp_up_bps": 916e6,
        "rtt_ms": 0.609,
        "jitter_ms": 0.076,
        "loss_pct": 0.0,
    }


def test_speed_test_unfinished() -> None:
    with pytest.raises(ValueError, match="did not finish"):
        parse_speed_test({"status": "running", "tcp-download": "10Mbps"})


def test_bytes_at_interpolates() -> None:
    marks = [(10.0, 0), (11.0, 1000), (13.0, 5000)]
    assert [bytes_at(marks, t) for t in (9.0, 10.5, 11.0, 12.0, 14.0)] == [
        0.0,
        500.0,
        1000.0,
        3000.0,
        5000.0,
    ]


@pytest.mark.parametrize(
    ("streams", "start", "omit_s", "bps"),
    [
        # two streams at 1 MB/s each, both over [0, 4]: omit 1 s → 2 MB/s over [1, 4]
        ([[(0.0, 0), (4.0, 4_000_000)], [(0.0, 0), (4.0, 4_000_000)]], 0.0, 1.0, 16e6),
        # slow start: the first second moves little and is left out
        ([[(0.0, 0), (1.0, 100_000), (3.0, 2_100_000)]], 0.0, 1.0, 8e6),
        # the window closes when the last stream ended; one that stopped early adds nothing
        # after its end: 1 MB + 3 MB over [1, 4]
        ([[(0.0, 0), (2.0, 2_000_000)], [(0.0, 0), (4.0, 4_000_000)]], 0.0, 1.0, 4e6 * 8 / 3),
        # a stream that never moved anything does not count; nothing left: unknown
        ([[(0.0, 0)]], 0.0, 1.0, None),
        # the window is empty: unknown, never a division by zero
        ([[(0.0, 0), (1.0, 1000)]], 0.0, 1.0, None),
    ],
)
def test_aggregate_rate(
    streams: list[list[tuple[float, int]]], start: float, omit_s: float, bps: float | None
) -> None:
    got = aggregate_rate(streams, start, omit_s)
    assert got == (pytest.approx(bps) if bps is not None else None)


def test_a_stream_stalled_past_the_deadline_does_not_stretch_the_window() -> None:
    """Four streams at 12.5 Mbit/s each over a 10-s test with 1 s omitted; one stalls at the
    deadline for a 0.2-s retransmit timeout and delivers its last chunk late. The link carried
    50 Mbit/s: read at the deadline, that is what the figure says (before: 48.9)."""
    per_s = 12.5e6 / 8
    steady = [(t / 10, int(per_s * t / 10)) for t in range(0, 101)]
    stalled = [*steady[:100], (10.2, int(per_s * 10))]
    streams = [steady, steady, steady, stalled]
    assert aggregate_rate(streams, 0.0, 1.0, 10.0) == pytest.approx(50e6, rel=2e-3)
    stretched = aggregate_rate(streams, 0.0, 1.0)
    assert stretched is not None and stretched < 49e6  # what closing at the last read gave
