"""The broker as `pantau broker config` writes it, run for real: who gets in, who may say what.

Every refusal is checked at the broker itself (CONNACK and PUBACK reason codes, a subscriber
that would have seen a forged message), and its effect in InfluxDB, where the money is decided.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from hypothesis import HealthCheck, given, settings
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from pantau.collector.admin.pki import Pki
from pantau.collector.lab.secure_broker import SecureBroker, prepare_secure_broker
from pantau.collector.lab.services import Service
from pantau.shared import topics
from pantau.shared.wire import Telemetry, encode
from tests.broker_probe import connect, sample, secret, telemetry
from tests.netns import Netns, needs_netns
from tests.payloads import NOW_MS, REGISTRY, messages
from tests.pipeline import (
    PANTAU,
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
    write_yaml,
)

POINTS = ["cit-01", "cit-02", "cit-03"]


@pytest.fixture
def secure(tmp_path: Path) -> Iterator[SecureBroker]:
    registry = registry_file(tmp_path / "registry.yaml", POINTS)
    broker = prepare_secure_broker(tmp_path / "secure", registry)
    broker.service.start()
    yield broker
    broker.service.stop()


def test_who_gets_in(secure: SecureBroker, tmp_path: Path) -> None:
    ca = secure.pki.ca_cert_path
    a = secure.agents["cit-01"]
    assert connect(secure.password_port, ca).connack == "Not authorized"  # anonymous, TLS
    wrong = connect(secure.password_port, ca, "cit-01", "not-the-password-at-all")
    assert wrong.connack == "Not authorized"
    stranger = connect(secure.password_port, ca, "nobody", secret(a.password_file))
    assert stranger.connack == "Not authorized"  # a real password under another name
    good = connect(secure.password_port, ca, "cit-01", secret(a.password_file))
    assert good.connack == "Success"
    good.close()
    # The certificate listener: a certificate of ours gets in, none or another CA's does not.
    assert connect(secure.cert_port, ca, cert=a.cert_file, key=a.key_file).connack == "Success"
    assert connect(secure.cert_port, ca).connack is None  # no certificate: TLS refused
    other = Pki(tmp_path / "other-ca")
    other.init(["127.0.0.1"])
    forged = other.issue("cit-01")  # same name, same kind of file: another CA signed it
    refused = connect(secure.cert_port, ca, cert=forged.cert_file, key=forged.key_file)
    assert refused.connack is None, refused
    # The agent checks the broker too: a broker certificate from another CA is refused.
    assert connect(
        secure.password_port, other.ca_cert_path, "cit-01", secret(a.password_file)
    ).error
    log = secure.service.log_path.read_text()
    assert log.count("certificate verify failed") >= 1
    assert "peer did not return a certificate" in log


def test_an_agent_speaks_only_for_its_point(
    secure: SecureBroker, tmp_path: Path, influxd: Service, database: str
) -> None:
    registry = tmp_path / "registry.yaml"
    config = collector_config(
        tmp_path / "collector.yaml",
        secure.cert_port,
        influxd.url,
        database,
        registry,
        mqtt=secure.collector_mqtt() | {"client_id": "collector"},
    )
    collector = start_collector(config, tmp_path / "collector.log")
    ca = secure.pki.ca_cert_path
    a, b = secure.agents["cit-01"], secure.agents["cit-02"]
    noc = connect(secure.password_port, ca, "noc", secret(secure.noc.password_file), client_id="n")
    agent_a = connect(secure.password_port, ca, "cit-01", secret(a.password_file), client_id="a")
    agent_b = connect(secure.cert_port, ca, cert=b.cert_file, key=b.key_file, client_id="b")
    try:
        # Subscriptions are checked when made: the NOC reads agent states only, an agent
        # may subscribe to nothing at all.
        assert noc.subscribe("pantau/v1/#") == ["Not authorized"]
        assert agent_a.subscribe("pantau/v1/#") == ["Not authorized"]
        # Receipts: an agent reads its own, nobody but a collector writes any.
        assert agent_a.subscribe(topics.receipt_topic("cit-02")) == ["Not authorized"]
        assert agent_a.subscribe(topics.receipt_topic("cit-01")) == ["Granted QoS 1"]
        assert agent_a.publish(topics.receipt_topic("cit-02"), b"{}") == "Not authorized"
        assert agent_a.publish(topics.receipt_topic("cit-01"), b"{}") == "Not authorized"
        assert noc.publish(topics.receipt_topic("cit-01"), b"{}") == "Not authorized"
        now = int(time.time() * 1000)
        assert agent_b.publish(topics.telemetry_topic("cit-02"), telemetry("cit-02", [
            sample(0, now - 20_000, 20e6), sample(1, now - 10_000, 21e6)
        ])) == "Success"  # fmt: skip
        # A, with its own valid credentials, writes B's topic, with B's name in the payload.
        forged = telemetry("cit-02", [sample(1, now - 10_000, 1.0), sample(2, now, 1.0)])
        assert agent_a.publish(topics.telemetry_topic("cit-02"), forged) == "Not authorized"
        assert agent_a.publish(topics.state_topic("cit-02"), b"{}") == "Not authorized"
        assert agent_a.publish("pantau/v1/cit-01/other", b"{}") == "Not authorized"
        assert noc.publish(topics.telemetry_topic("cit-02"), forged) == "Not authorized"
        marker = telemetry("cit-01", [sample(0, now, 5e6)])
        assert agent_a.publish(topics.telemetry_topic("cit-01"), marker) == "Success"
        db = influx(influxd.url, database)
        wait_for(lambda: len(db.query('SELECT * FROM "telemetry"')) == 3, 15, "3 rows stored")
        rows = db.query('SELECT "point", "seq", "rx_bps" FROM "telemetry" ORDER BY time')
    finally:
        for session in (noc, agent_a, agent_b):
            session.close()
        collector.stop()
    assert noc.received == agent_a.received == []
    by_point = sorted((r["point"], r["seq"], r["rx_bps"]) for r in rows)
    assert by_point == [("cit-01", 0, 5e6), ("cit-02", 0, 20e6), ("cit-02", 1, 21e6)]
    stats = json.loads(collector.log().splitlines()[-1].split("stats ", 1)[1])
    assert stats["received"] == 2 and stats["rejected"] == {}  # the broker dropped them all


def test_revoking_is_one_command(secure: SecureBroker, tmp_path: Path) -> None:
    ca = secure.pki.ca_cert_path
    a, b = secure.agents["cit-01"], secure.agents["cit-02"]
    cert_copy = tmp_path / "cit-01-cert.pem", tmp_path / "cit-01-key.pem"
    for source, copy in zip((a.cert_file, a.key_file), cert_copy, strict=True):
        assert source is not None
        copy.write_bytes(source.read_bytes())
        copy.chmod(0o600)
    password_b = secret(b.password_file)
    by_cert = connect(secure.cert_port, ca, cert=a.cert_file, key=a.key_file, client_id="a")
    by_password = connect(secure.password_port, ca, "cit-02", password_b, client_id="b")
    assert by_cert.connack == by_password.connack == "Success"
    assert secure.service.process is not None
    for point in ("cit-01", "cit-02"):
        done = subprocess.run(
            [*PANTAU, "pki", "revoke", point, "--dir", str(secure.pki.dir), "--reload-pid",
             str(secure.service.process.pid)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert f"{point}: revoked" in done.stdout
    try:
        wait_for(lambda: by_password.error, 5, "the revoked password session to be dropped")
        wait_for(lambda: by_cert.error, 5, "the revoked certificate session to be dropped")
        again = connect(secure.cert_port, ca, cert=cert_copy[0], key=cert_copy[1])
        assert again.connack is None  # in the CRL: the handshake fails
        assert connect(secure.password_port, ca, "cit-02", password_b).connack == "Not authorized"
        c = secure.agents["cit-03"]  # the others are untouched
        assert connect(secure.password_port, ca, "cit-03", secret(c.password_file)).connack == (
            "Success"
        )
    finally:
        by_cert.close()
        by_password.close()
    rules = json.loads(secure.files.rules.read_text())
    assert [c["username"] for c in rules["clients"] if c["username"].startswith("cit-")] == [
        "cit-03"
    ]
    assert rules["pantau"]["revoked"] == ["cit-01", "cit-02"]
    assert "cit-02:" not in secure.files.passwd.read_text()
    assert not (secure.pki.bundle_dir("cit-02") / "password").exists()


def test_agents_and_collector_over_tls_keep_no_secret_in_logs(
    secure: SecureBroker, tmp_path: Path, influxd: Service, database: str
) -> None:
    """Real processes, TLS everywhere, a credential per point; then every log is searched for
    every secret they used."""
    env = {"PANTAU_LOG_LEVEL": "DEBUG"}
    collector = start_collector(
        collector_config(
            tmp_path / "collector.yaml",
            secure.cert_port,
            influxd.url,
            database,
            tmp_path / "registry.yaml",
            mqtt=secure.collector_mqtt() | {"client_id": "collector", "share_group": "pantau"},
        ),
        tmp_path / "collector.log",
        env,
    )
    reconnect = {"reconnect_min_s": 0.2, "reconnect_max_s": 2}
    points = [
        {"id": p, "source": {"kind": "simulated", "fixed_rx_bps": 1e6, "fixed_clients": 3}}
        for p in POINTS
    ]
    by_password = start_agent(
        agent_config(
            tmp_path / "a" / "agent.yaml",
            secure.password_port,
            points[:2],
            interval_s=0.2,
            mqtt=secure.agent_mqtt("password") | reconnect,
        ),
        tmp_path / "agent-password.log",
        env,
    )
    by_cert = start_agent(
        agent_config(
            tmp_path / "b" / "agent.yaml",
            secure.cert_port,
            points[2:],
            interval_s=0.2,
            mqtt=secure.agent_mqtt("cert") | reconnect,
        ),
        tmp_path / "agent-cert.log",
        env,
    )
    db = influx(influxd.url, database)
    try:
        wait_for(lambda: len(db.query('SELECT * FROM "telemetry"')) >= 30, 30, "30 rows")
    finally:
        by_password.stop()
        by_cert.stop()
    taken = taken_samples(tmp_path / "a" / "agent-state") | taken_samples(
        tmp_path / "b" / "agent-state"
    )
    assert sorted(taken) == POINTS
    wait_all_stored(db, taken, 15)
    collector.stop()
    assert_exactly_once(db, taken)
    states = db.query('SELECT "state" FROM "state" GROUP BY "point"')
    assert {r["point"] for r in states} == set(POINTS)
    secrets = [secret(secure.agents[p].password_file) for p in POINTS]
    secrets.append(secret(secure.collector.password_file))
    for key in [secure.collector.key_file, *(secure.agents[p].key_file for p in POINTS)]:
        assert key is not None
        secrets += [line for line in key.read_text().splitlines() if "-----" not in line]
    logs = {
        path.name: path.read_text(errors="replace")
        for path in (
            tmp_path / "collector.log",
            tmp_path / "agent-password.log",
            tmp_path / "agent-cert.log",
            secure.service.log_path,
        )
    }
    assert "DEBUG" in logs["collector.log"]  # the most talkative level was on
    for name, text in logs.items():
        leaked = [s[:4] + "..." for s in secrets if s in text]
        assert not leaked, f"{name} contains secrets {leaked}"


def test_a_secret_file_others_can_read_is_refused(secure: SecureBroker, tmp_path: Path) -> None:
    key = secure.agents["cit-01"].key_file
    assert key is not None
    key.chmod(0o640)
    config = agent_config(
        tmp_path / "agent.yaml",
        secure.cert_port,
        [{"id": "cit-01", "source": {"kind": "simulated"}}],
        mqtt=secure.agent_mqtt("cert"),
    )
    done = subprocess.run(
        [*PANTAU, "agent", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"pantau agent: {key}: secret file is readable by group or others (mode 640);"
        f" run: chmod 600 {key}"
    )


@needs_netns
def test_plaintext_listener_is_loopback_only(tmp_path: Path) -> None:
    ns = Netns.create(subnet=71)
    try:
        registry = registry_file(tmp_path / "registry.yaml", POINTS)
        broker = prepare_secure_broker(
            tmp_path / "secure", registry, plain_port=True, bind=ns.host_ip
        )
        assert broker.plain_port is not None
        broker.service.start()
        try:
            probe = (
                "import socket,sys\n"
                "for port in sys.argv[2:]:\n"
                "    s = socket.socket()\n"
                "    s.settimeout(3)\n"
                "    print(port, s.connect_ex((sys.argv[1], int(port))))\n"
            )
            ports = [broker.plain_port, broker.password_port, broker.cert_port]
            seen = subprocess.run(
                [*ns.prefix(), sys.executable, "-c", probe, ns.host_ip, *map(str, ports)],
                capture_output=True, text=True, timeout=30, check=True,
            ).stdout.split()  # fmt: skip
            results = dict(zip(seen[::2], map(int, seen[1::2]), strict=True))
            assert results[str(broker.plain_port)] != 0  # refused: nothing listens there
            assert results[str(broker.password_port)] == 0  # the TLS listeners are reachable
            assert results[str(broker.cert_port)] == 0
            # The broker's certificate names 127.0.0.1 and localhost, not this address: a
            # client checking host names refuses it, unless told to skip that (tests only).
            noc = broker.noc
            ca, password = broker.pki.ca_cert_path, secret(noc.password_file)
            elsewhere = connect(broker.password_port, ca, "noc", password, host=ns.host_ip)
            assert elsewhere.connack is None
            assert "IP address mismatch" in str(elsewhere.error), elsewhere.error
            lax = connect(broker.password_port, ca, "noc", password, host=ns.host_ip, insecure=True)
            assert lax.connack == "Success"
            lax.close()
            # On loopback the plaintext port works, and still wants a password.
            assert connect(broker.plain_port, None).connack == "Not authorized"
            local = connect(broker.plain_port, None, "noc", secret(noc.password_file))
            assert local.connack == "Success"
            local.close()
        finally:
            broker.service.stop()
    finally:
        ns.remove()


def storm_messages(count: int) -> list[tuple[str, list[bytes], bool]]:
    """The unit fuzz test's messages, drawn deterministically, to throw at real processes."""
    drawn: list[tuple[str, list[bytes], bool]] = []

    @settings(
        max_examples=count,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(messages())
    def collect(message: tuple[str, list[bytes], bool]) -> None:
        drawn.append(message)

    collect()
    return drawn[:count]


def sendable(topic: str) -> bool:
    """Topics MQTT itself forbids never reach the collector: the broker drops the client."""
    return (
        bool(topic)
        and not set(topic) & {"+", "#"}
        and all(0x20 <= ord(c) < 0x7F or 0x9F < ord(c) < 0xFFFE for c in topic)
    )


def test_a_storm_through_the_real_collector(
    tmp_path: Path, mosquitto: Service, influxd: Service, database: str
) -> None:
    """Garbage, near misses and valid messages through mosquitto into a real collector and
    InfluxDB: it keeps running, InfluxDB refuses none of its lines, a valid message lands."""
    registry = write_yaml(
        tmp_path / "registry.yaml",
        {
            "contracts": [{"provider": p.provider} for p in REGISTRY.values()],
            "points": [p.model_dump(exclude_none=True) for p in REGISTRY.values()],
        },
    )
    config = collector_config(
        tmp_path / "collector.yaml",
        mosquitto.port,
        influxd.url,
        database,
        registry,
        limits={"max_age_s": 3650 * 86_400, "max_future_s": 86_400},  # NOW_MS is fixed
    )
    collector = start_collector(config, tmp_path / "collector.log")
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id="storm",
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    delivered = 0
    try:
        for topic, payloads, retained in storm_messages(150):
            if not sendable(topic):
                continue
            for payload in payloads:
                client.publish(topic, payload, qos=1, retain=retained).wait_for_publish(10)
                delivered += any(mqtt.topic_matches_sub(f, topic) for f in topics.subscriptions())
        valid = Telemetry(point="cit-02", samples=[sample(424_242, NOW_MS, 3.5e7)])
        client.publish(topics.telemetry_topic("cit-02"), encode(valid), qos=1).wait_for_publish(5)
        db = influx(influxd.url, database)
        wait_for(
            lambda: db.query('SELECT "rx_bps" FROM "telemetry" WHERE "seq" = 424242'),
            20,
            "the valid message after the storm",
        )
        assert collector.alive(), collector.log()[-2000:]
    finally:
        client.loop_stop()
        client.disconnect()
        collector.stop()
    stats = json.loads(collector.log().splitlines()[-1].split("stats ", 1)[1])
    assert delivered > 300
    assert stats["received"] == delivered + 1
    assert stats["accepted"] + sum(stats["rejected"].values()) >= stats["received"]
    assert stats["lines_refused"] == 0  # InfluxDB parsed every line the collector wrote
    rows = db.query('SELECT "point", "rx_bps" FROM "telemetry" WHERE "seq" = 424242')
    assert [(r["point"], r["rx_bps"]) for r in rows] == [("cit-02", 3.5e7)]
