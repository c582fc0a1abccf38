"""Drain one point's spool to the broker at QoS 1; a row leaves the spool only on a collector's
receipt (wire v2), so a crashed broker or collector never costs a sample the agent forgot.

A message goes through three states: to send (in the spool, after the cursor), sent (awaiting
its PUBACK and then its receipt), forgotten (the receipt named its id; the rows are deleted).
A message without a receipt after `receipt_timeout_s` is sent again with the same id; while no
receipt comes at all (the collector is away) only the oldest is retried, with backoff, so an
outage does not fill the broker with copies. Every new connection starts again from the head of
the spool: whatever the broker may have lost in a crash is sent again, and the collector's
idempotent writes absorb the repeats.

One MQTT session per point, so the broker's ACL, the retained birth and the Will (death) all
speak for exactly one point. All the sessions of a process are driven by one network thread
(agent/netloop.py, epoll: no select() ceiling at 1,024 descriptors), each reconnecting under
exponential backoff with jitter; neither a broker away nor a spool that cannot write (a full
disk) ends that thread: each failure is logged once, retried, and shown in the birth message
(`spool`).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from pantau.agent import __version__
from pantau.agent.forgetting import Forget
from pantau.agent.netloop import READ, WRITE, NetLoop
from pantau.agent.spool import Formed, Kept, Row, Spool, SpoolWriteError
from pantau.shared import topics
from pantau.shared.backoff import Backoff, TokenBucket
from pantau.shared.contract import WIRE_VERSION, decode_receipt, encode_state
from pantau.shared.errors import PayloadError
from pantau.shared.logs import PointLogger
from pantau.shared.mqtt_client import connection_hint, make_client

if TYPE_CHECKING:
    from pantau.agent.config import MqttConfig, PublishConfig
    from pantau.agent.signing import AgentKey

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 512 * 1024
MAX_RECEIPT_WAIT_S = 1800.0
# A message still without a receipt when one came for a message sent this much later was lost
# on the way (a broker that restarted without the collector's session): it goes again at once.
OVERTAKEN_AFTER_S = 10.0
# PUBACK reason 0x10: the broker had no subscriber for it (no collector session, e.g. a broker
# restarted without it), so no receipt can come: it goes again after this (doubling), not
# after the full receipt timeout.
NO_MATCHING_SUBSCRIBERS = 0x10
UNHEARD_RETRY_S = 5.0
# Messages late for their receipt are looked for at most this often per point: a look walks
# every message awaiting one (up to publish.receipt_window), and after an outage every point
# is stepped for each of its receipts; a resend seconds late is a resend all the same.
RESEND_LOOK_S = 0.5
CONNACK_TIMEOUT_S = 10.0  # an address that takes TCP but never answers MQTT is said so
SHORT_SESSION_S = 5.0  # dropped this soon after connecting, again and again: someone else's login

# paho's Properties builds two tables of every MQTT property (about 6 KB of dicts, lists and
# tuples, and ~0.1 ms) in each instance, and a message's properties live until its PUBACK: at
# 1,000 points a tick made 6 MB of them at once. paho only reads those tables, so every
# message's properties share one set (`publish_properties`) and hold just their own values.
_PUBLISH_TABLES = dict(vars(Properties(PacketTypes.PUBLISH)))


@dataclass(slots=True)
class _Sent:
    """A kept message on this connection: when it went, how often. Its payload and signature
    are not held here (paho holds them until the PUBACK): a resend reads them back from the
    spool (`Spool.message`), so up to `receipt_window` messages per point await a receipt
    without their bytes in memory."""

    kept: Kept
    sent_at: float = float("-inf")  # not yet sent on this connection
    mid: int | None = None  # awaiting PUBACK while set
    attempts: int = 0
    unheard: bool = False  # the broker's PUBACK said no subscriber took it: it went nowhere

    @property
    def msg_id(self) -> str:
        return self.kept.msg_id


_IDLE, _CONNECTING, _OPEN, _DONE = "idle", "connecting", "open", "done"


@dataclass
class _Goodbye:
    """A clean stop in stages: drain briefly, publish offline, disconnect."""

    drain_until: float = 0.0
    offline: mqtt.MQTTMessageInfo | None = None
    until: float = 0.0
    disconnecting: bool = False


def _pending(sock: object) -> bool:
    return isinstance(sock, ssl.SSLSocket) and sock.pending() > 0


def _close(client: mqtt.Client, loop: NetLoop | None = None) -> None:
    """Close a client's socket now (it is never used again: each connection has its own)."""
    sock = client.socket()
    if sock is None:
        return
    if loop is not None:
        loop.unwatch(sock)  # type: ignore[arg-type]
    with contextlib.suppress(OSError):
        sock.close()


@dataclass
class _Forget:
    """Messages whose receipt came and whose rows are not yet deleted: handed to the spool's
    batched deletes (`submitted`, agent/forgetting.py), or refused by the spool (a full disk)
    and retried with backoff (`failed`). Either way never sent again: the collector has them."""

    submitted: dict[str, Kept] = field(default_factory=dict)  # by message id
    failed: dict[str, Kept] = field(default_factory=dict)
    retry_at: float = 0.0
    backoff: Backoff = field(default_factory=lambda: Backoff(1.0, 30.0))

    def __contains__(self, msg_id: str) -> bool:
        return msg_id in self.submitted or msg_id in self.failed


def _guarded(callback: Callable[..., None]) -> Callable[..., None]:
    """A callback's failure is logged (once per message) and never raised into paho, which
    would drop this point's connection."""

    @functools.wraps(callback)
    def run(self: PointPublisher, *args: Any) -> None:
        try:
            callback(self, *args)
        except Exception as exc:
            self._note_error(f"{callback.__name__.strip('_')} failed: {type(exc).__name__}: {exc}")

    return run


class PointPublisher:
    """One point's MQTT session, driven by a network loop (agent/netloop.py) shared by every
    point of the process; without one it starts its own."""

    def __init__(
        self,
        point: str,
        boot: str,
        source_kind: str,
        spool: Spool,
        mqtt_config: MqttConfig,
        publish_config: PublishConfig,
        loop: NetLoop | None = None,
    ) -> None:
        self.point = point
        self.boot = boot
        self.source_kind = source_kind
        self.spool = spool
        self.mqtt_config = mqtt_config
        self.publish_config = publish_config
        self.log = PointLogger(log, point)
        self._own_loop = loop is None
        self._loop = loop if loop is not None else NetLoop(connect_threads=1, name=f"mqtt-{point}")
        self._phase = _IDLE
        self._retry_at = 0.0
        self._stopping = False
        self._goodbye = _Goodbye()
        self._finished = threading.Event()
        self._dirty = threading.Event()
        self._connected = False
        self._ready = False  # connected and (with receipts) subscribed to them
        self._receipts = publish_config.receipts  # false also when the broker refuses them
        self._sent: dict[str, _Sent] = {}  # by message id, oldest first
        self._mids: dict[int, str] = {}  # PUBACK awaited: paho's mid -> message id
        self._forget = _Forget()
        self._next_msg = 0
        self._last_receipt_at = float("-inf")
        self._newest_receipted = float("-inf")  # when the newest message with a receipt went
        self._resend_look_at = 0.0  # when `_resend_due` next walks the messages
        self._unsent = False  # kept messages not yet sent on this connection (after a resume)
        self._cursor = 0  # the last spool row already in a kept message
        self._form_retry_at = 0.0
        self._signer = _Signer.load(publish_config.signing_key_file, point)
        self._facts: dict[str, str] | None = None  # unknown until the first reading
        self._published_facts: dict[str, str] | None = None
        self._published_spool: str | None = None
        self._backoff = Backoff(mqtt_config.reconnect_min_s, mqtt_config.reconnect_max_s)
        self._bucket = TokenBucket(
            publish_config.drain_msgs_per_s, publish_config.inflight_max, time.monotonic()
        )
        self._last_error: str | None = None
        self._connected_at = 0.0
        self._started = 0.0  # when this connection's socket came back from connecting
        self._short_sessions = 0
        self._next_publish_at = 0.0
        self._client = self._make_client()  # replaced by a fresh one for every connection

    # -- called from other threads -------------------------------------------------------------
    def start(self) -> None:
        if self._own_loop:
            self._loop.start()
        self._loop.add(self)

    def notify(self) -> None:
        """New rows are in the spool."""
        self._dirty.set()
        self._loop.wake(self)

    def set_facts(self, facts: dict[str, str]) -> None:
        self._facts = dict(facts)

    @property
    def has_facts(self) -> bool:
        return self._facts is not None

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def alive(self) -> bool:
        """The network thread runs (it ends only on stop)."""
        return self._loop.alive

    def stop(self, timeout_s: float = 5.0) -> None:
        """Say goodbye (retained offline state), let in-flight messages finish, disconnect.
        With a shared loop, stopping the loop does this for every point at once."""
        if self._own_loop:
            self._loop.stop(timeout_s + 1)
            return
        self._loop.call_soon(self.begin_stop)
        self._finished.wait(timeout_s + 2)

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
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        # The network loop watches the socket; paho says when it wants to write or closes it.
        client.on_socket_register_write = lambda _c, _u, sock: self._loop.set_write(sock, True)
        client.on_socket_unregister_write = lambda _c, _u, sock: self._loop.set_write(sock, False)
        client.on_socket_close = lambda _c, _u, sock: self._loop.unwatch(sock)
        return client

    def _state(self, state: str) -> bytes:
        online = state == "online"
        return encode_state(
            self.point,
            state,
            self.boot,
            ts_ms=int(time.time() * 1000) if online else None,
            agent_version=__version__,
            source=self.source_kind,
            facts=(self._facts or {}) if online else {},
            spool=self.spool.state if online else None,
        )

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    def begin_stop(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        drain_s = self.publish_config.goodbye_drain_s  # send what is spooled, await receipts
        self._goodbye = _Goodbye(drain_until=time.monotonic() + drain_s)
        self._next_publish_at = 0.0  # no lingering on the way out
        self._dirty.set()
        self._loop.wake(self)

    def step(self, now: float) -> float | None:
        """Connect when due, keep the session alive, drain the spool; when to step again."""
        try:
            return self._step(now)
        except Exception as exc:  # never end the loop: start over on a fresh connection
            self._note_error(f"publishing failed: {type(exc).__name__}: {exc}")
            self._lost(now)
            return self._retry_at

    def _step(self, now: float) -> float | None:
        if self._phase == _DONE:
            return None
        if self._phase == _IDLE:
            if self._stopping:
                self._finish()
                return None
            return self._retry_at if now < self._retry_at else self._begin_connect(now)
        if self._phase == _CONNECTING:
            return None  # a connector thread has the client; it comes back through _connected
        if self._client.loop_misc() != MQTTErrorCode.MQTT_ERR_SUCCESS:
            self._lost(now)
            return self._retry_at
        if not self._connected:
            if self._stopping:
                self._lost(now)
                return None
            if now - self._started > CONNACK_TIMEOUT_S:
                self._note_error(self._no_answer())
                self._lost(now)
                return self._retry_at
            return self._started + CONNACK_TIMEOUT_S
        if self._stopping:
            return self._say_goodbye(now)
        return self._drain()

    def _begin_connect(self, now: float) -> float | None:
        """Each connection starts from a fresh client and from the head of the spool.

        Whatever was sent and not confirmed when a connection died is simply sent again from
        the spool, so delivery never depends on a client library's or a broker's memory.
        """
        self._client = client = self._make_client()
        self._mids.clear()
        self._ready = False
        try:
            self._resume()
        except Exception as exc:  # a spool it cannot read now: try again after a pause
            self._note_error(f"cannot read the spool: {type(exc).__name__}: {exc}")
            self._retry_at = now + self._backoff.next_delay()
            return self._retry_at
        cfg = self.mqtt_config
        self._phase = _CONNECTING
        self._loop.connect(
            lambda: client.connect(cfg.host, cfg.port, keepalive=cfg.keepalive_s),
            functools.partial(self._connect_done, client),
        )
        return None

    def _connect_done(self, client: mqtt.Client, error: BaseException | None) -> None:
        """Back from a connector thread: watch the socket, or say why it failed."""
        now = time.monotonic()
        if client is not self._client or self._phase != _CONNECTING:
            _close(client)
            return
        self._loop.wake(self)
        if error is not None:
            cfg = self.mqtt_config
            if not isinstance(error, OSError | ssl.SSLError | ValueError):
                error_text = f"{type(error).__name__}: {error}"
            else:
                error_text = str(error)
            hint = connection_hint(error, cfg.tls is not None, cfg.port)
            self._note_error(
                f"cannot reach broker {cfg.host}:{cfg.port}: {error_text}"
                f"{f' ({hint})' if hint else ''}"
            )
            _close(client)
            self._phase = _IDLE
            self._retry_at = now + self._backoff.next_delay()
            return
        sock = client.socket()
        if self._stopping or sock is None:
            _close(client)
            self._phase = _IDLE
            self._retry_at = now + self._backoff.next_delay()
            return
        self._loop.watch(sock, self, client.want_write())  # type: ignore[arg-type]
        self._phase = _OPEN
        self._started = now

    def io(self, events: int) -> None:
        """The socket is readable or writable: let paho read and write."""
        if self._phase != _OPEN:
            return
        client = self._client
        try:
            rc = MQTTErrorCode.MQTT_ERR_SUCCESS
            if events & READ:
                rc = client.loop_read()
                sock = client.socket()
                # TLS may hold decrypted packets the kernel no longer reports as readable
                while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and _pending(sock):
                    rc = client.loop_read()
                    sock = client.socket()
            if rc == MQTTErrorCode.MQTT_ERR_SUCCESS and events & WRITE:
                rc = client.loop_write()
        except Exception as exc:
            self._note_error(f"publishing failed: {type(exc).__name__}: {exc}")
            rc = MQTTErrorCode.MQTT_ERR_UNKNOWN
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            self._lost(time.monotonic())
        elif self._stopping and client.socket() is None:
            self._finish()  # our DISCONNECT went out and paho closed the socket

    def _lost(self, now: float) -> None:
        """This connection is over: close it, try again after a backoff (or stop)."""
        self._connected = False
        self._ready = False
        _close(self._client, self._loop)
        if self._stopping:
            self._finish()
            return
        self._phase = _IDLE
        self._retry_at = now + self._backoff.next_delay()

    def _finish(self) -> None:
        _close(self._client, self._loop)
        self._connected = False
        self._phase = _DONE
        self._finished.set()

    def _no_answer(self) -> str:
        cfg = self.mqtt_config
        why = (
            "is it the broker's TLS port?"
            if cfg.tls is not None
            else "is it a TLS port (then set mqtt.tls), or not an MQTT broker at all?"
        )
        return (
            f"no MQTT answer from {cfg.host}:{cfg.port} within {CONNACK_TIMEOUT_S:.0f} s"
            f" (TCP connected): {why}"
        )

    def _resume(self) -> None:
        """Every kept message without a receipt goes again, first, as it was made (one whose
        receipt came and whose delete is still on its way does not)."""
        forget = self._forget
        self._sent = {
            k.msg_id: _Sent(k) for k in self.spool.formed(self.point) if k.msg_id not in forget
        }
        self._unsent = bool(self._sent)
        self._resend_look_at = 0.0
        self._cursor = self.spool.chain(self.point, self._signer.genesis).formed_to

    def _say_goodbye(self, now: float) -> float | None:
        """On a clean stop: deliver what is spooled (briefly), then announce offline, then
        disconnect; one stage per step, so every point of the loop says goodbye at once."""
        bye = self._goodbye
        if bye.offline is None:
            if now < bye.drain_until:
                self._drain()
                if self._sent or self._dirty.is_set() or self._forget.submitted:
                    return now + 0.05
            bye.offline = self._client.publish(
                topics.state_topic(self.point), self._state("offline"), qos=1, retain=True
            )
            bye.until = now + 2.0
            return now + 0.05
        if not bye.offline.is_published() and now < bye.until:
            return now + 0.05
        if not bye.disconnecting:
            bye.disconnecting = True
            bye.until = now + 1.0
            self._client.disconnect()
            return now + 0.05
        if self._client.socket() is None or now >= bye.until:
            self._finish()
            return None
        return now + 0.05

    def _note_error(self, message: str) -> None:
        if message != self._last_error:
            self.log.warning("%s (retrying with backoff)", message)
            self._last_error = message

    @_guarded
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._note_error(f"broker refused the connection: {reason_code}")
            return
        self._connected = True
        self._connected_at = time.monotonic()
        self._last_error = None
        self._backoff.reset()
        if self._short_sessions < 3:
            self.log.info("connected to broker %s:%s", self.mqtt_config.host, self.mqtt_config.port)
        self._published_facts = None
        self._published_spool = None
        self._receipts = self.publish_config.receipts
        if self._receipts:
            client.subscribe(topics.receipt_topic(self.point), qos=1)
        else:
            self._ready = True
        self._dirty.set()

    @_guarded
    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if any(rc.is_failure for rc in reason_codes):
            self.log.error(
                "the broker refused the receipt subscription (%s): forgetting samples on the"
                " broker's PUBACK instead, so a broker crash can lose them; grant receipts"
                " with `pantau broker sync`",
                ", ".join(str(rc) for rc in reason_codes),
            )
            self._receipts = False
        self._ready = True
        self._dirty.set()

    @_guarded
    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        was_connected, self._connected = self._connected, False
        if not was_connected:
            cfg = self.mqtt_config
            why = (
                f"is port {cfg.port} the broker's TLS port?"
                if cfg.tls is not None
                else f"is port {cfg.port} a TLS port (then set mqtt.tls)?"
            )
            self._note_error(
                f"{cfg.host}:{cfg.port} closed the connection before accepting it ({reason_code}):"
                f" {why}"
            )
            return
        if self._stopping:
            self.log.info("disconnected from broker: %s", reason_code)
            return
        lasted = time.monotonic() - self._connected_at
        self._short_sessions = self._short_sessions + 1 if lasted < SHORT_SESSION_S else 0
        taken_over = reason_code.value == 0x8E and not self._short_sessions  # Session taken over
        if self._short_sessions == 3 or taken_over:
            self.log.warning(
                "the broker keeps dropping this point right after it connects (%s): another"
                " client is probably logged in as %s (two agents for one point?); retrying"
                " quietly",
                reason_code,
                self.mqtt_config.username or self.point,
            )
        elif self._short_sessions < 3:
            self.log.warning("disconnected from broker: %s", reason_code)
        self._ready = False

    def _publish_birth(self) -> None:
        self._published_facts = dict(self._facts or {})
        self._published_spool = self.spool.state
        self._client.publish(
            topics.state_topic(self.point), self._state("online"), qos=1, retain=True
        )

    @_guarded
    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        msg_id = self._mids.pop(mid, None)
        sent = self._sent.get(msg_id) if msg_id is not None else None
        if sent is None:
            return  # a birth, or a message whose receipt came first
        sent.mid = None
        if reason_code.is_failure:
            self._note_error(f"broker refused a message: {reason_code}")
            sent.sent_at = float("-inf")  # send it again at once
            self._resend_look_at = 0.0
            self._dirty.set()
            return
        sent.unheard = reason_code.value == NO_MATCHING_SUBSCRIBERS
        if not self._receipts:
            del self._sent[sent.msg_id]
            self._forget_rows([sent.kept])
        # no `_dirty`: room in flight is looked at by the step that follows every read

    @_guarded
    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        if message.topic != topics.receipt_topic(self.point):
            return
        try:
            stored, refused_ids = decode_receipt(message.payload, self.point)
        except PayloadError as exc:
            self._note_error(f"ignored a malformed receipt: {exc}")
            return
        self._last_receipt_at = time.monotonic()
        done: list[Kept] = []
        for msg_id in (*stored, *refused_ids):
            sent = self._sent.pop(msg_id, None)
            if sent is None:
                continue  # an earlier copy's receipt, already handled
            if sent.mid is not None:
                self._mids.pop(sent.mid, None)
            self._newest_receipted = max(self._newest_receipted, sent.sent_at)
            done.append(sent.kept)
        if refused_ids:
            refused = set(refused_ids)
            for kept in done:
                if kept.msg_id in refused:
                    self.log.warning(
                        "a collector refused message %s (%d row(s)); see the collector's log",
                        kept.msg_id,
                        len(kept.row_ids),
                    )
        self._forget_rows(done)
        # no `_dirty`: the window's room is looked at by the step that follows every read

    def _forget_rows(self, done: list[Kept]) -> None:
        """Hand confirmed messages to the spool's batched deletes: this thread never waits on
        the disk (a synced delete per receipt kept it from its sockets after an outage)."""
        if not done:
            return
        forget = self._forget
        for kept in done:
            forget.submitted[kept.msg_id] = kept
        items = [Forget(self.point, k.row_ids, k.dropped, k.n) for k in done]
        ids = [k.msg_id for k in done]
        try:
            self.spool.forget_later(items, functools.partial(self._forget_done, ids))
        except SpoolWriteError as exc:
            self._forgotten(ids, exc)

    def _forget_done(self, ids: list[str], error: Exception | None) -> None:
        """On the forgetting thread: the outcome goes to the network thread (and a failure
        wakes this point, to set its retry)."""
        self._loop.call_soon(functools.partial(self._forgotten, ids, error))
        if error is not None:
            self._loop.wake(self)

    def _forgotten(self, ids: list[str], error: Exception | None) -> None:
        """The spool deleted these (or could not: retried with backoff, never sent again)."""
        forget = self._forget
        if error is None:
            for msg_id in ids:
                forget.submitted.pop(msg_id, None)
            if not forget.failed:
                forget.backoff.reset()
            return
        cause = error.__cause__ if error.__cause__ is not None else error
        self._note_error(f"the spool cannot forget what receipts confirmed: {cause}")
        for msg_id in ids:
            kept = forget.submitted.pop(msg_id, None)
            if kept is not None:
                forget.failed[msg_id] = kept
        forget.retry_at = time.monotonic() + forget.backoff.next_delay()

    def _retry_forget(self) -> None:
        failed, self._forget.failed = self._forget.failed, {}
        self._forget_rows(list(failed.values()))

    def _drain(self) -> float | None:
        """Send what is due; returns when a timer (pace, linger, a full disk) wants it again."""
        if not self._ready:
            return None
        now = time.monotonic()
        wake: list[float] = []
        if self._forget.failed:
            if now >= self._forget.retry_at:
                self._retry_forget()
            else:
                wake.append(self._forget.retry_at)
        if (self._facts is not None and self._facts != self._published_facts) or (
            self._published_facts is not None and self.spool.state != self._published_spool
        ):
            self._publish_birth()  # what the device is, and whether the spool can store
        self._send_unsent()
        self._resend_due(now)
        config = self.publish_config
        linger = config.linger_s
        if self._dirty.is_set() and now < self._form_retry_at:
            wake.append(self._form_retry_at)
        while self._dirty.is_set() and self._room() and now >= self._form_retry_at:
            if linger and time.monotonic() < self._next_publish_at:
                wake.append(self._next_publish_at)
                break
            if not self._bucket.take(time.monotonic()):
                wake.append(time.monotonic() + 1.0 / config.drain_msgs_per_s)
                break
            self._dirty.clear()
            rows = self.spool.peek(self.point, self._cursor, config.batch_max)
            if not rows:
                break
            self._dirty.set()  # there may be more behind this batch
            try:
                self._form(_fit(rows))
            except SpoolWriteError as exc:  # a full disk: the rows wait in the spool
                self._note_error(str(exc))
                self._form_retry_at = time.monotonic() + 1.0
                wake.append(self._form_retry_at)
                break
            if linger and not self.spool.has_after(self.point, self._cursor):
                self._next_publish_at = time.monotonic() + linger  # caught up: gather a while
        return min(wake, default=None)

    def _room(self) -> bool:
        if len(self._mids) >= self.publish_config.inflight_max:
            return False
        return not self._receipts or len(self._sent) < self.publish_config.receipt_window

    def _form(self, rows: list[Row]) -> None:
        """Make messages of these rows (each event alone, the samples together), keep them in
        the spool with their place in the chain, and send them."""
        samples = [r for r in rows if r.kind == "telemetry"]
        made: list[Formed] = []
        for event in (r for r in rows if r.kind == "event"):
            made.append(self._keep("event", [event], 0, event.body.encode()))
        if samples:
            dropped = self.spool.dropped(self.point)
            made.append(
                self._keep("telemetry", samples, dropped, self._telemetry(samples, dropped))
            )
        self._cursor = rows[-1].id
        for formed in made:
            sent = self._sent[formed.msg_id] = _Sent(formed.kept)
            self._publish(sent, formed)  # from the bytes in hand: no read back on this path

    def _keep(self, kind: str, rows: list[Row], dropped: int, payload: bytes) -> Formed:
        self._next_msg += 1
        msg_id = f"{self.boot[:32]}-{self._next_msg:x}"
        return self.spool.form(
            self.point,
            msg_id,
            kind,
            rows,
            dropped,
            self._signer.genesis,
            lambda prev: self._signer.seal(prev, payload),
        )

    def _publish(self, sent: _Sent, formed: Formed | None = None) -> None:
        """Send a kept message: a fresh one from `formed`, any other as the spool keeps it. One
        the spool no longer has (its receipt came and its rows are forgotten) is no longer
        tracked, not sent."""
        if formed is None:
            formed = self.spool.message(self.point, sent.kept.n)
            if formed is None:
                self._sent.pop(sent.msg_id, None)
                return
        topic = (
            topics.event_topic(self.point)
            if formed.kind == "event"
            else topics.telemetry_topic(self.point)
        )
        properties = None
        if self._receipts or formed.props:
            properties = publish_properties()
            if self._receipts:
                properties.CorrelationData = formed.msg_id.encode()
            if formed.props:
                properties.UserProperty = sorted(formed.props.items())
        info = self._client.publish(topic, formed.payload, qos=1, properties=properties)
        sent.mid, sent.sent_at = info.mid, time.monotonic()
        sent.attempts += 1
        sent.unheard = False
        self._mids[info.mid] = formed.msg_id
        # the newest last: a resend moves to the end of the order it is retried in
        self._sent[formed.msg_id] = self._sent.pop(formed.msg_id, sent)

    def _send_unsent(self) -> None:
        """Kept messages not yet sent on this connection (after a reconnect), oldest first."""
        if not self._unsent:
            return
        for sent in list(self._sent.values()):
            if sent.attempts:
                continue
            if len(self._mids) >= self.publish_config.inflight_max:
                return
            self._publish(sent)
        self._unsent = False

    def _resend_due(self, now: float) -> None:
        """Messages past their receipt deadline, or overtaken by a later message's receipt, go
        again. While receipts flow, every late one (it or its receipt was lost); while none
        come (no collector), only the oldest, as a probe. A message the broker said no one
        subscribed to (a broker restarted before the collector's session) is late sooner."""
        if not self._sent or now < self._resend_look_at:
            return
        self._resend_look_at = now + RESEND_LOOK_S
        timeout = self.publish_config.receipt_timeout_s
        overtaken = self._newest_receipted - OVERTAKEN_AFTER_S
        late = [
            s
            for s in self._sent.values()
            if s.attempts
            and s.mid is None
            and (
                s.sent_at <= overtaken
                or now
                >= s.sent_at
                + min(
                    (UNHEARD_RETRY_S if s.unheard else timeout) * 2 ** (s.attempts - 1),
                    MAX_RECEIPT_WAIT_S,
                )
            )
        ]
        if not late:
            return
        if now - self._last_receipt_at > timeout:
            late = late[:1]
        for sent in late:
            if len(self._mids) >= self.publish_config.inflight_max:
                return
            self._publish(sent)

    def _telemetry(self, samples: list[Row], dropped: int) -> bytes:
        body = ",".join(r.body for r in samples)
        return (
            f'{{"v":{WIRE_VERSION},"point":"{self.point}","dropped":{dropped},"samples":[{body}]}}'
        ).encode()


class _Signer:
    """The point's Ed25519 key, if it has one: seals each message into the point's hash chain
    (user properties k, p, s: key id, previous chain hash, signature over the new one)."""

    genesis = bytes(32)

    def __init__(self, key: AgentKey | None = None) -> None:
        self._key = key

    @classmethod
    def load(cls, path_template: str | None, point: str) -> _Signer:
        if not path_template:
            return cls()
        from pantau.agent.signing import load_key  # only signing agents pay for the import

        return cls(load_key(path_template.format(point=point)))

    def seal(self, prev: bytes, payload: bytes) -> tuple[bytes, dict[str, str], bytes]:
        if self._key is None:
            return payload, {}, prev
        new_hash, signature = self._key.seal(prev, payload)
        return payload, {"k": self._key.key_id, "p": prev.hex(), "s": signature.hex()}, new_hash


def publish_properties() -> Properties:
    """An empty PUBLISH Properties sharing paho's read-only tables (`_PUBLISH_TABLES`)."""
    properties = Properties.__new__(Properties)
    vars(properties).update(_PUBLISH_TABLES)
    return properties


def _fit(rows: list[Row]) -> list[Row]:
    """The leading rows whose samples fit one message; events travel beside it, each alone."""
    size = 0
    for index, row in enumerate(rows):
        if row.kind == "telemetry":
            size += len(row.body) + 1
            if index and size > MAX_MESSAGE_BYTES:
                return rows[:index]
    return rows
