"""A raw MQTT v5 client for tests that probe the broker: it records what the broker answered
(CONNACK, SUBACK and PUBACK reason codes, disconnects) and what it delivered."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from pantau.shared.wire import Sample, Telemetry, encode
from tests.pipeline import wait_for


@dataclass
class Session:
    """A raw MQTT v5 client that records what the broker answered."""

    client: mqtt.Client
    connack: str | None = None
    error: str | None = None
    acks: dict[int, str] = field(default_factory=dict)
    received: list[tuple[str, bytes]] = field(default_factory=list)
    subscribed: list[str] = field(default_factory=list)

    def publish(self, topic: str, payload: bytes) -> str:
        """Publish at QoS 1 and return the broker's PUBACK reason."""
        info = self.client.publish(topic, payload, qos=1)
        return wait_for(lambda: self.acks.get(info.mid), 5, f"PUBACK of {topic}", step_s=0.02)

    def subscribe(self, *filters: str) -> list[str]:
        """Subscribe at QoS 1 and return the broker's SUBACK reasons."""
        before = len(self.subscribed)
        self.client.subscribe([(f, 1) for f in filters])
        wait_for(lambda: len(self.subscribed) >= before + len(filters), 5, "SUBACK", step_s=0.02)
        return self.subscribed[before:]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def connect(
    port: int,
    ca: Path | None,
    username: str | None = None,
    password: str | None = None,
    cert: Path | None = None,
    key: Path | None = None,
    client_id: str = "probe",
    host: str = "127.0.0.1",
    insecure: bool = False,
    session_expiry_s: int | None = None,
) -> Session:
    """Connect and wait for the broker's verdict: the CONNACK reason, or why TLS failed."""
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    session = Session(client)
    if username is not None:
        client.username_pw_set(username, password)
    if ca is not None:
        client.tls_set(
            ca_certs=str(ca),
            certfile=str(cert) if cert else None,
            keyfile=str(key) if key else None,
            cert_reqs=ssl.CERT_REQUIRED,
        )
        client.tls_insecure_set(insecure)

    def on_connect(c: Any, u: Any, flags: Any, reason: Any, props: Any) -> None:
        session.connack = str(reason)

    def on_disconnect(c: Any, u: Any, flags: Any, reason: Any, props: Any) -> None:
        session.error = session.error or f"disconnected: {reason}"

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    client.on_publish = lambda c, u, mid, reason, props: session.acks.__setitem__(mid, str(reason))
    client.on_subscribe = lambda c, u, mid, reasons, props: session.subscribed.extend(
        str(r) for r in reasons
    )
    client.on_message = lambda c, u, m: session.received.append((m.topic, m.payload))
    try:
        if session_expiry_s is None:
            client.connect(host, port, keepalive=10)
        else:  # a persistent session, resumed if it exists
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = session_expiry_s
            client.connect(host, port, keepalive=10, clean_start=False, properties=props)
    except (OSError, ssl.SSLError) as exc:
        session.error = f"{type(exc).__name__}: {exc}"
        return session
    client.loop_start()
    wait_for(lambda: session.connack or session.error, 5, "the broker's answer", step_s=0.02)
    return session


def secret(path: Path | None) -> str:
    assert path is not None
    return path.read_text().strip()


def sample(seq: int, ts_ms: int, rx_bps: float) -> Sample:
    return Sample(
        ts_ms=ts_ms, seq=seq, boot="b1", interval_s=10, device_up=True, wan_up=True, rx_bps=rx_bps
    )


def telemetry(point: str, samples: list[Sample]) -> bytes:
    return encode(Telemetry(point=point, samples=samples))
