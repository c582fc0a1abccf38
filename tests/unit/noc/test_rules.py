"""From point states to conditions: classification, kelurahan arithmetic, capacity runs, and
points whose router answers without WAN rates."""

from __future__ import annotations

import dataclasses

import pytest

from pantau.collector.noc import alerts as a
from pantau.collector.noc.config import AlertsConfig
from pantau.collector.noc.observe import (
    AgentState,
    CapacityTest,
    Facts,
    KelurahanView,
    Latest,
    PointState,
    PointView,
    classify,
)
from pantau.collector.noc.rules import (
    CentralFacts,
    all_conditions,
    capacity_conditions,
    central_conditions,
    kelurahan_condition,
    point_conditions,
    rewrite_condition,
    throughput_condition,
    timings,
)
from pantau.collector.noc.throughput import NullThroughput, WatchedPoint, with_throughput
from pantau.shared.registry import Point

NOW = 1_800_000_000_000
S = 1000
CONFIG = AlertsConfig()  # silent after 180 s, kelurahan 30 %, capacity 80 % x3


def point(pid: str = "cit-01", kel: str = "Citangkil") -> Point:
    return Point(id=pid, kelurahan=kel, kecamatan="Citangkil", provider="Awinet")


ONLINE = AgentState(online=True, boot="b1", ts_ms=NOW - 3600 * S, version="0.1.0")
OFFLINE = AgentState(online=False, boot="b1")


@pytest.mark.parametrize(
    ("facts", "state", "since"),
    [
        pytest.param(
            Facts(Latest(NOW - 5 * S, wan_up=True), NOW - 5 * S, NOW - 600 * S, ONLINE),
            PointState.UP,
            NOW - 600 * S,
            id="up since its run began",
        ),
        pytest.param(
            Facts(Latest(NOW - 5 * S, wan_up=False), NOW - 5 * S, NOW - 90 * S, ONLINE),
            PointState.PROVIDER_DOWN,
            NOW - 90 * S,
            id="WAN probes fail",
        ),
        pytest.param(
            Facts(Latest(NOW - 5 * S, device_up=False), NOW - 5 * S, NOW - 70 * S, ONLINE),
            PointState.UNREACHABLE,
            NOW - 70 * S,
            id="router unreadable",
        ),
        pytest.param(
            Facts(Latest(NOW - 5 * S), NOW - 5 * S, NOW - 70 * S, ONLINE),
            PointState.UP,
            NOW - 70 * S,
            id="WAN not probed counts as up",
        ),
        pytest.param(
            Facts(Latest(NOW - 20 * S, wan_up=True), NOW - 20 * S, NOW - 600 * S, OFFLINE),
            PointState.SILENT,
            NOW - 20 * S,
            id="the Will fired: silent since its last sample",
        ),
        pytest.param(
            Facts(Latest(NOW - 181 * S, wan_up=True), NOW - 181 * S, NOW - 600 * S, ONLINE),
            PointState.SILENT,
            NOW - 181 * S,
            id="no sample for silent_after_s",
        ),
        pytest.param(
            Facts(None, NOW - 3000 * S, None, None),
            PointState.SILENT,
            NOW - 3000 * S,
            id="seen in the lookback, not lately",
        ),
        pytest.param(Facts(), PointState.UNKNOWN, None, id="never seen"),
        pytest.param(
            Facts(agent=ONLINE), PointState.UNKNOWN, ONLINE.ts_ms, id="online, no sample yet"
        ),
        pytest.param(Facts(agent=OFFLINE), PointState.SILENT, None, id="offline, no sample"),
    ],
)
def test_classify(facts: Facts, state: PointState, since: int | None) -> None:
    view = classify(point(), facts, NOW, 180)
    assert (view.state, view.since_ms) == (state, since)


def view(
    state: PointState, since_s: float | None, pid: str = "cit-01", tests: tuple = ()
) -> PointView:
    return PointView(
        point=point(pid),
        state=state,
        since_ms=None if since_s is None else NOW + int(since_s * S),
        last_seen_ms=NOW,
        latest=None,
        agent=None,
        tests=tests,
        committed_down_mbps=50,
        committed_up_mbps=20,
    )


def states(conditions: list[a.Condition]) -> dict[str, tuple[bool | None, int | None]]:
    return {
        c.rule: (c.active, None if c.since_ms is None else (c.since_ms - NOW) // S)
        for c in conditions
    }


@pytest.mark.parametrize(
    ("state", "since", "resumed", "expected"),
    [
        (
            PointState.PROVIDER_DOWN,
            -90,
            None,
            {"provider_down": (True, -90), "unreachable": (False, -90), "silent": (False, None)},
        ),
        (
            PointState.UP,
            -10,
            -30,
            {"provider_down": (False, -10), "unreachable": (False, -10), "silent": (False, -30)},
        ),
        (
            PointState.SILENT,
            -700,
            None,
            {"provider_down": (None, None), "unreachable": (None, None), "silent": (True, -700)},
        ),
        (
            PointState.UNKNOWN,
            None,
            None,
            {"provider_down": (None, None), "unreachable": (None, None), "silent": (None, None)},
        ),
    ],
)
def test_point_conditions(
    state: PointState, since: int | None, resumed: int | None, expected: dict
) -> None:
    back = None if resumed is None else (NOW + (resumed - 60) * S, NOW + resumed * S)
    conditions = point_conditions(view(state, since), back, CONFIG)
    assert states(conditions) == expected
    began = {c.rule: c.began_ms for c in conditions if c.began_ms is not None}
    assert began == ({} if back is None else {a.SILENT: back[0]})


def kelurahan(*states_and_since: tuple[PointState, float | None]) -> KelurahanView:
    views = [view(s, t, f"cit-{i:02d}") for i, (s, t) in enumerate(states_and_since, 1)]
    return KelurahanView.of("Citangkil", "Citangkil", views)


UP, PD, SIL, UNR = (
    PointState.UP,
    PointState.PROVIDER_DOWN,
    PointState.SILENT,
    PointState.UNREACHABLE,
)


@pytest.mark.parametrize(
    ("points", "active", "since"),
    [
        pytest.param([(PD, -50), (SIL, -40)] + [(UP, -999)] * 8, False, -999, id="2 of 10"),
        pytest.param(
            [(PD, -50), (SIL, -40), (UNR, -30)] + [(UP, -999)] * 7,
            True,
            -30,
            id="3 of 10: since the third went down",
        ),
        pytest.param(
            [(PD, -10), (SIL, -20), (UNR, -30), (PD, -40)] + [(UP, -999)] * 6,
            True,
            -20,
            id="4 of 10: since the third went down, in time order",
        ),
        pytest.param(
            [(PD, -50)] + [(UP, -5), (UP, -8), (UP, -900)] + [(UP, -999)] * 6,
            False,
            -8,
            id="cleared when the second-to-last of the needed points came back",
        ),
        pytest.param([(PD, -50), (UP, -999)], False, -999, id="2 points: min_points 2"),
        pytest.param([(PD, -50), (PD, -20)], True, -20, id="2 of 2"),
        pytest.param([(PD, -50)], False, None, id="1 point can never be a kelurahan alert"),
    ],
)
def test_kelurahan_condition(
    points: list[tuple[PointState, float]], active: bool | None, since: int | None
) -> None:
    condition = kelurahan_condition(kelurahan(*points), CONFIG)
    got_since = None if condition.since_ms is None else (condition.since_ms - NOW) // S
    assert (condition.active, got_since) == (active, since)


def test_kelurahan_condition_unknown_when_nothing_is_known() -> None:
    condition = kelurahan_condition(kelurahan((PointState.UNKNOWN, None)), CONFIG)
    assert condition.active is None


def capacity_results(*mbps: float, direction: str = "down") -> tuple[CapacityTest, ...]:
    """Newest first: the last argument is the newest test."""
    n = len(mbps)
    return tuple(CapacityTest(NOW - (n - i) * 60 * S, direction, m) for i, m in enumerate(mbps))[
        ::-1
    ]


@pytest.mark.parametrize(
    ("mbps", "active", "since_min"),
    [
        pytest.param((30, 30), False, -1, id="two low tests are not enough"),
        pytest.param((30, 30, 30), True, -3, id="three in a row: since the first of them"),
        pytest.param((45, 30, 30, 30), True, -3, id="a good one before does not matter"),
        pytest.param((30, 30, 30, 40), False, -1, id="exactly 80 % is not below"),
        pytest.param((30, 45, 30, 30), False, -3, id="broken run"),
    ],
)
def test_capacity_condition(mbps: tuple[float, ...], active: bool, since_min: int) -> None:
    v = view(PointState.UP, -10, tests=capacity_results(*mbps))
    (condition,) = capacity_conditions(v, CONFIG)
    assert condition.subject == "cit-01/down"
    assert (condition.active, (condition.since_ms - NOW) // (60 * S)) == (active, since_min)


def test_capacity_upload_is_judged_against_the_upload_commitment() -> None:
    v = view(PointState.UP, -10, tests=capacity_results(15, 15, 15, direction="up"))  # 75 % of 20
    (condition,) = capacity_conditions(v, CONFIG)
    assert (condition.subject, condition.active) == ("cit-01/up", True)
    assert "committed 20 Mbps, floor 16 Mbps" in condition.detail


def test_central_conditions() -> None:
    facts = CentralFacts(
        influx_ok=True,
        newest_sample_ms=NOW - 200 * S,
        agents_online=3,
        metrics_ok=True,
        buffer_lines=12,
        buffer_batches=2,
    )
    got = {c.rule: (c.active, c.since_ms) for c in central_conditions(facts, CONFIG, NOW)}
    assert got == {
        a.INFLUX_UNREACHABLE: (False, None),
        a.COLLECTOR_BEHIND: (True, NOW - 200 * S),
        a.COLLECTOR_DOWN: (False, None),
        a.COLLECTOR_BUFFER: (True, None),
    }
    quiet = CentralFacts(influx_ok=True, newest_sample_ms=NOW - 200 * S, agents_online=0)
    got = {c.rule: c.active for c in central_conditions(quiet, CONFIG, NOW)}
    assert got == {a.INFLUX_UNREACHABLE: False, a.COLLECTOR_BEHIND: False}
    down = CentralFacts(influx_ok=False, influx_error="x", metrics_ok=False)
    got = {c.rule: c.active for c in central_conditions(down, CONFIG, NOW)}
    assert got == {a.INFLUX_UNREACHABLE: True, a.COLLECTOR_DOWN: True}


def test_a_refused_rewrite_is_an_alert_for_its_point() -> None:
    rewrites = {"cit-01": (3, NOW - 60 * S)}
    refused = rewrite_condition(view(PointState.UP, -600), rewrites, CONFIG)
    assert (refused.rule, refused.subject, refused.active, refused.since_ms) == (
        a.EVIDENCE_REWRITE,
        "cit-01",
        True,
        NOW - 60 * S,
    )
    assert "refused 3 write(s)" in refused.detail and refused.point == "cit-01"
    other = rewrite_condition(view(PointState.UP, -600, pid="cit-02"), rewrites, CONFIG)
    assert other.active is False
    facts = CentralFacts(influx_ok=True, rewrites=rewrites)
    views = [view(PointState.UP, -600), view(PointState.UP, -600, pid="cit-02")]
    got = [
        (c.subject, c.active)
        for c in all_conditions(views, [], {}, facts, CONFIG, NOW)
        if c.rule == a.EVIDENCE_REWRITE
    ]
    assert got == [("cit-01", True), ("cit-02", False)]
    unknown = CentralFacts(influx_ok=True, rewrites=None)  # InfluxDB could not say: hold
    assert not [
        c
        for c in all_conditions(views, [], {}, unknown, CONFIG, NOW)
        if c.rule == a.EVIDENCE_REWRITE
    ]


REPORTED = (
    "interface 'ether1' not found on the router; did you mean 'ether1-wan'? It has: ether1-wan,"
    " ether2, wifi1, bridge-hotspot. Set wan_interface to its port facing the provider."
)
HEAD = (
    "Point cit-01, kelurahan Citangkil (Citangkil), provider Awinet. The router answers, but no"
    " WAN throughput (rx_bps, tx_bps) has been measured"
)
NO_RATES = Latest(NOW - 5 * S, device_up=True, wan_up=True, clients=3)
RATES = Latest(NOW - 5 * S, device_up=True, wan_up=True, rx_bps=4e6, tx_bps=1e6)


def watched(
    state: PointState, latest: Latest | None, found: NullThroughput | None = None
) -> PointView:
    plain = dataclasses.replace(view(state, -4000), latest=latest)
    return with_throughput([plain], {plain.id: found} if found else {})[0]


@pytest.mark.parametrize(
    ("state", "latest", "found", "active", "since_s", "detail"),
    [
        pytest.param(
            PointState.UP, NO_RATES, NullThroughput(NOW - 3900 * S, "ether1", REPORTED),
            True, -3900,
            f"{HEAD} for 65 min. Likely cause: the agent's wan_interface 'ether1' is not found"
            f" on the router. The agent reported: {REPORTED}",
            id="an hour without rates, the agent's event and fact known",
        ),
        pytest.param(
            PointState.PROVIDER_DOWN, dataclasses.replace(NO_RATES, wan_up=False),
            NullThroughput(NOW - 600 * S, "ether1"), True, -600,
            f"{HEAD} for 10 min. Likely cause: the agent's wan_interface 'ether1' is not found"
            " on the router. Set wan_interface in the agent's config to the router's port"
            " facing the provider.",
            id="WAN probes failing too: still no rates, the interface named from the state",
        ),
        pytest.param(
            PointState.UP, NO_RATES, NullThroughput(None), True, None,
            f"{HEAD}. Likely cause: the agent's wan_interface is not found on the router. Set"
            " wan_interface in the agent's config to the router's port facing the provider.",
            id="nothing more known: since is left to the engine",
        ),
        pytest.param(PointState.UP, RATES, None, False, None, "", id="rates: clear"),
        pytest.param(
            PointState.UP, dataclasses.replace(RATES, tx_bps=None), None, False, None, "",
            id="one rate is a rate",
        ),
        pytest.param(
            PointState.UNREACHABLE, dataclasses.replace(NO_RATES, device_up=False), None,
            None, None, "", id="router unreachable: another alert's business, hold",
        ),
        pytest.param(PointState.SILENT, NO_RATES, None, None, None, "", id="silent: hold"),
        pytest.param(PointState.UNKNOWN, None, None, None, None, "", id="unknown: hold"),
    ],
)  # fmt: skip
def test_throughput_condition(
    state: PointState,
    latest: Latest | None,
    found: NullThroughput | None,
    active: bool | None,
    since_s: int | None,
    detail: str,
) -> None:
    got = throughput_condition(watched(state, latest, found), NOW)
    assert (got.rule, got.subject, got.point, got.kelurahan) == (
        a.NO_THROUGHPUT, "cit-01", "cit-01", "Citangkil",
    )  # fmt: skip
    assert got.title == "No throughput: cit-01 (Citangkil)"
    assert (got.active, got.since_ms, got.detail) == (
        active, None if since_s is None else NOW + since_s * S, detail,
    )  # fmt: skip


def test_no_throughput_fires_after_an_hour_and_clears_with_rates() -> None:
    assert timings(CONFIG)[a.NO_THROUGHPUT] == a.Timing(3600, 120)
    engine = a.Engine(timings(CONFIG))
    began = NOW - 3599 * S
    lacking = watched(PointState.UP, NO_RATES, NullThroughput(began, "ether1", REPORTED))
    assert isinstance(lacking, WatchedPoint)
    facts = CentralFacts(influx_ok=True)

    def notices(views: list[PointView], now: int) -> list[tuple[str, str]]:
        conditions = all_conditions(views, [], {}, facts, CONFIG, now)
        return [(n.kind, n.alert.key) for n in engine.evaluate(conditions, now)]

    assert notices([lacking], NOW) == []  # 59 min 59 s
    assert notices([lacking], NOW + S) == [("firing", "no_throughput:cit-01")]
    assert notices([lacking], NOW + 60 * S) == []  # announced once
    fixed = watched(PointState.UP, RATES)
    assert notices([fixed], NOW + 120 * S) == []
    assert notices([fixed], NOW + 240 * S) == [("resolved", "no_throughput:cit-01")]


def test_status_shows_a_spool_that_cannot_store() -> None:
    from types import SimpleNamespace

    from pantau.collector.noc.status import _agent

    def shown(agent: AgentState) -> str:
        return _agent(SimpleNamespace(agent=agent))  # type: ignore[arg-type]

    assert shown(ONLINE) == "online 0.1.0"
    assert shown(AgentState(True, "b1", NOW, "0.2.0", spool="ok")) == "online 0.2.0"
    assert shown(AgentState(True, "b1", NOW, "0.2.0", spool="disk_full")) == (
        "online 0.2.0, spool disk full"
    )
