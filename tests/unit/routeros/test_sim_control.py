"""The simulator's control commands act on router state without a running server."""

from __future__ import annotations

import pytest

from pantau.collector.lab.routeros_sim import RouterSpec, SimFleet
from pantau.collector.lab.routeros_sim.control import apply
from pantau.collector.lab.routeros_sim.router import format_duration, format_ping_time


def fleet() -> SimFleet:
    return SimFleet([RouterSpec(name="r001", dialect="6.49"), RouterSpec(name="r002")])


def test_commands_change_state() -> None:
    f = fleet()
    r1, r2 = f.routers
    assert apply(f, "wan r001 down") == "ok"
    assert (r1.wan_up, r1.link_downs, r2.wan_up) == (False, 1, True)
    assert apply(f, "hang all on") == "ok"
    assert r1.faults.hang and r2.faults.hang
    assert apply(f, "drop r002 2 /ip/hotspot") == "ok"
    assert (r2.faults.drop_replies, r2.faults.drop_on) == (2, "/ip/hotspot")
    assert apply(f, "split r002 7") == "ok" and r2.faults.split_writes == 7
    assert apply(f, "split r002 off") == "ok" and r2.faults.split_writes is None
    assert apply(f, "clients r001 hotspot=1000 dhcp=3") == "ok"
    assert (r1.hotspot_sessions, r1.dhcp_bound, r1.associated) == (1000, 3, 18)
    assert apply(f, "package r001 remove wireless") == "ok"
    assert not r1.has_path("/interface/wireless/registration-table")
    assert apply(f, "package r001 add wireless") == "ok"
    assert r1.has_path("/interface/wireless/registration-table")
    assert apply(f, "traffic r002 50 10") == "ok" and (r2.rx_bps, r2.tx_bps) == (50e6, 10e6)
    assert apply(f, "health r002 trap") == "ok" and r2.health == "trap"
    boot = r1.boot_id
    assert apply(f, "reboot r001") == "ok" and r1.boot_id == boot + 1 and r1.uptime_s < 1


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("", "error: empty command"),
        ("wan", "error: wan: which router?"),
        ("wan r009 down", "error: no router named 'r009'"),
        ("wan r001 sideways", "error: expected up or down, got 'sideways'"),
        ("clients r001 users=5", "error: clients: unknown users"),
        ("explode r001", "error: unknown command 'explode'"),
    ],
)
def test_bad_commands(line: str, error: str) -> None:
    assert apply(fleet(), line) == error


@pytest.mark.parametrize(
    ("seconds", "letters", "clock"),
    [
        (0, "0s", "00:00:00"),
        (3_600, "1h", "01:00:00"),
        (273_906, "3d4h5m6s", "3d04:05:06"),
        (1_862_513, "3w13h21m53s", "3w13:21:53"),
        (1_900_800, "3w1d", "3w1d00:00:00"),
    ],
)
def test_durations_both_styles(seconds: int, letters: str, clock: str) -> None:
    assert format_duration(seconds, "letters") == letters
    assert format_duration(seconds, "clock") == clock


@pytest.mark.parametrize(
    ("ms", "style", "text"),
    [
        (12.412, "ms_us", "12ms412us"),
        (12.412, "ms", "12ms"),
        (0.836, "ms_us", "836us"),
        (3.0, "ms_us", "3ms"),
        (0.0, "ms_us", "0us"),
    ],
)
def test_ping_times(ms: float, style: str, text: str) -> None:
    assert format_ping_time(ms, style) == text
