"""What an agent says when it cannot talk to its broker: every wrong setup a technician makes in
the field gets one line that names it, within seconds, and a normal stop is not a warning."""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pantau.collector.admin.pki import Pki
from pantau.collector.lab.services import Service
from pantau.shared.mqtt_client import MqttConfig, make_client
from tests.pipeline import Proc, agent_config, start_agent, wait_for

POINT = "tegalratu-01"


def run_agent(tmp: Path, port: int, **mqtt: Any) -> Proc:
    config = agent_config(
        tmp / "agent" / "agent.yaml",
        port,
        [{"id": POINT, "source": {"kind": "simulated", "fixed_rx_bps": 1e6}}],
        interval_s=1,
        # no collector sends receipts here: a stop would wait its whole goodbye (6 s) for them
        publish={"goodbye_drain_s": 0.5},
    )
    if mqtt:
        import yaml

        data = yaml.safe_load(config.read_text())
        data["mqtt"] |= mqtt
        config.write_text(yaml.safe_dump(data))
    return start_agent(config, tmp / "agent.log")


@contextlib.contextmanager
def listener(wrap: ssl.SSLContext | None = None) -> Iterator[int]:
    """A TCP port that accepts and then never speaks MQTT (optionally TLS, handshaking)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            if wrap is not None:
                conn.settimeout(5)
                with contextlib.suppress(OSError, ssl.SSLError):
                    conn = wrap.wrap_socket(conn, server_side=True)
            held.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        server.close()


def test_an_address_that_takes_tcp_and_never_answers_is_named(tmp_path: Path) -> None:
    with listener() as port:
        agent = run_agent(tmp_path, port)
        try:
            line = f"no MQTT answer from 127.0.0.1:{port} within 10 s (TCP connected)"
            agent.wait_log(line, 40)
            assert "is it a TLS port (then set mqtt.tls)" in agent.log()
        finally:
            agent.stop()


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    pki = Pki(tmp_path / "pki")
    pki.init()
    return pki


def test_a_plain_agent_at_a_tls_port_is_told_to_set_tls(tmp_path: Path, pki: Pki) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.broker_cert_path, pki.broker_key_path)
    with listener(context) as port:
        agent = run_agent(tmp_path, port)
        try:
            agent.wait_log(f"is port {port} a TLS port (then set mqtt.tls)?", 40)
        finally:
            agent.stop()


def test_a_tls_agent_at_a_plain_port_is_told_so(
    tmp_path: Path, pki: Pki, mosquitto: Service
) -> None:
    agent = run_agent(tmp_path, mosquitto.port, tls={"ca_file": str(pki.ca_cert_path)})
    try:
        agent.wait_log(f"is port {mosquitto.port} a TLS listener?", 40)
    finally:
        agent.stop()


def test_two_agents_for_one_point_are_named_once_not_every_second(
    tmp_path: Path, mosquitto: Service
) -> None:
    first = run_agent(tmp_path / "one", mosquitto.port)
    second = run_agent(tmp_path / "two", mosquitto.port)
    try:
        hint = f"another client is probably logged in as {POINT}"
        wait_for(lambda: hint in first.log() + second.log(), 60, "the two-agents hint")
        flaps = (first.log() + second.log()).count("disconnected from broker")
        broker_log = mosquitto.workdir / "mosquitto.log"
        wait_for(
            lambda: broker_log.read_text().count("already connected") > 20,
            60,
            "the two agents taking the session from each other twenty times",
        )
        later = (first.log() + second.log()).count("disconnected from broker")
        assert later <= flaps + 4, "the fight is not logged once per second"
    finally:
        first.stop()
        second.stop()


def test_a_normal_stop_is_not_a_warning(tmp_path: Path, mosquitto: Service) -> None:
    agent = run_agent(tmp_path, mosquitto.port)
    agent.wait_log("connected to broker", 30)
    assert agent.stop() == 0
    stops = [line for line in agent.log().splitlines() if "disconnected from broker" in line]
    assert stops and all(" INFO " in line for line in stops), stops


def test_a_password_in_clear_to_another_host_is_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    make_client(MqttConfig(host="10.20.30.40", password="s3cret-value"), "c1")
    make_client(MqttConfig(host="127.0.0.1", password="s3cret-value"), "c2")
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == [
        "the MQTT password travels in clear to 10.20.30.40:1883: no `tls:` in the mqtt section;"
        " add tls.ca_file (docs/security.md)"
    ]
    assert "s3cret" not in caplog.text
