"""The RouterOS source, through the real librouteros client, against the simulator.

Router and agent share one manual clock for counters and uptime, so rates and uptimes are exact;
everything else (sockets, TLS, the API protocol, timeouts) is real.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from pantau.agent.rates import CounterSnapshot, Rates, compute_rates
from pantau.agent.sources.base import Counters, Reachability, Reading, SourceIssue
from pantau.agent.sources.routeros.config import RouterOSSourceConfig
from pantau.agent.sources.routeros.source import RouterOSSource
from pantau.collector.lab.routeros_sim import RouterSpec, SimFleet
from pantau.collector.lab.routeros_sim.certs import CertFiles, make_certs

PASSWORD = "Zq9-unguessable-router-pw"
DIALECTS = ["6.49", "7.14", "7.18"]
SPEC = RouterSpec()  # defaults the expectations below are computed from

# What each dialect's data file says, as the agent should read it.
EXPECTED = {
    "6.49": {
        "cpu_pct": 7.0,
        "mem_used_pct": 44.5,
        "temp_c": 39.0,
        "rtt_ms": 12.0,  # ROS 6 reports whole milliseconds
        "jitter_ms": 0.0,
        "facts": {"version": "6.49.10 (long-term)", "model": "hAP ac lite",
                  "architecture": "mipsbe", "wireless": "wireless"},
        "table": "/interface/wireless/registration-table",
        "commands": (12, 8),  # two wireless tables (local radios + legacy CAPsMAN)
    },
    "7.14": {
        "cpu_pct": 4.0,
        "mem_used_pct": 38.28,  # (134217728 - 82837504) / 134217728, as captured
        "temp_c": 43.0,
        "rtt_ms": 12.412,
        "jitter_ms": 0.4,
        "facts": {"version": "7.14.3 (stable)", "model": "hAP ac^2", "architecture": "arm",
                  "wireless": "wifi"},
        "table": "/interface/wifi/registration-table",
        "commands": (11, 7),
    },
    "7.18": {
        "cpu_pct": 2.0,
        "mem_used_pct": 12.5,
        "temp_c": 51.0,
        "rtt_ms": 12.412,
        "jitter_ms": 0.4,
        "facts": {"version": "7.18.2 (stable)", "model": "hAP ax^2", "architecture": "arm64",
                  "wireless": "wifi"},
        "table": "/interface/wifi/registration-table",
        "commands": (11, 7),
    },
}  # fmt: skip


class ManualClock:
    """Agent clock and router clock at once; time moves only when the test says so."""

    def __init__(self) -> None:
        self.mono = 5_000.0

    def __call__(self) -> float:
        return self.mono

    def now(self) -> float:
        return 1_767_225_600.0 + self.mono

    def monotonic(self) -> float:
        return self.mono

    def sleep_until(self, wall_s: float, stop: threading.Event) -> bool:
        return not stop.is_set()

    def advance(self, seconds: float) -> None:
        self.mono += seconds


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    return make_certs(tmp_path_factory.mktemp("routeros-tls"))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


class Rig:
    """A running fleet plus the way to build sources for its routers."""

    def __init__(self, fleet: SimFleet, clock: ManualClock, certs: CertFiles) -> None:
        self.fleet = fleet
        self.clock = clock
        self.certs = certs
        self.sources: list[RouterOSSource] = []

    def source(self, index: int = 0, transport: str = "plain", **fields: Any) -> RouterOSSource:
        settings: dict[str, Any] = {
            "kind": "routeros",
            "host": "127.0.0.1",
            "port": self.fleet.port(index),
            "password": PASSWORD,
            "ping_targets": ["1.1.1.1"],
            "ping_interval_s": 0.05,
            "timeout_s": 2.0,
        }
        if transport != "plain":
            settings["port"] = self.fleet.tls_port(index)
            settings["tls"] = {
                "ca": {"verify": "ca", "ca_file": str(self.certs.ca_cert)},
                "pin": {"verify": "fingerprint",
                        "fingerprint_sha256": self.certs.fingerprint_sha256()},
                "insecure": {"verify": "insecure"},
            }[transport]  # fmt: skip
        settings.update(fields)
        source = RouterOSSourceConfig.model_validate(settings).build("citangkil-01", self.clock)
        assert isinstance(source, RouterOSSource)
        self.sources.append(source)
        return source


@pytest.fixture
def rig(clock: ManualClock, certs: CertFiles, request: pytest.FixtureRequest) -> Iterator[Rig]:
    specs = getattr(request, "param", [RouterSpec(password=PASSWORD)])
    with SimFleet(specs, tls=certs.server_context(), clock=clock) as fleet:
        running = Rig(fleet, clock, certs)
        yield running
        for source in running.sources:
            source.close()


def routers(*specs: RouterSpec) -> Any:
    return pytest.mark.parametrize("rig", [list(specs)], indirect=True)


def expected_reading(dialect: str, at_s: float, uptime_s: float, counters: Counters) -> Reading:
    e = EXPECTED[dialect]
    return Reading(
        device_up=True,
        at_s=at_s,
        uptime_s=uptime_s,
        counters=counters,
        link_up=True,
        link_downs=0,
        reachability=Reachability(
            wan_up=True, rtt_ms=e["rtt_ms"], loss_pct=0.0, jitter_ms=e["jitter_ms"]
        ),
        clients_assoc=SPEC.associated,
        clients_hotspot=SPEC.hotspot_sessions,
        clients_dhcp=SPEC.dhcp_bound,
        cpu_pct=e["cpu_pct"],
        mem_used_pct=e["mem_used_pct"],
        temp_c=e["temp_c"],
        facts={**e["facts"], "identity": f"r-{dialect}", "wan_interface": "ether1"},
    )


def counters_after(seconds: float, rx: float, tx: float, start: tuple[int, int]) -> Counters:
    """What the simulator's counters read after `seconds` of rx/tx bits per second."""
    rx_bytes = start[0] + rx * seconds / 8
    tx_bytes = start[1] + tx * seconds / 8
    rx_packets = start[0] // 1_400 + rx * seconds / 8 / 1_400
    tx_packets = start[1] // 600 + tx * seconds / 8 / 600
    return Counters(int(rx_bytes), int(tx_bytes), int(rx_packets), int(tx_packets), 0, 0)


def rates(before: Reading, after: Reading) -> Rates:
    assert before.at_s is not None and after.at_s is not None

    def snap(r: Reading) -> CounterSnapshot:
        return CounterSnapshot(at_s=r.at_s, uptime_s=r.uptime_s, counters=r.counters)  # type: ignore[arg-type]

    return compute_rates(snap(before), snap(after))


@pytest.mark.parametrize("transport", ["plain", "ca", "pin"])
@pytest.mark.parametrize("dialect", DIALECTS)
def test_exact_reading_and_rates_across_a_reboot(
    clock: ManualClock, certs: CertFiles, dialect: str, transport: str
) -> None:
    spec = RouterSpec(name=f"r-{dialect}", dialect=dialect, password=PASSWORD)
    start = (spec.rx_bytes, spec.tx_bytes)
    with SimFleet([spec], tls=certs.server_context(), clock=clock) as fleet:
        rig = Rig(fleet, clock, certs)
        source = rig.source(0, transport)
        router = fleet.routers[0]
        t0 = clock.mono
        first = source.read()
        first_trips, first_commands = source.round_trips, source.commands
        assert first == expected_reading(dialect, t0, spec.uptime_s, counters_after(0, 0, 0, start))
        clock.advance(10)
        second = source.read()
        assert second == expected_reading(
            dialect, t0 + 10, spec.uptime_s + 10, counters_after(10, 20e6, 4e6, start)
        )
        # One round trip per poll (two when it connects), every command tagged in it.
        assert (first_trips, source.round_trips - first_trips) == (2, 1)
        assert (first_commands, source.commands - first_commands) == EXPECTED[dialect]["commands"]
        assert rates(first, second) == Rates(rx_bps=20e6, tx_bps=4e6)

        router.reboot()
        clock.advance(10)
        third = source.read()  # the old session died with the reboot; a new one is opened
        assert third == expected_reading(
            dialect, t0 + 20, 10.0, counters_after(10, 20e6, 4e6, (0, 0))
        )
        assert rates(second, third) == Rates()  # a reset interval has no rate, never a spike
        assert router.logins == 2
        router.set_traffic(rx_bps=8e6, tx_bps=1e6)
        clock.advance(10)
        fourth = source.read()
        assert rates(third, fourth) == Rates(rx_bps=8e6, tx_bps=1e6)
        source.close()


@routers(RouterSpec(password=PASSWORD, hotspot_sessions=1000, dhcp_bound=420, associated=64))
def test_a_thousand_sessions_cost_one_short_reply(rig: Rig) -> None:
    source = rig.source(ping_targets=[])
    router = rig.fleet.routers[0]
    source.read()
    before = router.bytes_sent
    reading = source.read()
    assert (reading.clients_hotspot, reading.clients_dhcp, reading.clients_assoc) == (1000, 420, 64)
    # Six replies in all; a dump of 1,000 sessions alone would be some 400 kB.
    assert router.bytes_sent - before < 1_000


@pytest.mark.parametrize(
    ("dialect", "table"),
    [
        ("6.49", "/interface/wireless/registration-table"),
        ("7.14", "/interface/wifi/registration-table"),
        ("7.18", "/interface/wifi/registration-table"),
    ],
)
def test_missing_wireless_package_nulls_one_field(
    clock: ManualClock, certs: CertFiles, dialect: str, table: str
) -> None:
    spec = RouterSpec(name=f"r-{dialect}", dialect=dialect, password=PASSWORD,
                      wireless_package=None)  # fmt: skip
    with SimFleet([spec], tls=certs.server_context(), clock=clock) as fleet:
        source = Rig(fleet, clock, certs).source()
        full = expected_reading(
            dialect,
            clock.mono,
            spec.uptime_s,
            counters_after(0, 0, 0, (spec.rx_bytes, spec.tx_bytes)),
        )
        for _ in range(2):  # reported every poll; the run loop turns it into one event
            reading = source.read()
            assert reading == dataclasses.replace(
                full,
                at_s=clock.mono,
                clients_assoc=None,
                facts=reading.facts,
                issues=(SourceIssue(table, "no such command prefix"),),
            )
            assert reading.facts["wireless"] == EXPECTED[dialect]["facts"]["wireless"]
        source.close()


@routers(RouterSpec(dialect="7.18", password=PASSWORD, wireless_package="wireless"))
def test_wireless_stack_detected_again_after_reconnect(rig: Rig) -> None:
    source = rig.source(ping_targets=[])
    router = rig.fleet.routers[0]
    first = source.read()
    assert (first.clients_assoc, first.facts["wireless"], first.issues) == (18, "wireless", ())
    router.remove_package("wireless")  # replaced by the new stack, as an upgrade would
    router.add_package("wifi-qcom")
    stale = source.read()  # same session: the stack found at connect time is still asked
    assert stale.clients_assoc is None
    assert stale.issues == (
        SourceIssue("/interface/wireless/registration-table", "no such command prefix"),
    )
    router.reboot()
    again = source.read()
    assert (again.clients_assoc, again.facts["wireless"], again.issues) == (18, "wifi", ())


def test_wrong_password_is_device_down_without_the_password(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "Wr0ng-secret-never-logged"
    bad = rig.source(password=wrong)
    reading = bad.read()
    assert reading == Reading(
        device_up=False,
        at_s=rig.clock.mono,
        issues=(
            SourceIssue("login", "login refused for user 'pantau': invalid user name or password (6)"),
        ),
    )  # fmt: skip
    good = rig.source()
    assert good.read().device_up
    logged = caplog.text + "".join(str(r.msg) + str(r.args) for r in caplog.records)
    assert "=password=<redacted>" in logged  # librouteros did log the login word...
    assert wrong not in logged and PASSWORD not in logged  # ...but never the password
    assert wrong not in repr(reading) and wrong not in repr(bad.config)


@routers(*(RouterSpec(name=f"r{i}", password=PASSWORD) for i in range(4)))
def test_hung_router_times_out_without_delaying_the_others(rig: Rig) -> None:
    rig.fleet.routers[1].faults.hang = True  # TCP open, never a byte back
    rig.fleet.routers[3].faults.reply_delay_s = 3.0  # answers, far too late (the budget: 1 s)
    sources = [rig.source(i, ping_targets=[], timeout_s=1.0) for i in range(4)]
    done: dict[int, tuple[float, Reading]] = {}
    started = time.monotonic()

    def poll(i: int) -> None:
        reading = sources[i].read()
        done[i] = (time.monotonic() - started, reading)

    threads = [threading.Thread(target=poll, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    healthy = [done[0], done[2]]
    late = [done[1], done[3]]
    assert all(r.device_up and r.clients_hotspot == 25 for _, r in healthy)
    for i in (1, 3):
        elapsed, reading = done[i]
        assert not reading.device_up
        assert reading.issues == (
            SourceIssue(
                "connection",
                f"127.0.0.1:{rig.fleet.port(i)}: timed out (no answer within the poll's"
                " time budget)",
            ),
        )
        assert 1.0 <= elapsed < 2.0  # the poll's budget, not the router's whim
    assert max(t for t, _ in healthy) < min(t for t, _ in late)
    # Within the backoff the next poll does not even try: no second wait.
    again = sources[1].read()
    assert not again.device_up and again.issues == done[1][1].issues


@routers(RouterSpec(password=PASSWORD))
def test_slow_replies_split_into_tiny_writes(rig: Rig) -> None:
    source = rig.source()
    baseline = source.read()
    router = rig.fleet.routers[0]
    router.faults.split_writes = 3
    router.faults.reply_delay_s = 0.01
    reading = source.read()
    assert reading == dataclasses.replace(baseline, facts=reading.facts)
    assert reading.facts == baseline.facts


@routers(RouterSpec(name="r-7.18", password=PASSWORD))
def test_connection_cut_mid_reply(rig: Rig) -> None:
    source = rig.source()
    router = rig.fleet.routers[0]
    router.faults.drop_replies = 1
    router.faults.drop_on = "/ip/hotspot/active"
    port = rig.fleet.port(0)
    cut = source.read()
    issue = SourceIssue("/ip/hotspot/active", f"127.0.0.1:{port}: connection closed by the router")
    assert cut.device_up and cut.counters.rx_bytes == SPEC.rx_bytes and cut.uptime_s is not None
    assert (cut.clients_hotspot, cut.clients_dhcp, cut.clients_assoc, cut.reachability) == (
        None, None, None, None,
    )  # fmt: skip
    assert cut.issues == (issue,)
    waiting = source.read()  # out of step: dropped, and not retried before the backoff
    assert waiting == Reading(device_up=False, at_s=rig.clock.mono, issues=(issue,))
    rig.clock.advance(2)
    back = source.read()
    assert back.device_up and back.clients_hotspot == 25 and back.issues == ()
    assert router.logins == 2


@routers(RouterSpec(name="r-7.14", dialect="7.14", password=PASSWORD))
def test_wan_link_down(rig: Rig) -> None:
    source = rig.source(ping_targets=["1.1.1.1", "8.8.8.8"])
    before = source.read()
    rig.fleet.routers[0].set_wan(False)
    rig.clock.advance(10)
    down = source.read()
    assert down.reachability == Reachability(wan_up=False, rtt_ms=None, loss_pct=100.0)
    assert (down.link_up, down.link_downs, down.device_up) == (False, 1, True)
    assert rates(before, down) == Rates(rx_bps=0.0, tx_bps=0.0)
    rig.fleet.routers[0].set_wan(True)
    up = source.read()
    assert up.reachability is not None and up.reachability.wan_up is True
    assert (up.link_up, up.link_downs) == (True, 1)


@routers(RouterSpec(password=PASSWORD))
def test_router_powered_off_then_back(rig: Rig) -> None:
    source = rig.source(ping_targets=[])
    assert source.read().device_up
    rig.fleet.power_off(0)
    off = source.read()
    assert off == Reading(
        device_up=False,
        at_s=rig.clock.mono,
        issues=(SourceIssue("connection", f"127.0.0.1:{rig.fleet.port(0)}: connection refused"
                            " (API service off, or wrong port)"),),
    )  # fmt: skip
    rig.fleet.power_on(0)
    rig.clock.advance(2)
    on = source.read()
    assert on.device_up and on.uptime_s == 2.0 and on.issues == ()


@routers(RouterSpec(name="old", dialect="6.49", password=PASSWORD, login="challenge"))
def test_router_before_6_43_needs_the_challenge_login(rig: Rig) -> None:
    assert rig.source(login="challenge", ping_targets=[]).read().clients_assoc == 18
    plain = rig.source(ping_targets=[]).read()
    assert not plain.device_up
    assert plain.issues == (
        SourceIssue(
            "/system/resource",
            f"127.0.0.1:{rig.fleet.port(0)}: router closed the session: not logged in",
        ),
    )


@routers(
    RouterSpec(name="trap", password=PASSWORD, health="trap"),
    RouterSpec(name="none", dialect="6.49", password=PASSWORD, health="none"),
)
def test_boards_without_sensors(rig: Rig) -> None:
    trapped = rig.source(0, ping_targets=[]).read()
    assert trapped.temp_c is None and trapped.cpu_pct == 2.0
    assert trapped.issues == (SourceIssue("/system/health", "not supported on this board"),)
    quiet = rig.source(1, ping_targets=[]).read()
    assert (quiet.temp_c, quiet.cpu_pct, quiet.issues) == (None, 7.0, ())


@routers(RouterSpec(name="clock", dialect="6.49", password=PASSWORD, durations="clock"))
def test_old_clock_style_uptime(rig: Rig) -> None:
    assert rig.source(ping_targets=[]).read().uptime_s == SPEC.uptime_s


def test_tls_verification(rig: Rig) -> None:
    assert rig.source(transport="insecure").read().device_up
    port = rig.fleet.tls_port(0)
    pinned = rig.source(
        transport="pin", tls={"verify": "fingerprint", "fingerprint_sha256": "00" * 32}
    ).read()
    got = rig.certs.fingerprint_sha256()
    assert pinned.issues == (
        SourceIssue(
            "connection",
            f"127.0.0.1:{port}: TLS: router certificate SHA-256 {got} is not the pinned {'00' * 32}",
        ),
    )
    untrusted = rig.source(transport="ca", tls={"verify": "ca"}).read()  # system CAs only
    assert untrusted.issues == (
        SourceIssue(
            "connection",
            f"127.0.0.1:{port}: TLS: certificate not trusted: unable to get local issuer"
            " certificate",
        ),
    )
    wrong_name = rig.source(
        transport="ca",
        tls={"verify": "ca", "ca_file": str(rig.certs.ca_cert), "server_name": "router.example"},
    ).read()
    assert not wrong_name.device_up
    assert "TLS: certificate not trusted: Hostname mismatch" in wrong_name.issues[0].message
    plain_to_tls = rig.source(port=port).read()  # plain API spoken to the api-ssl port
    assert not plain_to_tls.device_up


IDENTITY = "Balai Warga – Citangkil 03"


@pytest.mark.parametrize(
    ("encoding", "legacy", "identity"),
    [
        ("utf-8", None, IDENTITY),  # RouterOS 7, set from WebFig or the CLI
        ("cp1252", None, IDENTITY),  # set from an old Winbox on Windows
        ("cp1252", None, "Pos Ronda Pérumahan · Blok C"),
        ("cp1251", "cp1251", "Київ-Центр"),  # another code page, named in the agent's config
    ],
)
def test_non_ascii_identity_read_exactly(
    clock: ManualClock, certs: CertFiles, encoding: str, legacy: str | None, identity: str
) -> None:
    spec = RouterSpec(password=PASSWORD, identity=identity, encoding=encoding)
    with SimFleet([spec], tls=certs.server_context(), clock=clock) as fleet:
        rig = Rig(fleet, clock, certs)
        extra = {"legacy_encoding": legacy} if legacy else {}
        for transport in ("plain", "ca"):
            reading = rig.source(0, transport, ping_targets=[], **extra).read()
            assert reading.facts["identity"] == identity
            assert reading.issues == ()
        for source in rig.sources:
            source.close()


@routers(RouterSpec(name="r-7.18", password=PASSWORD, wan_interface="ether1-wan"))
def test_wan_interface_not_on_the_router_names_its_ports(rig: Rig) -> None:
    source = rig.source(ping_targets=[])  # wan_interface: ether1, the default
    missing = SourceIssue(
        "/interface",
        "interface 'ether1' not found on the router; did you mean 'ether1-wan'? It has:"
        " ether1-wan, ether2, wifi1, bridge-hotspot. Set wan_interface to its port facing the"
        " provider.",
    )
    for _ in range(2):  # the same issue every poll: the run loop makes it one event
        reading = source.read()
        assert reading.device_up and reading.clients_hotspot == 25
        assert (reading.counters, reading.link_up, reading.at_s) == (
            Counters(),
            None,
            rig.clock.mono,
        )
        assert reading.facts["wan_interface"] == "ether1"
        assert reading.issues == (missing,)
        rig.clock.advance(10)
    fixed = rig.source(ping_targets=[], wan_interface="ether1-wan").read()
    assert fixed.counters.rx_bytes is not None and fixed.link_up is True and fixed.issues == ()
    assert fixed.facts["wan_interface"] == "ether1-wan"
