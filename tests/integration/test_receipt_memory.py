"""Messages awaiting a receipt are tracked without their bytes (agent/publisher.py `_Sent`): a
resend reads the message back from the spool, and must be the first send byte for byte (same
payload, same signature and chain place), whether it goes after the receipt timeout or after a
restart. A real mosquitto, no collector (so no receipt ever comes), a signing point, and a
subscriber that records every copy as it arrived."""

from __future__ import annotations

import gc
import threading
import types
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from pantau.agent.config import MqttConfig, PublishConfig
from pantau.agent.publisher import PointPublisher
from pantau.agent.spool import Kept, Spool, SpoolView
from pantau.collector.archive import signing
from pantau.collector.lab.services import Service
from pantau.shared import topics
from tests.pipeline import wait_for

POINT = "ingat-01"

# (payload, user properties, correlation data): a message as a subscriber received it
Copy = tuple[bytes, list[tuple[str, str]], bytes]


class Recorder:
    """Every copy of the point's telemetry the broker delivers, raw, in arrival order."""

    def __init__(self, port: int) -> None:
        self.copies: list[Copy] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id="receipt-memory-recorder",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        self.client.on_connect = lambda c, *_: c.subscribe(topics.telemetry_topic(POINT), qos=1)
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        assert self._subscribed.wait(20), "the recorder never subscribed"

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        props = msg.properties
        copy = (
            bytes(msg.payload),
            list(getattr(props, "UserProperty", [])),
            bytes(getattr(props, "CorrelationData", b"")),
        )
        with self._lock:
            self.copies.append(copy)

    def got(self, count: int) -> list[Copy]:
        """The first `count` copies, once that many arrived (a generous deadline)."""
        wait_for(lambda: len(self.copies) >= count, 60, f"{count} copies received")
        with self._lock:
            return self.copies[:count]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def publisher(
    tmp_path: Path, spool: Spool, port: int, boot: str, receipt_timeout_s: float
) -> PointPublisher:
    """A signing point that sends each sample as its own message, awaiting receipts."""
    key_file = tmp_path / "signing.key"
    if not key_file.exists():
        signing.save_private_key(key_file, signing.generate())
    return PointPublisher(
        POINT,
        boot,
        "simulated",
        spool,
        MqttConfig(port=port, reconnect_min_s=0.2, reconnect_max_s=1),
        PublishConfig(
            batch_max=1, receipt_timeout_s=receipt_timeout_s, signing_key_file=str(key_file)
        ),
    )


def spool_samples(tmp_path: Path, count: int) -> Spool:
    spool = Spool(tmp_path / "spool.sqlite", max_samples_per_point=1000, sync="normal")
    for _ in range(count):
        spool.append_sample(POINT, lambda seq: f'{{"seq":{seq},"rx_bps":{1000 + seq}}}')
    return spool


def rows_left(tmp_path: Path) -> int:
    """The point's rows still in the spool, looked at from outside."""
    with SpoolView(tmp_path / "spool.sqlite") as view:
        return view.rows(POINT)


def all_acknowledged(pub: PointPublisher, count: int) -> bool:
    """Every message went and the broker PUBACKed it; none has a receipt."""
    sent = list(pub._sent.values())
    return len(sent) == count and all(s.attempts and s.mid is None for s in sent)


def test_a_resend_read_back_from_the_spool_is_the_first_send_byte_for_byte(
    tmp_path: Path, mosquitto: Service
) -> None:
    recorder = Recorder(mosquitto.port)
    spool = spool_samples(tmp_path, 3)
    first = publisher(tmp_path, spool, mosquitto.port, "boot-1", receipt_timeout_s=5)
    second = publisher(tmp_path, spool, mosquitto.port, "boot-2", receipt_timeout_s=600)
    try:
        first.start()
        sent = recorder.got(3)
        assert [s[2] for s in sent] == [f"boot-1-{n}".encode() for n in (1, 2, 3)]
        assert all({k for k, _ in s[1]} == {"k", "p", "s"} for s in sent)
        assert len({dict(s[1])["s"] for s in sent}) == 3  # each its own signature
        # No receipt comes: after 5 s the oldest goes again (only it: no collector answers).
        wait_for(lambda: all_acknowledged(first, 3), 30, "every message acknowledged")
        assert recorder.got(4)[3] == sent[0]
        first.stop(timeout_s=20)  # its goodbye waits a while for receipts that never come
        assert first.finished and rows_left(tmp_path) == 3  # none forgotten without a receipt
        # A restart sends every kept message again, each read back from the spool, oldest
        # first (its goodbye may have sent the next oldest once more: each the same too).
        before = len(recorder.copies)
        assert all(copy in sent for copy in recorder.got(before))
        second.start()
        assert recorder.got(before + 3)[before:] == sent
    finally:
        for pub in (first, second):
            if not pub.finished:
                pub.stop(timeout_s=20)
        recorder.close()
        spool.close()
    assert rows_left(tmp_path) == 3


def test_a_kept_message_gone_from_the_spool_is_no_longer_tracked_nor_sent(
    tmp_path: Path, mosquitto: Service
) -> None:
    """When one is due again but the spool no longer keeps it (its rows forgotten), the
    publisher lets it go: the next oldest is the one retried."""
    recorder = Recorder(mosquitto.port)
    spool = spool_samples(tmp_path, 2)
    pub = publisher(tmp_path, spool, mosquitto.port, "boot-1", receipt_timeout_s=5)
    try:
        pub.start()
        sent = recorder.got(2)
        wait_for(lambda: all_acknowledged(pub, 2), 30, "every message acknowledged")
        oldest = next(iter(pub._sent.values())).kept
        spool.forget(POINT, oldest.row_ids, oldest.dropped, oldest.n)  # as a receipt would
        wait_for(lambda: oldest.msg_id not in pub._sent, 30, "the oldest no longer tracked")
        assert recorder.got(3) == [*sent, sent[1]]
        assert [s.msg_id for s in pub._sent.values()] == ["boot-1-2"]
    finally:
        pub.stop(timeout_s=20)
        recorder.close()
        spool.close()
    assert rows_left(tmp_path) == 1


# Walked through, never into: what every object of the process shares.
SHARED = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.CodeType)


def reachable(root: object) -> Iterator[object]:
    """Every object `root` holds, directly or through others (classes, modules and functions
    are not followed: they lead to everything)."""
    seen = {id(root)}
    todo = [root]
    while todo:
        obj = todo.pop()
        yield obj
        if isinstance(obj, SHARED):
            continue
        for ref in gc.get_referents(obj):
            if id(ref) not in seen:
                seen.add(id(ref))
                todo.append(ref)


def test_once_the_broker_has_a_message_the_publisher_holds_none_of_its_bytes(
    tmp_path: Path, mosquitto: Service
) -> None:
    recorder = Recorder(mosquitto.port)
    spool = spool_samples(tmp_path, 4)
    pub = publisher(tmp_path, spool, mosquitto.port, "boot-1", receipt_timeout_s=600)
    try:
        pub.start()
        sent = recorder.got(4)
        wait_for(lambda: all_acknowledged(pub, 4), 30, "every message acknowledged")
        assert [type(s.kept) for s in pub._sent.values()] == [Kept] * 4
        payloads = [payload for payload, _, _ in sent]
        signatures = [dict(props)["s"] for _, props, _ in sent]
        held = [o for o in reachable(pub) if isinstance(o, bytes | bytearray | str)]
        assert len(held) > 100  # the walk reached the client, the spool, the loop
        # neither as an object of its own nor inside a buffer (paho's packets are bytearrays)
        assert [o for o in held if isinstance(o, str) and any(s in o for s in signatures)] == []
        assert [o for o in held if not isinstance(o, str) and any(p in o for p in payloads)] == []
        assert pub._client._out_messages == {}  # paho let go of them on their PUBACK
    finally:
        pub.stop(timeout_s=20)
        recorder.close()
        spool.close()
    assert rows_left(tmp_path) == 4
