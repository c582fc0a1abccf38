"""The collector process: MQTT in (persistent session, manual acks) → ingest → writer."""

from __future__ import annotations

import logging
import ssl
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from pantau.collector.archive.segments import REFUSED, ArchiveWriter, Record
from pantau.collector.buffer import DiskBuffer
from pantau.collector.config import CollectorConfig
from pantau.collector.evidence import Guard
from pantau.collector.influxdb.client import Influx
from pantau.collector.ingest import Accepted, Rejected, ingest, printable
from pantau.collector.rollup import mark_lines
from pantau.collector.rollup_queue import RollupQueue
from pantau.collector.signatures import (
    CHAIN_BREAK,
    Refusal,
    Seal,
    Verifier,
    chain_break_line,
    mark_unsigned,
)
from pantau.collector.stats import Stats
from pantau.collector.writer import OnWritten, Pending, Writer
from pantau.shared import topics
from pantau.shared.backoff import Backoff
from pantau.shared.logs import Once, Throttle
from pantau.shared.mqtt_client import make_client
from pantau.shared.registry import Registry
from pantau.shared.wire import MAX_MESSAGE_ID_BYTES, MAX_RECEIPT_IDS, Receipt, encode

log = logging.getLogger(__name__)

RECEIPTS_IN_FLIGHT = 10_000


def user_properties(message: mqtt.MQTTMessage) -> dict[str, str]:
    """A message's MQTT v5 user properties (the seal of a signed message), first of each."""
    found = getattr(message.properties, "UserProperty", None) if message.properties else None
    props: dict[str, str] = {}
    for name, value in found or ():
        props.setdefault(str(name)[:16], str(value)[:256])
    return props


def receipt_request(message: mqtt.MQTTMessage) -> str | None:
    """The message id an agent asked a receipt for (MQTT v5 Correlation Data), if usable."""
    data = getattr(message.properties, "CorrelationData", None) if message.properties else None
    if not data or len(data) > MAX_MESSAGE_ID_BYTES:
        return None
    try:
        text = bytes(data).decode("ascii")
    except UnicodeDecodeError:
        return None
    return text if text.isprintable() else None


class Collector:
    def __init__(self, config: CollectorConfig, registry: Registry) -> None:
        self.config = config
        self.points = registry.by_id()
        self.stats = Stats()
        self.influx = Influx(config.influx)
        self.buffer = DiskBuffer(config.state_dir / "buffer.sqlite")
        evidence = config.evidence
        self.verifier = Verifier(
            evidence.keys_file,
            frozenset(evidence.unsigned_points),
            evidence.chain_check and not config.mqtt.share_group,
            horizon_ms=int(config.limits.max_age_s * 1000),
        )
        self.archive = ArchiveWriter(evidence.archive_dir) if evidence.archive_dir else None
        self.rollups: RollupQueue | None = None
        on_written: OnWritten | None = None
        if config.rollup.enabled:
            self.rollups = RollupQueue(
                self.influx,
                self._tags,
                config.rollup.every_s,
                config.state_dir / "rollups.sqlite",
                behind_after_s=config.rollup.behind_after_s,
            )
            on_written = self.rollups.mark
        self.writer = Writer(
            self.influx,
            self.buffer,
            self.stats,
            config.batch.max_lines,
            config.batch.max_delay_s,
            on_written,
            self._mark_lines if self.rollups is not None else None,
            Guard(
                self.influx,
                config.limits.max_age_s + config.limits.max_future_s + 3600,
                shared=bool(config.mqtt.share_group),
                writer=config.mqtt.client_id,
            )
            if config.append_only
            else None,
            config.log_every_s,
            self._send_receipts,
            self.archive,
        )
        self._once = Once()
        self._throttle = Throttle(config.log_every_s)  # rejections: the first, then a count
        self._connected = threading.Event()
        self._backoff = Backoff(0.5, 10.0)
        self.client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        client = make_client(self.config.mqtt, self.config.mqtt.client_id, manual_ack=True)
        # Receipts go out on the connection messages come in on: paho's default of 20 in
        # flight would queue them behind the incoming stream and make agents send again.
        client.max_inflight_messages_set(RECEIPTS_IN_FLIGHT)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    def run(self, stop: threading.Event) -> None:
        """This thread reads MQTT, checks and batches messages, and acknowledges them; the
        writer's thread stores each batch (collector/writer.py), so the two overlap.

        A handoff per message would cost more in Python than the work itself, so the handoff
        is per batch; several workers on a shared subscription scale it out.
        """
        if self.rollups is not None:
            self.rollups.start(lambda: self.writer.influx_available)
        try:
            self.influx.ensure_database()
        except Exception as exc:  # InfluxDB may be down at start: the disk buffer covers that
            log.warning("could not prepare database %s: %s", self.config.influx.database, exc)
        cfg = self.config.mqtt
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = cfg.session_expiry_s
        props.ReceiveMaximum = cfg.receive_maximum
        while not stop.is_set():
            try:
                self.client.connect(
                    cfg.host,
                    cfg.port,
                    keepalive=cfg.keepalive_s,
                    clean_start=False,
                    properties=props,
                )
            except (OSError, ssl.SSLError) as exc:
                if self._once.first(f"connect:{exc}"):
                    log.warning("cannot reach broker %s:%s: %s (retrying)", cfg.host, cfg.port, exc)
                self.writer.poll(idle=True)
                stop.wait(self._backoff.next_delay())
                continue
            while not stop.is_set():
                before, busy = self.stats.received, self.writer.busy
                # a batch being stored is acknowledged as soon as it is durable, so look often
                rc = self.client.loop(timeout=0.005 if busy else 0.05)
                # quiet: nothing for a whole 50 ms (a short look is not: under load it would
                # send InfluxDB many small batches)
                quiet = self.stats.received == before and not busy
                self.writer.poll(idle=quiet)
                if quiet:
                    self.log_held_back()
                if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    break
            self._connected.clear()
            if not stop.is_set():
                log.warning("lost the broker (%s); reconnecting", rc)
                stop.wait(self._backoff.next_delay())
        self.writer.flush()  # everything taken in is durable and acknowledged before we go
        if self.rollups is not None:
            self.rollups.stop()
            if self.writer.influx_available and self.rollups.pending:
                log.info("computing %d waiting rollup(s) before stopping", self.rollups.pending)
                self.rollups.drain(self.config.rollup.drain_on_stop_s)
            if self.rollups.pending:
                log.info("%d rollup(s) wait on disk for the next start", self.rollups.pending)
            self.rollups.close()
        for _ in range(10):
            self.client.loop(timeout=0.02)
        self._stopping = True
        self.client.disconnect()
        self.writer.close()
        self.influx.close()
        self.buffer.close()
        if self.archive is not None:
            self.archive.close()

    def _tags(self, point: str) -> dict[str, str]:
        return self.points[point].tags()

    def _mark_lines(self, pairs: set[tuple[str, int]]) -> list[str]:
        return mark_lines(pairs, self._tags, int(time.time() * 1000))

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("broker refused the collector: %s", reason_code)
            return
        self._backoff.reset()
        log.info(
            "connected to %s:%s (session %s)",
            self.config.mqtt.host,
            self.config.mqtt.port,
            "resumed" if flags.session_present else "new",
        )
        # Retained messages are old ones the broker replays: a retained state is not a transition
        # and telemetry or events are never meant to be retained (collector/ingest.py).
        options = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_DO_NOT_SEND)
        client.subscribe([(f, options) for f in topics.subscriptions(self.config.mqtt.share_group)])

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        refused = [str(rc) for rc in reason_codes if rc.is_failure]
        if refused:
            log.error("broker refused our subscriptions: %s", ", ".join(refused))
            return
        log.info("subscribed to %d topic filter(s)", len(reason_codes))
        self._connected.set()

    _stopping = False

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected.clear()
        if self._stopping:
            log.info("disconnected from broker: %s", reason_code)
        else:
            log.warning("disconnected from broker: %s (reconnecting)", reason_code)

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        self.stats.add("received")
        now_ms = int(time.time() * 1000)
        props = user_properties(message)
        parsed = topics.parse_topic(message.topic)
        signed = parsed is not None and parsed[1] != topics.STATE and parsed[0] in self.points
        seal = (
            self.verifier.check(parsed[0], message.payload, props, now_ms, parsed[1])
            if signed and parsed is not None
            else None
        )
        if isinstance(seal, Refusal):
            assert parsed is not None
            result: Accepted | Rejected = Rejected(seal.reason, seal.detail, parsed[0])
        else:
            result = ingest(
                message.topic,
                message.payload,
                bool(message.retain),
                self.points,
                self.config.max_payload_bytes,
                now_ms,
                self.config.limits,
            )
        mid, qos = message.mid, message.qos
        receipt = receipt_request(message)

        def ack() -> None:
            if qos > 0:
                client.ack(mid, qos)

        if isinstance(result, Accepted):
            self.stats.add("accepted")
            lines = result.lines
            if seal is None and signed and self.verifier.keys is not None:
                lines = mark_unsigned(lines)  # taken during a migration, and marked so
            if seal is not None:
                lines = [*lines, *self._follow(result.point, seal, message.topic, now_ms)]
            record = None
            if self.archive is not None and signed:
                record = Record(now_ms, message.topic, bytes(message.payload), props)
            for flag in result.flags:  # samples dropped or values nulled inside the message
                self.stats.reject(flag.reason, flag.count)
                key = f"{flag.reason}:{result.point}"
                if count := self._throttle.hit(key, flag.detail):
                    log.warning(
                        "refused %d value(s) on %r%s: %s: %s",
                        flag.count,
                        printable(message.topic, 120),
                        f" (and in {count - 1} more messages since the last line)"
                        if count > 1
                        else "",
                        flag.reason,
                        flag.detail,
                    )
            self.stats.seen(result.point, now_ms)  # for /metrics (collector/metrics.py)
            self.stats.observe_seqs(result.point, result.seqs)
            self.writer.submit(
                Pending(lines, ack, result.hours, result.point, receipt=receipt, record=record)
            )
            return
        self.stats.reject(result.reason)
        key = f"{result.reason}:{result.point or '-'}"  # unknown points share one key
        count = self._throttle.hit(key, result.detail)
        topic = printable(message.topic, 120)
        if count == 1:
            log.warning("rejected message on %r: %s: %s", topic, result.reason, result.detail)
        elif count:
            log.warning(
                "rejected %d messages on %r since the last line: %s: latest %s",
                count,
                topic,
                result.reason,
                result.detail,
            )
        # A registered point learns its message will never be stored, so its agent stops
        # sending it; an unknown point, or a message refused only for now (no key known for
        # it yet), gets no answer and its agent keeps the data and sends it again.
        if isinstance(seal, Refusal) and seal.kept:
            receipt = None
        breaks: list[str] = []
        evidence: Record | None = None
        if isinstance(seal, Seal) and result.point is not None and not message.retain:
            # authentic, refused for its content: its point's chain runs through it, so it is
            # followed and archived (marked refused) before the refused receipt goes out. A
            # retained copy is an old message again; one beyond max_payload_bytes is not kept.
            breaks = self._follow(result.point, seal, message.topic, now_ms)
            if self.archive is not None and len(message.payload) <= self.config.max_payload_bytes:
                why = f"{result.reason}: {result.detail}"[:300]
                marked = {**props, REFUSED: why}
                evidence = Record(now_ms, message.topic, bytes(message.payload), marked)
        self.writer.submit(
            Pending(breaks, ack, point=result.point, receipt=receipt, refused=True, record=evidence)
        )

    def _follow(self, point: str, seal: Seal, topic: str, now_ms: int) -> list[str]:
        """The `integrity` row of the break this message makes in its point's chain, if any."""
        broken = self.verifier.follow(point, seal)
        if not broken:
            return []
        self.stats.reject(CHAIN_BREAK)
        if self._throttle.hit(f"{CHAIN_BREAK}:{point}", broken) == 1:
            log.warning("hash chain of %s breaks: %s", point, broken)
        return [chain_break_line(self._tags(point), broken, topic, now_ms)]

    def _send_receipts(self, batch: list[Pending]) -> None:
        """One receipt per point per durable batch, naming every message id it covers."""
        by_point: dict[str, tuple[list[str], list[str]]] = {}
        for pending in batch:
            if pending.receipt is None or pending.point is None:
                continue
            stored, refused = by_point.setdefault(pending.point, ([], []))
            (refused if pending.refused else stored).append(pending.receipt)
        for point, (stored, refused) in by_point.items():
            for start in range(0, max(len(stored), len(refused)), MAX_RECEIPT_IDS):
                end = start + MAX_RECEIPT_IDS
                payload = encode(
                    Receipt(point=point, stored=stored[start:end], refused=refused[start:end])
                )
                self.client.publish(topics.receipt_topic(point), payload, qos=1)
                self.stats.add("receipts_sent")

    def log_held_back(self) -> None:
        """The tail of a burst of rejections: how many came since the last line, per key."""
        for key, count, detail in self._throttle.due():
            reason, _, point = key.partition(":")
            log.warning(
                "rejected %d messages of %s since the last line: %s: latest %s",
                count,
                point,
                reason,
                detail,
            )
