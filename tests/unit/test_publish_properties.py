"""A message's MQTT v5 properties share paho's property tables (agent/publisher.py
`publish_properties`): the same bytes on the wire as paho's own, each message its own values,
and one set of tables however many messages wait for their PUBACK."""

from __future__ import annotations

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from pantau.agent.publisher import publish_properties

SIGNED = [("k", "ab12cd34ef56ab12"), ("p", "0" * 64), ("s", "f" * 128)]


def filled(properties: Properties, msg_id: str) -> Properties:
    properties.CorrelationData = msg_id.encode()
    properties.UserProperty = SIGNED
    return properties


def test_they_pack_as_paho_s_own() -> None:
    lean = filled(publish_properties(), "4f1e-1a")
    own = filled(Properties(PacketTypes.PUBLISH), "4f1e-1a")
    assert lean.pack() == own.pack()
    assert (
        lean.json()
        == own.json()
        == {
            "CorrelationData": b"4f1e-1a".hex(),
            "UserProperty": SIGNED,
        }
    )
    assert publish_properties().pack() == Properties(PacketTypes.PUBLISH).pack() == b"\x00"


def test_each_message_has_its_own_values_and_shares_the_tables() -> None:
    first = filled(publish_properties(), "4f1e-1")
    second = publish_properties()
    second.CorrelationData = b"4f1e-2"
    assert not hasattr(second, "UserProperty")
    assert first.CorrelationData == b"4f1e-1" and second.CorrelationData == b"4f1e-2"
    assert first.names is second.names
    assert first.properties is second.properties
    assert first.types is second.types
    assert not hasattr(publish_properties(), "CorrelationData")  # the shared tables hold none
