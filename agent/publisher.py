"""Drain one point's spool to the broker at QoS 1; a row leaves the spool only on its PUBACK.

One MQTT session per point, so the broker's ACL, the retained birth and the Will (death) all
speak for exactly one point. The network loop runs in this publisher's own thread, with
reconnects under exponential backoff with jitter; the agent never exits because a broker is away.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import threading
import time
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

from pantau.agent import __version__
from pantau.agent.config import MqttConfig, PublishConfig
from pantau.agent.spool import Row, Spool
from pantau.shared import topics
from pantau.shared.backoff import Backoff, TokenBucket
from pantau.shared.logs import PointLogger
from pantau.shared.mqtt_client import make_client
from pantau.shared.wire import State, encode

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 512 * 1024


@dataclass
class _InFlight:
    rows: list[Row]
    dropped_reported: int


class PointPublisher:
    def __init__(
        self,
        point: str,
        boot: str,
        source_kind: str,
        spool: Spool,
        mqtt_config: MqttConfig,
        publish_config: PublishConfig,
    ) -> None:
        self.point = point
        self.boot = boot
        self.source_kind = source_kind
        self.spool = spool
        self.mqtt_config = mqtt_config
        self.publish_config = publish_config
        self.log = PointLogger(log, point)
        self._stop = threading.Event()
        self._dirty = threading.Event()
        self._connected = False
        self._inflight: dict[int, _InFlight] = {}
        self._last_sent_id = 0
        self._facts: dict[str, str] | None = None  # unknown until the first reading
        self._published_facts: dict[str, str] | None = None
        self._backoff = Backoff(mqtt_config.reconnect_min_s, mqtt_config.reconnect_max_s)
        self._bucket = TokenBucket(
            publish_config.drain_msgs_per_s, publish_config.inflight_max, time.monotonic()
        )
        self._last_error: str | None = None
        self._next_publish_at = 0.0
        self._client = self._make_client()  # replaced by a fresh one for every connection
        self._thread = threading.Thread(target=self._run, name=f"mqtt-{point}", daemon=True)

    # -- called from other threads -------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def notify(self) -> None:
        """New rows are in the spool."""
        self._dirty.set()

    def set_facts(self, facts: dict[str, str]) -> None:
        self._facts = dict(facts)

    @property
    def has_facts(self) -> bool:
        return self._facts is not None

    @property
    def connected(self) -> bool:
        return self._connected

    def stop(self, timeout_s: float = 5.0) -> None:
        """Say goodbye (retained offline state), let in-flight messages finish, disconnect."""
        self._stop.set()
        self._thread.join(timeout_s + 2)

    # -- the network thread --------------------------------------------------------------------
    def _make_client(self) -> mqtt.Client:
        client = make_client(
            self.mqtt_config, f"pantau-agent-{self.point}", default_username=self.point
        )
        client.will_set(topics.state_topic(self.point), self._state("offline"), qos=1, retain=True)
        client.max_inflight_messages_set(self.publish_config.inflight_max)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        return client

    def _state(self, state: str) -> bytes:
        return encode(
            State(
                point=self.point,
                state=state,  # type: ignore[arg-type]
                boot=self.boot,
                ts_ms=int(time.time() * 1000) if state == "online" else None,
                agent_version=__version__,
                source=self.source_kind,
                facts=(self._facts or {}) if state == "online" else {},
            )
        )

    def _run(self) -> None:
        """Each connection starts from a fresh client and from the head of the spool.

        Whatever was in flight when a connection died is simply sent again from the spool, so
        delivery never depends on a client library's in-memory queue.
        """
        cfg = self.mqtt_config
        while not self._stop.is_set():
            self._client = self._make_client()
            self._inflight.clear()
            self._last_sent_id = 0
            try:
                self._client.connect(cfg.host, cfg.port, keepalive=cfg.keepalive_s)
            except (OSError, ssl.SSLError, ValueError) as exc:
                self._note_error(f"cannot reach broker {cfg.host}:{cfg.port}: {exc}")
                self._stop.wait(self._backoff.next_delay())
                continue
            while not self._stop.is_set():
                rc = self._client.loop(timeout=0.2)
                if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    break
                self._drain()
            if self._stop.is_set():
                break
            self._connected = False
            with contextlib.suppress(Exception):
                self._client.disconnect()
            self._stop.wait(self._backoff.next_delay())
        self._goodbye()
        self._connected = False

    def _goodbye(self) -> None:
        """On a clean stop: deliver what is spooled (briefly), then announce offline."""
        if not self._connected:
            return
        deadline = time.monotonic() + 3.0
        self._next_publish_at = 0.0  # no lingering on the way out
        self._dirty.set()
        while time.monotonic() < deadline and self._connected:
            self._drain()
            if not self._inflight and not self._dirty.is_set():
                break
            if self._client.loop(timeout=0.05) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return
        info = self._client.publish(
            topics.state_topic(self.point), self._state("offline"), qos=1, retain=True
        )
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and not info.is_published():
            if self._client.loop(timeout=0.05) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                break
        self._client.disconnect()

    def _note_error(self, message: str) -> None:
        if message != self._last_error:
            self.log.warning("%s (retrying with backoff)", message)
            self._last_error = message

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._note_error(f"broker refused the connection: {reason_code}")
            return
        self._connected = True
        self._last_error = None
        self._backoff.reset()
        self.log.info("connected to broker %s:%s", self.mqtt_config.host, self.mqtt_config.port)
        self._published_facts = None
        self._dirty.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self._connected:
            self.log.warning("disconnected from broker: %s", reason_code)
        self._connected = False

    def _publish_birth(self) -> None:
        self._published_facts = dict(self._facts or {})
        self._client.publish(
            topics.state_topic(self.point), self._state("online"), qos=1, retain=True
        )

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        sent = self._inflight.pop(mid, None)
        if sent is None:
            return
        if reason_code.is_failure:
            self._note_error(f"broker refused a message: {reason_code}")
            first = min(r.id for r in sent.rows)
            self._last_sent_id = min(self._last_sent_id, first - 1)
            self._dirty.set()
            return
        self.spool.remove(self.point, sent.rows)
        self.spool.acknowledge_dropped(self.point, sent.dropped_reported)
        self._dirty.set()

    def _drain(self) -> None:
        if not self._connected:
            return
        if self._facts is not None and self._facts != self._published_facts:
            self._publish_birth()  # once the first reading told us what the device is
        linger = self.publish_config.linger_s
        while self._dirty.is_set() and len(self._inflight) < self.publish_config.inflight_max:
            if linger and time.monotonic() < self._next_publish_at:
                return
            if not self._bucket.take(time.monotonic()):
                return
            self._dirty.clear()
            rows = self.spool.peek(self.point, self._last_sent_id, self.publish_config.batch_max)
            if not rows:
                return
            self._dirty.set()  # there may be more behind this batch
            rows = _fit(rows)
            samples = [r for r in rows if r.kind == "telemetry"]
            for event in (r for r in rows if r.kind == "event"):
                info = self._client.publish(
                    topics.event_topic(self.point), event.body.encode(), qos=1
                )
                self._inflight[info.mid] = _InFlight([event], 0)
            if samples:
                payload, dropped = self._telemetry(samples)
                info = self._client.publish(topics.telemetry_topic(self.point), payload, qos=1)
                self._inflight[info.mid] = _InFlight(samples, dropped)
            self._last_sent_id = rows[-1].id
            if linger and not self.spool.has_after(self.point, self._last_sent_id):
                self._next_publish_at = time.monotonic() + linger  # caught up: gather a while

    def _telemetry(self, samples: list[Row]) -> tuple[bytes, int]:
        dropped = self.spool.dropped(self.point)
        body = ",".join(r.body for r in samples)
        payload = f'{{"v":1,"point":"{self.point}","dropped":{dropped},"samples":[{body}]}}'
        return payload.encode(), dropped


def _fit(rows: list[Row]) -> list[Row]:
    """The leading rows whose samples fit one message; events travel beside it, each alone."""
    size = 0
    for index, row in enumerate(rows):
        if row.kind == "telemetry":
            size += len(row.body) + 1
            if index and size > MAX_MESSAGE_BYTES:
                return rows[:index]
    return rows
