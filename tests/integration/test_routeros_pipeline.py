"""RouterOS end to end: simulated routers (each dialect, plain and api-ssl) ⇄ a real
`pantau agent` process ⇄ real mosquitto ⇄ a real `pantau collector` ⇄ real influxd.

What the routers say lands in InfluxDB exactly: client counts, health, rates (across a reboot,
with a reboot event), a missing wireless package as a null field plus one event, and a hung
router as device_up=false samples that never hold up the other routers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pantau.collector.lab.routeros_sim import RouterSpec, SimFleet
from pantau.collector.lab.routeros_sim.certs import CertFiles, make_certs
from pantau.collector.lab.services import Service
from tests.pipeline import (
    agent_config,
    collector_config,
    count_rows,
    influx,
    registry_file,
    start_agent,
    start_collector,
    taken_samples,
    wait_for,
)

PASSWORD = "pipeline-router-pw"
RX_BPS, TX_BPS = 8_000_000.0, 1_000_000.0
CLIENTS = {"hotspot_sessions": 41, "associated": 23, "dhcp_bound": 57}
# point -> (dialect, transport); each dialect over the plain API and over api-ssl
HEALTHY = {
    "ros649-api": ("6.49", "plain"),
    "ros649-ssl": ("6.49", "ca"),
    "ros714-api": ("7.14", "plain"),
    "ros714-ssl": ("7.14", "pin"),
    "ros718-api": ("7.18", "plain"),
    "ros718-ssl": ("7.18", "ca"),
}
NO_WIRELESS, HUNG = "ros718-nowifi", "ros714-hung"
# Non-ASCII identities, sent in UTF-8 and in an old Winbox's Windows code page.
IDENTITY = "Balai Warga – Citangkil 03"
ENCODINGS = {"ros718-api": "utf-8", "ros649-api": "cp1252", "ros714-ssl": "cp1252"}
REBOOTED = "ros718-api"
# dialect -> (cpu_pct, mem_used_pct, temp_c) as the data files have them, and the router's two
# probes: 12.412 and 12.712 ms (ROS 7 prints microseconds, ROS 6 whole milliseconds).
HEALTH = {
    "6.49": ((7.0, 44.5, 39.0), (12.0, 0.0)),
    "7.14": ((4.0, 38.28, 43.0), (12.562, 0.3)),
    "7.18": ((2.0, 12.5, 51.0), (12.562, 0.3)),
}


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    return make_certs(tmp_path_factory.mktemp("routeros-pipeline-tls"))


@pytest.fixture
def fleet(certs: CertFiles) -> Iterator[SimFleet]:
    specs = [
        RouterSpec(name=point, dialect=dialect, password=PASSWORD, rx_bps=RX_BPS, tx_bps=TX_BPS,
                   identity=IDENTITY if point in ENCODINGS else None,
                   encoding=ENCODINGS.get(point, "utf-8"), **CLIENTS)
        for point, (dialect, _) in HEALTHY.items()
    ] + [
        RouterSpec(name=NO_WIRELESS, dialect="7.18", password=PASSWORD, wireless_package=None,
                   **CLIENTS),
        RouterSpec(name=HUNG, dialect="7.14", password=PASSWORD),
    ]  # fmt: skip
    with SimFleet(specs, tls=certs.server_context()) as running:
        running.routers[running.index(HUNG)].faults.hang = True
        yield running


def source(fleet: SimFleet, certs: CertFiles, point: str, transport: str) -> dict[str, Any]:
    index = fleet.index(point)
    settings: dict[str, Any] = {
        "kind": "routeros",
        "host": "127.0.0.1",
        "port": fleet.port(index),
        "password_env": "PANTAU_TEST_ROUTER_PW",
        "ping_targets": ["1.1.1.1"],
        "ping_count": 2,
        "ping_interval_s": 0.02,
        "timeout_s": 2.0,
    }
    if transport != "plain":
        settings["port"] = fleet.tls_port(index)
        settings["tls"] = (
            {"verify": "ca", "ca_file": str(certs.ca_cert)}
            if transport == "ca"
            else {"verify": "fingerprint", "fingerprint_sha256": certs.fingerprint_sha256()}
        )
    return {"id": point, "source": settings}


def rows_of(db: Any, point: str) -> list[dict[str, Any]]:
    return db.query(f'SELECT * FROM "telemetry" WHERE "point" = \'{point}\' ORDER BY time')


def test_routers_to_influxdb(
    tmp_path: Path,
    mosquitto: Service,
    influxd: Service,
    database: str,
    fleet: SimFleet,
    certs: CertFiles,
) -> None:
    points = [*HEALTHY, NO_WIRELESS, HUNG]
    registry = registry_file(tmp_path / "registry.yaml", points)
    collector = start_collector(
        collector_config(
            tmp_path / "collector.yaml", mosquitto.port, influxd.url, database, registry
        ),
        tmp_path / "collector.log",
    )
    transports = {**{p: t for p, (_, t) in HEALTHY.items()}, NO_WIRELESS: "ca", HUNG: "plain"}
    configs = [source(fleet, certs, p, transports[p]) for p in points]
    agent = start_agent(
        agent_config(tmp_path / "agent.yaml", mosquitto.port, configs, interval_s=1.0),
        tmp_path / "agent.log",
        env={"PANTAU_TEST_ROUTER_PW": PASSWORD},
    )
    db = influx(influxd.url, database)
    where = f"\"point\" = '{REBOOTED}'"
    try:
        wait_for(lambda: count_rows(db, "telemetry", where) >= 3, 40, "3 samples before reboot")
        fleet.routers[fleet.index(REBOOTED)].reboot()
        wait_for(lambda: count_rows(db, "telemetry", where) >= 6, 30, "3 samples after reboot")
        agent.stop()
        counts = taken_samples(tmp_path / "agent-state")
        total = sum(counts.values())
        wait_for(lambda: count_rows(db, "telemetry") == total, 20, f"{total} rows in InfluxDB")
        rows = {p: rows_of(db, p) for p in points}
        events = db.query('SELECT * FROM "event" ORDER BY time')
        states = db.query('SELECT * FROM "state" WHERE "state" = \'online\'')
    finally:
        agent.stop()
        collector.stop()
    log = agent.log()
    assert PASSWORD not in log and PASSWORD not in collector.log()

    # Every sample taken is stored once; the hung router cost the others no samples.
    for point in points:
        assert [r["seq"] for r in rows[point]] == list(range(counts[point])), point
    healthy_counts = [counts[p] for p in HEALTHY]
    assert max(healthy_counts) - min(healthy_counts) <= 1, counts
    assert counts[HUNG] >= 1

    for point, (dialect, _) in HEALTHY.items():
        (cpu, mem, temp), (rtt, jitter) = HEALTH[dialect]
        for row in rows[point]:
            assert row["device_up"] is True and row["link_up"] is True, (point, row)
            assert (row["clients_hotspot"], row["clients_assoc"], row["clients_dhcp"]) == (
                41, 23, 57,
            ), point  # fmt: skip
            assert (row["cpu_pct"], row["mem_used_pct"], row["temp_c"]) == (cpu, mem, temp)
            assert (row["wan_up"], row["rtt_ms"], row["jitter_ms"], row["loss_pct"]) == (
                True, rtt, jitter, 0,
            ), point  # fmt: skip
        # Router and agent clocks are two processes apart: the rate is exact to the poll jitter.
        rated = [r for r in rows[point][1:] if r["rx_bps"] is not None]
        assert len(rated) >= 2, point
        for row in rated:
            assert row["rx_bps"] == pytest.approx(RX_BPS, rel=0.02), (point, row)
            assert row["tx_bps"] == pytest.approx(TX_BPS, rel=0.02), (point, row)
        nulls = [r["seq"] for r in rows[point] if r["rx_bps"] is None]
        if point != REBOOTED:
            assert nulls == [0], point

    rebooted = rows[REBOOTED]
    drop = [r["seq"] for r in rebooted[1:] if r["uptime_s"] < rebooted[r["seq"] - 1]["uptime_s"]]
    assert len(drop) == 1
    assert [r["seq"] for r in rebooted if r["rx_bps"] is None] == [0, drop[0]]
    reboots = [e for e in events if e["kind"] == "reboot"]
    assert [e["point"] for e in reboots] == [REBOOTED]

    # A missing wireless package: that one field null, the rest of the sample intact, one event.
    for row in rows[NO_WIRELESS]:
        assert row["clients_assoc"] is None and row["device_up"] is True
        assert (row["clients_hotspot"], row["clients_dhcp"], row["temp_c"]) == (41, 57, 51.0)
    errors = [(e["point"], e["subject"], e["message"]) for e in events
              if e["kind"] == "source_error"]  # fmt: skip
    hung_port = fleet.port(fleet.index(HUNG))
    assert sorted(errors) == [
        (HUNG, "connection",
         f"127.0.0.1:{hung_port}: timed out (no answer within the poll's time budget)"),
        (NO_WIRELESS, "/interface/wifi/registration-table", "no such command prefix"),
    ]  # fmt: skip

    # A hung router: the agent lives and says so; the router is down, every field unknown.
    for row in rows[HUNG]:
        assert row["device_up"] is False
        assert row["uptime_s"] is None and row["clients_hotspot"] is None and row["rx_bps"] is None

    identities = {s["point"]: s.get("fact_identity") for s in states}
    assert identities == {
        **{p: IDENTITY if p in ENCODINGS else p for p in HEALTHY},
        NO_WIRELESS: NO_WIRELESS,
        HUNG: None,  # never answered: nothing known of it
    }
    facts = {s["point"]: (s.get("fact_version"), s.get("fact_model")) for s in states}
    assert facts["ros649-api"] == ("6.49.10 (long-term)", "hAP ac lite")
    assert facts["ros714-ssl"] == ("7.14.3 (stable)", "hAP ac^2")
    assert facts["ros718-ssl"] == ("7.18.2 (stable)", "hAP ax^2")
