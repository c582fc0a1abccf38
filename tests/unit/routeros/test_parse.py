"""RouterOS reply parsers, table-driven, on captured replies of ROS 6.49, 7.14 and 7.18."""

from __future__ import annotations

import pytest
from librouteros.exceptions import TrapError

from pantau.agent.sources.base import Counters, Reachability
from pantau.agent.sources.routeros import parse
from tests.unit.routeros.replies import reply


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1w2d3h4m5s", 604_800 + 2 * 86_400 + 3 * 3_600 + 4 * 60 + 5),
        ("3d4h5m6s", 3 * 86_400 + 4 * 3_600 + 5 * 60 + 6),
        ("45m12s", 45 * 60 + 12),
        ("5s", 5),
        ("0s", 0),
        ("1h", 3_600),
        ("10ms", 0.010),
        ("1ms164us", 0.001164),
        ("836us", 0.000836),
        ("2s500ms", 2.5),
        ("1m0s10ms", 60.010),
        ("2w6d13:21:53", 2 * 604_800 + 6 * 86_400 + 13 * 3_600 + 21 * 60 + 53),
        ("6d00:00:01", 6 * 86_400 + 1),
        ("13:21:53", 13 * 3_600 + 21 * 60 + 53),
        ("00:00:00.060", 0.060),
        ("00:01:02.5", 62.5),
        (90, 90),
    ],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse.parse_duration(text) == pytest.approx(seconds, abs=1e-9)


@pytest.mark.parametrize("text", ["", "abc", "5x", "1h 2m", "1h2", "h", "12:3", True, "-5s"])
def test_durations_refused(text: object) -> None:
    with pytest.raises(ValueError):
        parse.parse_duration(text)


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("6.49.10 (long-term)", (6, 49, 10)),
        ("7.14.3 (stable)", (7, 14, 3)),
        ("7.18 (stable)", (7, 18, 0)),
        ("7.18beta2 (testing)", (7, 18, 0)),
        ("6.40.9 (bugfix)", (6, 40, 9)),
    ],
)
def test_versions(text: str, version: tuple[int, int, int]) -> None:
    assert parse.parse_version(text) == version


def test_version_refused() -> None:
    with pytest.raises(ValueError, match="not a RouterOS version"):
        parse.parse_version("stable")


@pytest.mark.parametrize(
    ("text", "ms"),
    [("1ms164us", 1.164), ("12ms", 12.0), ("0ms", 0.0), ("836us", 0.836), ("2ms500us", 2.5)],
)
def test_ping_times(text: str, ms: float) -> None:
    assert parse.parse_ping_time_ms(text) == ms


@pytest.mark.parametrize(
    ("fixture", "uptime_s", "cpu", "mem", "version", "board", "arch"),
    [
        (
            "resource_ros6.49.txt",
            2 * 604_800 + 6 * 86_400 + 13 * 3_600 + 21 * 60 + 53,
            7.0,
            44.5,
            "6.49.10 (long-term)",
            "hAP ac lite",
            "mipsbe",
        ),
        (
            "resource_ros6_clock.txt",
            2 * 604_800 + 6 * 86_400 + 13 * 3_600 + 21 * 60 + 53,
            12.0,
            33.84,
            "6.40.9 (bugfix)",
            "RB951Ui-2HnD",
            "mipsbe",
        ),
        (
            "resource_ros7.14.txt",
            3 * 86_400 + 4 * 3_600 + 5 * 60 + 6,
            4.0,
            38.28,
            "7.14.3 (stable)",
            "hAP ac^2",
            "arm",
        ),
        (
            "resource_ros7.18_x86.txt",
            45 * 60 + 12,
            0.0,
            12.5,
            "7.18.2 (stable)",
            "CHR QEMU Standard PC (i440FX + PIIX, 1996)",
            "x86_64",
        ),
    ],
)
def test_resource(
    fixture: str, uptime_s: float, cpu: float, mem: float, version: str, board: str, arch: str
) -> None:
    res = parse.parse_resource(reply(fixture))
    assert res == parse.Resource(
        uptime_s=uptime_s,
        cpu_pct=cpu,
        mem_used_pct=mem,
        version=version,
        board=board,
        architecture=arch,
    )


@pytest.mark.parametrize(
    ("fixture", "temp_c"),
    [
        ("health_ros6.49.txt", 39.0),
        ("health_ros6_cpu.txt", 52.0),  # the CPU's own sensor wins over the board's
        ("health_ros7.14.txt", 43.0),
        ("health_ros7.18.txt", 51.0),  # fan speed (RPM) is not a temperature
        ("health_none_ros6.txt", None),
        ("health_none_ros7.18.txt", None),
    ],
)
def test_health(fixture: str, temp_c: float | None) -> None:
    assert parse.parse_health(reply(fixture)) == temp_c


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        (
            "interface_ether1_ros7.txt",
            parse.Interface(
                counters=Counters(
                    rx_bytes=5_123_456_789_012,
                    tx_bytes=987_654_321_098,
                    rx_packets=3_659_612_006,
                    tx_packets=1_646_090_535,
                    rx_errors=0,
                    tx_errors=3,
                ),
                running=True,
                link_downs=2,
            ),
        ),
        (
            "interface_ether1_down_ros6.txt",
            parse.Interface(
                counters=Counters(
                    rx_bytes=18_446_744_073_709_551_000,
                    tx_bytes=0,
                    rx_packets=12,
                    tx_packets=0,
                    rx_errors=0,
                    tx_errors=0,
                ),
                running=False,
                link_downs=7,
            ),
        ),
    ],
)
def test_interface(fixture: str, expected: parse.Interface) -> None:
    assert parse.parse_interface(reply(fixture), "ether1") == expected


@pytest.mark.parametrize("fixture", ["interface_missing_ros6.txt", "interface_missing_ros7.18.txt"])
def test_interface_missing(fixture: str) -> None:
    with pytest.raises(ValueError, match="interface 'ether9' not found"):
        parse.parse_interface(reply(fixture), "ether9")


PORTS = ("ether1-wan", "ether2", "wifi1", "bridge-hotspot")
FIX = "Set wan_interface to its port facing the provider."


@pytest.mark.parametrize(
    ("name", "known", "message"),
    [
        ("ether1", PORTS, "interface 'ether1' not found on the router; did you mean 'ether1-wan'?"
         f" It has: ether1-wan, ether2, wifi1, bridge-hotspot. {FIX}"),
        ("WAN", PORTS, "interface 'WAN' not found on the router; did you mean 'ether1-wan'?"
         f" It has: ether1-wan, ether2, wifi1, bridge-hotspot. {FIX}"),
        ("sfp1", PORTS, "interface 'sfp1' not found on the router."
         f" It has: ether1-wan, ether2, wifi1, bridge-hotspot. {FIX}"),
        ("ether1", None, "interface 'ether1' not found on the router; set wan_interface to its"
         " port facing the provider"),
        ("ether1", (), "interface 'ether1' not found on the router, which lists no interfaces"),
    ],
)  # fmt: skip
def test_missing_interface_names_the_routers_ports(
    name: str, known: tuple[str, ...] | None, message: str
) -> None:
    with pytest.raises(parse.NotFoundError) as caught:
        parse.parse_interface([], name, known)
    assert str(caught.value) == message


def test_missing_interface_message_fits_an_event() -> None:
    vlans = tuple(f"vlan{i:03d}-warga" for i in range(200))
    message = parse.missing_interface("ether1", vlans)
    assert len(message) <= 450  # events hold 500 characters
    assert "It has: vlan000-warga, vlan001-warga, " in message  # 20 names in 300 characters
    assert ", vlan019-warga and 180 more. Set wan_interface" in message


@pytest.mark.parametrize(
    ("fixture", "count"), [("count_only_hotspot_1000.txt", 1000), ("count_only_zero.txt", 0)]
)
def test_count_only(fixture: str, count: int) -> None:
    assert parse.parse_count(reply(fixture)) == count


def test_count_only_needs_ret() -> None:
    with pytest.raises(ValueError, match="expected one row, got 0"):
        parse.parse_count(reply("interface_missing_ros6.txt"))


def test_trap_surfaces_as_librouteros_error() -> None:
    with pytest.raises(TrapError, match="no such command prefix"):
        reply("trap_no_such_command.txt")


@pytest.mark.parametrize(
    ("fixture", "target", "sent", "received", "rtts"),
    [
        ("ping_ros6.49.txt", "1.1.1.1", 3, 3, (12.0, 14.0, 11.0)),
        ("ping_ros7.14.txt", "8.8.8.8", 4, 3, (1.164, 0.836, 2.5)),
        ("ping_wan_down_ros7.18.txt", "1.1.1.1", 3, 0, ()),
        ("ping_unreachable_ros6.txt", "192.0.2.1", 2, 0, ()),
    ],
)
def test_ping(fixture: str, target: str, sent: int, received: int, rtts: tuple[float, ...]) -> None:
    assert parse.parse_ping(reply(fixture), target) == parse.PingResult(
        target=target, sent=sent, received=received, rtts_ms=rtts
    )


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        ([], Reachability()),
        (
            [parse.PingResult("a", 3, 3, (12.0, 14.0, 11.0))],
            Reachability(wan_up=True, rtt_ms=12.0, loss_pct=0.0, jitter_ms=2.5),
        ),
        (
            [
                parse.PingResult("a", 4, 3, (1.164, 0.836, 2.5)),
                parse.PingResult("b", 3, 0, ()),
            ],
            Reachability(wan_up=True, rtt_ms=1.164, loss_pct=57.14, jitter_ms=0.996),
        ),
        (
            [parse.PingResult("a", 3, 0, ()), parse.PingResult("b", 3, 0, ())],
            Reachability(wan_up=False, rtt_ms=None, loss_pct=100.0, jitter_ms=None),
        ),
        (
            [parse.PingResult("a", 1, 1, (5.0,))],
            Reachability(wan_up=True, rtt_ms=5.0, loss_pct=0.0, jitter_ms=None),
        ),
    ],
)
def test_summarize_pings(results: list[parse.PingResult], expected: Reachability) -> None:
    assert parse.summarize_pings(results) == expected


@pytest.mark.parametrize(
    ("fixture", "version", "stack"),
    [
        ("packages_ros6.49.txt", (6, 49, 10), "wireless"),
        ("packages_ros6_no_wireless.txt", (6, 49, 10), "wireless"),  # assumed; the table traps
        ("packages_ros7.10_wifiwave2.txt", (7, 10, 2), "wifiwave2"),
        ("packages_ros7.14.txt", (7, 14, 3), "wifi"),
        ("packages_ros7.18_legacy_wireless.txt", (7, 18, 2), "wireless"),
        ("packages_ros7.18_bare.txt", (7, 18, 2), "wifi"),
        ("packages_ros7.18_bare.txt", (7, 12, 1), "wireless"),
    ],
)
def test_wireless_stack(fixture: str, version: tuple[int, int, int], stack: str) -> None:
    assert parse.wireless_stack(version, reply(fixture)) == stack


def test_wireless_stack_without_package_list() -> None:
    assert parse.wireless_stack((7, 14, 0), None) == "wifi"
    assert parse.wireless_stack((6, 49, 0), None) == "wireless"


@pytest.mark.parametrize(
    ("value", "what", "message"),
    [
        ("x", "rx-byte", "rx-byte: expected a number, got 'x'"),
        (True, "rx-byte", "rx-byte: expected a number, got True"),
        ("-5", "rx-byte", "rx-byte: expected a number, got '-5'"),
    ],
)
def test_bad_numbers(value: object, what: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse.as_int(value, what)
    assert str(info.value) == message
