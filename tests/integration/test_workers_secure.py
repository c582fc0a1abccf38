"""Workers on the broker `pantau broker config` makes: it takes the client id from the identity
and its dynamic security pins the id to it, so each worker logs in as its own collector identity
(`{worker}` in the credentials), issued like any other."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pantau.collector.admin.broker_config import write_broker_files
from pantau.collector.lab.secure_broker import SecureBroker, prepare_secure_broker
from pantau.collector.lab.services import Service
from tests.pipeline import (
    agent_config,
    assert_exactly_once,
    collector_config,
    influx,
    registry_file,
    start_agent,
    start_collector,
    taken_samples,
    wait_all_stored,
    wait_for,
)

POINTS = ["cit-01", "cit-02", "cit-03"]
WORKERS = ["pantau-collector-1", "pantau-collector-2"]


@pytest.fixture
def secure(tmp_path: Path) -> SecureBroker:
    registry = registry_file(tmp_path / "registry.yaml", POINTS)
    broker = prepare_secure_broker(tmp_path / "secure", registry)
    broker.pki.issue_many(WORKERS, "collector", "both")  # `pantau pki issue NAME --role collector`
    write_broker_files(broker.pki, POINTS, broker.files.out, broker.settings)
    broker.service.start()
    yield broker  # type: ignore[misc]
    broker.service.stop()


@pytest.mark.parametrize("method", ["cert", "password"])
def test_each_worker_logs_in_as_its_own_collector_identity(
    secure: SecureBroker, tmp_path: Path, influxd: Service, database: str, method: str
) -> None:
    bundle = secure.pki.bundle_dir("pantau-collector-{worker}")
    mqtt: dict[str, object] = {
        "host": "127.0.0.1",
        "username": "pantau-collector-{worker}",
        "client_id": "pantau-collector",
        "share_group": "pantau",
        "tls": {"ca_file": str(secure.pki.ca_cert_path)},
    }
    if method == "cert":
        mqtt["port"] = secure.cert_port
        mqtt["tls"] |= {"cert_file": f"{bundle}/cert.pem", "key_file": f"{bundle}/key.pem"}  # type: ignore[operator]
    else:
        mqtt["port"] = secure.password_port
        mqtt["password_file"] = f"{bundle}/password"
    collector = start_collector(
        collector_config(
            tmp_path / "collector.yaml",
            int(mqtt["port"]),  # type: ignore[call-overload]
            influxd.url,
            database,
            tmp_path / "registry.yaml",
            mqtt=mqtt,
            workers=2,
        ),
        tmp_path / "collector.log",
    )
    points = [{"id": p, "source": {"kind": "simulated", "fixed_rx_bps": 1e6}} for p in POINTS]
    agent = start_agent(
        agent_config(
            tmp_path / "agent" / "agent.yaml",
            secure.password_port,
            points,
            interval_s=0.05,
            mqtt=secure.agent_mqtt("password") | {"reconnect_min_s": 0.2, "reconnect_max_s": 2},
        ),
        tmp_path / "agent.log",
    )
    db = influx(influxd.url, database)
    try:
        wait_for(lambda: collector.log().count("subscribed to 3") == 2, 30, "both subscribed")
        wait_for(lambda: len(db.query('SELECT * FROM "telemetry"')) >= 100, 60, "100 rows")
    finally:
        agent.stop()
    taken = taken_samples(tmp_path / "agent" / "agent-state")
    wait_all_stored(db, taken, 30)
    assert collector.stop() == 0
    assert_exactly_once(db, taken)
    log = collector.log()
    # neither took the other's session: each connected once and stayed
    assert log.count("connected to 127.0.0.1") == 2, log[-3000:]
    assert "broker refused" not in log and "(reconnecting)" not in log, log[-3000:]
    accepted = re.findall(r"\[worker \d\]: stopped; stats .*\"accepted\": (\d+)", log)
    assert len(accepted) == 2 and all(int(n) > 0 for n in accepted), accepted
