"""The simulator answers as the captured routers did: word for word, sentence for sentence.

Each captured reply in tests/testdata/routeros is put beside what the simulator answers, through
the real librouteros client, to the same command, in the same release's dialect and in the state
the capture shows (its uptime, counters, a lost WAN, a board without sensors ...). A capture the
simulator cannot stand for (another release, another board) is listed with the reason, so a new
capture is either compared or explained.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import librouteros
import pytest
from librouteros.api import Api

from pantau.agent.sources.routeros.paths import INTERFACE_KEYS, proplist
from pantau.collector.lab.routeros_sim import RouterSpec, SimFleet, SimRouter
from tests.unit.routeros.replies import TESTDATA, sentences

PASSWORD = "sim-captures-pw"
NOW = 1_000.0  # the routers' clock stands still: uptime and counters read exactly as set
DIALECTS = ("6.49", "7.14", "7.18")
PACKAGES = proplist(".id", "name", "disabled")
INTERFACE = (proplist(*INTERFACE_KEYS), "?name=ether1")
UPTIME_2W6D = 2 * 604_800 + 6 * 86_400 + 13 * 3_600 + 21 * 60 + 53  # 2w6d13h21m53s
NEAR_WRAP = 18_446_744_073_709_551_000  # 616 bytes below 2**64


def wan_down(router: SimRouter) -> None:
    router.set_wan(False)


def wireless_disabled(router: SimRouter) -> None:
    router.set_package_disabled("wireless")


@dataclass(frozen=True)
class Case:
    capture: str
    dialects: tuple[str, ...]
    command: tuple[str, ...]
    spec: dict[str, Any] = field(default_factory=dict)
    then: Callable[[SimRouter], None] | None = None


CASES = [
    Case("resource_ros6.49.txt", ("6.49",), ("/system/resource/print",), {"uptime_s": UPTIME_2W6D}),
    Case("resource_ros7.14.txt", ("7.14",), ("/system/resource/print",),
         {"uptime_s": 3 * 86_400 + 4 * 3_600 + 5 * 60 + 6}),
    Case("health_ros6.49.txt", ("6.49",), ("/system/health/print",)),
    Case("health_ros7.14.txt", ("7.14",), ("/system/health/print",)),
    Case("health_ros7.18.txt", ("7.18",), ("/system/health/print",)),
    Case("health_none_ros6.txt", ("6.49",), ("/system/health/print",), {"health": "none"}),
    Case("health_none_ros7.18.txt", ("7.18",), ("/system/health/print",), {"health": "none"}),
    Case("interface_ether1_ros7.txt", ("7.14", "7.18"), ("/interface/print", *INTERFACE),
         {"rx_packets": 3_659_612_006, "tx_errors": 3, "link_downs": 2}),
    # a counter 616 bytes before it wraps, the link lost for the seventh time
    Case("interface_ether1_down_ros6.txt", ("6.49",), ("/interface/print", *INTERFACE),
         {"rx_bytes": NEAR_WRAP, "tx_bytes": 0, "rx_packets": 12, "tx_packets": 0,
          "link_downs": 6}, wan_down),
    Case("interface_missing_ros6.txt", ("6.49",),
         ("/interface/print", proplist(*INTERFACE_KEYS), "?name=ether9")),
    Case("interface_missing_ros7.18.txt", ("7.18",),
         ("/interface/print", proplist(*INTERFACE_KEYS), "?name=ether9")),
    Case("packages_ros6.49.txt", ("6.49",),
         ("/system/package/print", PACKAGES, "?name=system", "?name=wireless", "?name=hotspot",
          "?#||")),
    Case("packages_ros6_no_wireless.txt", ("6.49",),
         ("/system/package/print", PACKAGES, "?name=system", "?name=wireless", "?#|"),
         then=wireless_disabled),
    Case("packages_ros7.14.txt", ("7.14",), ("/system/package/print", PACKAGES)),
    Case("packages_ros7.18_bare.txt", ("7.18",), ("/system/package/print", PACKAGES),
         {"wireless_package": None}),
    Case("packages_ros7.18_legacy_wireless.txt", ("7.18",), ("/system/package/print", PACKAGES),
         {"wireless_package": "wireless"}),
    Case("ping_ros6.49.txt", ("6.49",),
         ("/ping", "=address=1.1.1.1", "=count=3", "=interval=10ms"),
         {"ping_script": (12.0, 14.0, 11.0)}),
    Case("ping_ros7.14.txt", ("7.14",),
         ("/ping", "=address=8.8.8.8", "=count=4", "=interval=10ms"),
         {"ping_script": (1.164, None, 0.836, 2.5)}),
    Case("ping_wan_down_ros7.18.txt", ("7.18",),
         ("/ping", "=address=1.1.1.1", "=count=3", "=interval=10ms"), then=wan_down),
    Case("count_only_hotspot_1000.txt", DIALECTS, ("/ip/hotspot/active/print", "=count-only="),
         {"hotspot_sessions": 1000}),
    Case("count_only_zero.txt", DIALECTS, ("/ip/hotspot/active/print", "=count-only="),
         {"hotspot_sessions": 0}),
    Case("trap_no_such_command.txt", DIALECTS, ("/interface/wifiwave2/registration-table/print",),
         {"wireless_package": None}),
]  # fmt: skip

NOT_SIMULATED = {
    "health_ros6_cpu.txt": "a ROS 6 board with CPU, current and fan sensors; the simulator's "
    "6.49 is a hAP ac lite (voltage and temperature)",
    "packages_ros7.10_wifiwave2.txt": "RouterOS 7.10: no dialect of the simulator",
    "ping_unreachable_ros6.txt": "`net unreachable` (no route to the target): the simulator's lost "
    "WAN times out",
    "resource_ros6_clock.txt": "RouterOS 6.40.9: no dialect of the simulator",
    "resource_ros7.18_x86.txt": "a CHR (x86_64 under QEMU); the simulator's 7.18 is a hAP ax^2",
}


def answer(api: Api, command: tuple[str, ...]) -> list[list[str]]:
    """Every sentence of the reply, `!done` included, as librouteros reads it off the wire."""
    api.protocol.writeSentence(*command)
    got: list[list[str]] = []
    while not got or got[-1][0] != "!done":
        reply_word, words = api.protocol.readSentence()
        got.append([reply_word, *words])
    return got


@pytest.fixture
def serve() -> Iterator[Callable[[str, dict[str, Any]], tuple[SimRouter, Api]]]:
    """A router of one dialect and spec, and a librouteros session to it."""
    opened: list[tuple[SimFleet, Api]] = []

    def start(dialect: str, spec: dict[str, Any]) -> tuple[SimRouter, Api]:
        fleet = SimFleet(
            [RouterSpec(dialect=dialect, password=PASSWORD, **spec)], clock=lambda: NOW
        )
        fleet.start()
        api = librouteros.connect(
            "127.0.0.1", "pantau", PASSWORD, port=fleet.port(0), timeout=10, encoding="latin-1"
        )
        opened.append((fleet, api))
        return fleet.routers[0], api

    yield start
    for fleet, api in opened:
        api.close()
        fleet.stop()


@pytest.mark.parametrize(
    ("case", "dialect"),
    [(case, dialect) for case in CASES for dialect in case.dialects],
    ids=[f"{case.capture}-{dialect}" for case in CASES for dialect in case.dialects],
)
def test_simulator_answers_as_captured(
    serve: Callable[[str, dict[str, Any]], tuple[SimRouter, Api]],
    case: Case,
    dialect: str,
) -> None:
    router, api = serve(dialect, case.spec)
    if case.then is not None:
        case.then(router)
    assert answer(api, case.command) == sentences(case.capture)


def test_every_capture_is_compared_or_explained() -> None:
    compared = {case.capture for case in CASES}
    assert compared.isdisjoint(NOT_SIMULATED)
    assert {p.name for p in TESTDATA.glob("*.txt")} == compared | NOT_SIMULATED.keys()
