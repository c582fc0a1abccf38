"""After a collector outage, receipts for every point's backlog arrive together: the agent
keeps every MQTT session alive while it forgets what they confirm (issue 17).

A receipt once deleted its rows on the network thread, one synced transaction per message, so
a burst of them kept that thread from its sockets until the broker dropped sessions for missed
keepalives. Here the spool's disk is slow in a controlled way (every commit waits 50 ms, as a
slow fsync), the collector's receipts (one per point, naming its whole backlog, as a catching-up
collector batches them) come at once, and no session may drop while every message is forgotten
exactly once. A real mosquitto; the test plays the collector.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from pantau.agent.config import MqttConfig, PublishConfig
from pantau.agent.netloop import NetLoop
from pantau.agent.publisher import PointPublisher
from pantau.agent.spool import Spool, SpoolView
from pantau.collector.lab.services import Service
from pantau.shared import topics
from tests.pipeline import wait_for

POINTS = [f"susul-{i:02d}" for i in range(1, 5)]
BACKLOG = 150  # messages per point awaiting their receipt when the collector comes back
KEEPALIVE_S = 5  # the broker drops a session silent for 7.5 s
SLOW_COMMIT_S = 0.05  # 600 synced deletes one by one: 30 s of a blocked network thread
FORGET_FORMED = "DELETE FROM formed WHERE point = ? AND n = ?"


class SlowDisk:
    """The spool's connection, whose every COMMIT takes `delay` longer once slowed (a slow
    fsync, inside the spool's lock as a real one is); it records each kept message deleted."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self.delay = 0.0
        self.forgotten: list[tuple[str, int]] = []  # (point, n) of each message deleted
        self.again = 0  # deletes of a message already gone

    def execute(self, sql: str, args: Any = ()) -> sqlite3.Cursor:
        if sql == "COMMIT" and self.delay:
            time.sleep(self.delay)
        cursor = self._db.execute(sql, args)
        if sql == FORGET_FORMED:
            if cursor.rowcount:
                self.forgotten.append((args[0], args[1]))
            else:
                self.again += 1
        return cursor

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


class Collector:
    """Records each point's messages as they arrive; sends their receipts when told."""

    def __init__(self, port: int) -> None:
        self.ids: dict[str, list[str]] = {p: [] for p in POINTS}
        self._lock = threading.Lock()
        subscribed = threading.Event()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id="catchup-collector",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        self.client.on_connect = lambda c, *_: c.subscribe(topics.telemetry_topic("+"), qos=1)
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        assert subscribed.wait(20), "the collector never subscribed"

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        point = msg.topic.split("/")[2]
        msg_id = msg.properties.CorrelationData.decode()  # type: ignore[union-attr]
        with self._lock:
            if msg_id not in self.ids[point]:
                self.ids[point].append(msg_id)

    def received(self) -> int:
        with self._lock:
            return sum(len(ids) for ids in self.ids.values())

    def send_receipts(self) -> None:
        """One receipt per point naming every message of it, all at once."""
        with self._lock:
            receipts = {p: list(ids) for p, ids in self.ids.items()}
        for point, ids in receipts.items():
            payload = json.dumps({"v": 2, "point": point, "stored": ids}).encode()
            self.client.publish(topics.receipt_topic(point), payload, qos=1)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def connects(mosquitto: Service) -> dict[str, int]:
    """How often each point's session connected, as the broker logged it."""
    text = (mosquitto.workdir / "mosquitto.log").read_text()
    found = re.findall(r"connected from \S+ as pantau-agent-(\S+) ", text)
    return {p: found.count(p) for p in POINTS}


def test_a_burst_of_receipts_on_a_slow_disk_drops_no_session(
    tmp_path: Path, mosquitto: Service
) -> None:
    spool = Spool(tmp_path / "spool.sqlite", max_samples_per_point=10_000)
    for point in POINTS:
        for _ in range(BACKLOG):
            spool.append_sample(point, lambda seq: f'{{"seq":{seq},"rx_bps":{1000 + seq}}}')
    disk = SlowDisk(spool._db)
    spool._db = disk  # type: ignore[assignment]
    collector = Collector(mosquitto.port)
    loop = NetLoop(connect_threads=1)
    publishers = [
        PointPublisher(
            point,
            "boot-1",
            "simulated",
            spool,
            MqttConfig(port=mosquitto.port, keepalive_s=KEEPALIVE_S, reconnect_min_s=0.2),
            # each sample its own message, the whole backlog out at once, awaiting receipts
            PublishConfig(
                batch_max=1, receipt_window=BACKLOG, inflight_max=20, drain_msgs_per_s=1000
            ),
            loop,
        )
        for point in POINTS
    ]
    try:
        loop.start()
        for publisher in publishers:
            publisher.start()
        total = BACKLOG * len(POINTS)
        wait_for(lambda: collector.received() == total, 60, "every message at the collector")
        assert connects(mosquitto) == {p: 1 for p in POINTS}
        disk.delay = SLOW_COMMIT_S  # the disk turns slow, and the receipts come back
        collector.send_receipts()
        wait_for(lambda: len(disk.forgotten) == total, 90, "every message forgotten")
        # every session still the first one: none dropped while the receipts were forgotten
        assert all(p.connected for p in publishers)
        assert connects(mosquitto) == {p: 1 for p in POINTS}
        log = (mosquitto.workdir / "mosquitto.log").read_text()
        assert "exceeded timeout" not in log
    finally:
        loop.stop()
        collector.close()
        spool.close()
    # each message forgotten exactly once, and with it every row of its point
    assert sorted(disk.forgotten) == sorted((p, n) for p in POINTS for n in range(BACKLOG))
    assert disk.again == 0
    with SpoolView(tmp_path / "spool.sqlite") as view:
        assert view.rows() == 0
        assert {p: v.waiting for p, v in view.progress().items()} == {p: 0 for p in POINTS}
