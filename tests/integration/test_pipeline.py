"""Real `pantau agent` and `pantau collector` processes, real mosquitto and influxd."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pantau.agent.spool import SpoolView
from pantau.collector.lab.services import Service
from tests.pipeline import (
    agent_config,
    collector_config,
    count_rows,
    influx,
    registry_file,
    spool_path,
    start_agent,
    start_collector,
    wait_for,
)

RX_BPS = 8_000_000.0
TX_BPS = 1_000_000.0
# Sampling period of the reboot test. Its rates are whole bytes over the period: at 0.25 s a
# byte is 4e-6 of RX_BPS's and 3.2e-5 of TX_BPS's, within the tolerances asserted.
SAMPLE_S = 0.25


def spool_state(state_dir: Path) -> dict[str, tuple[int, int]]:
    """point -> (samples taken, samples and events still waiting) from the agent's own spool."""
    with SpoolView(spool_path(state_dir)) as view:
        return {point: (p.taken, view.rows(point)) for point, p in view.progress().items()}


def test_simulated_point_rates_across_a_reboot(
    tmp_path: Path, mosquitto: Service, influxd: Service, database: str
) -> None:
    registry = registry_file(tmp_path / "registry.yaml", ["citangkil-01"])
    collector = start_collector(
        collector_config(
            tmp_path / "collector.yaml", mosquitto.port, influxd.url, database, registry
        ),
        tmp_path / "collector.log",
    )
    point = {
        "id": "citangkil-01",
        "source": {
            "kind": "simulated",
            "fixed_rx_bps": RX_BPS,
            "fixed_tx_bps": TX_BPS,
            "fixed_clients": 7,
            # nine samples before it, seven after: the 16 awaited below hold it with room
            "reboot_after_s": [9 * SAMPLE_S],
        },
    }
    agent = start_agent(
        agent_config(tmp_path / "agent.yaml", mosquitto.port, [point], interval_s=SAMPLE_S),
        tmp_path / "agent.log",
    )
    db = influx(influxd.url, database)
    try:
        wait_for(lambda: count_rows(db, "telemetry") >= 16, 30, "16 samples in InfluxDB")
        agent.stop()
        taken, waiting = spool_state(tmp_path / "agent-state")["citangkil-01"]
        assert waiting == 0, agent.log()
        wait_for(lambda: count_rows(db, "telemetry") == taken, 15, f"{taken} rows")
        rows = db.query('SELECT * FROM "telemetry" ORDER BY time')
    finally:
        agent.stop()
        collector.stop()
    assert [r["seq"] for r in rows] == list(range(taken))
    assert {r["point"] for r in rows} == {"citangkil-01"}
    assert {r["kelurahan"] for r in rows} == {"Citangkil"}
    assert all(r["clients_hotspot"] == 7 and r["device_up"] is True for r in rows)
    null_rates = [r["seq"] for r in rows if r["rx_bps"] is None]
    reboot_seq = next(r["seq"] for r in rows[1:] if r["uptime_s"] < rows[r["seq"] - 1]["uptime_s"])
    assert null_rates == [0, reboot_seq]  # first sample, and the interval across the reboot
    for row in rows:
        if row["rx_bps"] is not None:
            assert row["rx_bps"] == pytest.approx(RX_BPS, rel=1e-5)
            assert row["tx_bps"] == pytest.approx(TX_BPS, rel=1e-4)
    events = db.query('SELECT * FROM "event" WHERE "kind" = \'reboot\'')
    assert len(events) == 1
    states = db.query('SELECT "state" FROM "state" ORDER BY time')
    assert [s["state"] for s in states] == ["online", "offline"]


def test_linux_host_source_lands(
    tmp_path: Path, mosquitto: Service, influxd: Service, database: str
) -> None:
    registry = registry_file(tmp_path / "registry.yaml", ["host-01"])
    collector = start_collector(
        collector_config(
            tmp_path / "collector.yaml", mosquitto.port, influxd.url, database, registry
        ),
        tmp_path / "collector.log",
    )
    leases = tmp_path / "dnsmasq.leases"
    future = int(time.time()) + 3600
    leases.write_text(
        f"{future} aa:bb:cc:00:00:01 10.5.0.11 phone-a *\n"
        f"{future} aa:bb:cc:00:00:02 10.5.0.12 * 01:aa:bb:cc:00:00:02\n"
        f"{int(time.time()) - 10} aa:bb:cc:00:00:03 10.5.0.13 expired *\n"
        f"0 aa:bb:cc:00:00:04 10.5.0.14 static *\n"
    )
    point = {
        "id": "host-01",
        "source": {
            "kind": "linux",
            "wan_interface": "lo",
            "clients": {"kind": "dnsmasq_leases", "path": str(leases)},
        },
        "probes": {
            "targets": [{"kind": "tcp", "host": "127.0.0.1", "port": mosquitto.port}],
            "count": 2,
        },
    }
    agent = start_agent(
        agent_config(tmp_path / "agent.yaml", mosquitto.port, [point], interval_s=0.5),
        tmp_path / "agent.log",
    )
    db = influx(influxd.url, database)
    try:
        wait_for(lambda: count_rows(db, "telemetry") >= 4, 30, "4 samples")
        agent.stop()
        taken, waiting = spool_state(tmp_path / "agent-state")["host-01"]
        assert waiting == 0
        wait_for(lambda: count_rows(db, "telemetry") == taken, 15, f"{taken} rows")
        rows = db.query('SELECT * FROM "telemetry" ORDER BY time')
    finally:
        agent.stop()
        collector.stop()
    assert len(rows) == taken
    for row in rows:
        assert row["clients_dhcp"] == 3
        assert row["wan_up"] is True and row["loss_pct"] == 0
        assert row["rx_bytes"] > 0 and row["cpu_pct"] is not None and row["uptime_s"] > 0
        assert row["link_up"] is True
    assert all(r["rx_bps"] is not None and r["rx_bps"] >= 0 for r in rows[1:])
