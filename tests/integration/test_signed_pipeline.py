"""Signed measurements through the real pipeline: agents sign and chain every message with the
keys `pantau pki` issued, the collector verifies each before storing it and archives it byte
for byte; forged, foreign, unsigned and revoked messages are refused, and chains survive
restarts of agent and collector."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from pantau.collector.admin.pki import Pki
from pantau.collector.archive import signing
from pantau.collector.archive.segments import days, read_day
from pantau.collector.lab.services import Service
from pantau.shared import topics
from pantau.shared.wire import Sample, Telemetry, encode
from tests.pipeline import (
    Proc,
    agent_config,
    collector_config,
    count_rows,
    finish_with_receipts,
    influx,
    registry_file,
    start_agent,
    start_collector,
    wait_for,
)

POINTS = ["kubangsari-01", "kubangsari-02"]


def rig(tmp: Path, broker: Service, influxd: Service, database: str) -> tuple[Pki, Path, Path]:
    pki = Pki(tmp / "pki")
    pki.init()
    pki.issue_many(POINTS, "agent", "password")
    registry = registry_file(tmp / "registry.yaml", [*POINTS, "kubangsari-03"])
    config = collector_config(
        tmp / "collector.yaml",
        broker.port,
        influxd.url,
        database,
        registry,
        evidence={"keys_file": str(pki.signing_keys_path), "archive_dir": str(tmp / "archive")},
    )
    agent = agent_config(
        tmp / "agent" / "agent.yaml",
        broker.port,
        [{"id": p, "source": {"kind": "simulated", "fixed_rx_bps": 3e6}} for p in POINTS],
        interval_s=0.05,
        publish={"signing_key_file": str(pki.dir / "issued" / "{point}" / "signing.key")},
    )
    return pki, config, agent


def archived(archive: Path) -> list[Any]:
    """Every record of the collector's archives: one per worker (`worker-<n>`), or its own."""
    homes = sorted(archive.glob("worker-*")) or [archive]
    return [record for home in homes for day in days(home) for record in read_day(home, day)]


def check_chains(records: list[Any], pki: Pki) -> dict[str, int]:
    """Every archived message verifies with its point's key, and each point's messages form
    one unbroken chain from genesis, followed by their links (the workers' archives each hold
    part of it; a redelivery is the same message again). Returns messages per point."""
    keys = pki.signing_keys()
    by_prev: dict[str, dict[bytes, bytes]] = {}
    for record in records:
        point = topics.parse_topic(record.topic)[0]
        props = record.properties
        key = keys[props["k"]]
        assert key.name == point
        prev = bytes.fromhex(props["p"])
        new = signing.chain_hash(prev, record.payload)
        assert signing.verify(key.public(), new, bytes.fromhex(props["s"]))
        links = by_prev.setdefault(point, {})
        assert links.setdefault(prev, new) == new, f"{point}: two messages after one"
    counts: dict[str, int] = {}
    for point, links in by_prev.items():
        at, walked = signing.GENESIS, 0
        while at in links:
            at, walked = links[at], walked + 1
        assert walked == len(links), f"{point}: chain broken after {walked} message(s)"
        counts[point] = walked
    return counts


def finish(db: Any, state_dir: Path, agent_proc: Proc) -> dict[str, int]:
    return finish_with_receipts(db, state_dir, agent_proc, more=40)


def test_signed_chained_archived_across_restarts(
    tmp_path: Path, mosquitto: Service, influxd: Service, database: str
) -> None:
    pki, config, agent_yaml = rig(tmp_path, mosquitto, influxd, database)
    db = influx(influxd.url, database)
    state = agent_yaml.parent / "agent-state"
    collector = start_collector(config, tmp_path / "collector.log")
    agent = start_agent(agent_yaml, tmp_path / "agent.log")
    try:
        wait_for(lambda: count_rows(db, "telemetry") >= 60, 30, "signed data flowing")
        agent.stop()  # the chain continues from the spool
        agent = start_agent(agent_yaml, tmp_path / "agent.log")
        wait_for(lambda: count_rows(db, "telemetry") >= 160, 30, "after the agent's restart")
        collector.kill()  # and across a collector SIGKILL
        collector = start_collector(config, tmp_path / "collector.log")
        taken = finish(db, state, agent)
        collector.stop()
        records = archived(tmp_path / "archive")
        counts = check_chains(records, pki)
        assert sorted(counts) == POINTS and all(n > 10 for n in counts.values())
        samples = {p: set() for p in POINTS}
        for record in records:
            if record.topic.endswith("/telemetry"):
                body = json.loads(record.payload)
                samples[body["point"]] |= {s["seq"] for s in body["samples"]}
        assert samples == {p: set(range(n)) for p, n in taken.items()}  # all in the archive
        assert count_rows(db, "integrity") == 0  # no break seen
        assert '"rejected": {}' in collector.log().rsplit("stopped; stats ", 1)[1]
    finally:
        agent.stop()
        collector.stop()


def publish(
    port: int, point: str, payload: bytes, props: dict[str, str] | None, wait_s: float = 20
) -> str:
    """Publish one message as `point` would, with a receipt asked for; the receipt's verdict,
    or "none" when no receipt came within `wait_s` (the agent would keep the message)."""
    got: list[bytes] = []
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"forger-{point}",
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    client.on_message = lambda c, u, m: got.append(m.payload)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        client.subscribe(topics.receipt_topic(point), qos=1)
        properties = Properties(PacketTypes.PUBLISH)
        properties.CorrelationData = b"forged-1"
        if props:
            properties.UserProperty = sorted(props.items())
        info = client.publish(topics.telemetry_topic(point), payload, qos=1, properties=properties)
        info.wait_for_publish(10)
        deadline = time.monotonic() + wait_s
        while not got and time.monotonic() < deadline:
            time.sleep(0.05)
        if not got:
            return "none"
        receipt = json.loads(got[0])
        return "stored" if receipt.get("stored") else "refused"
    finally:
        client.loop_stop()
        client.disconnect()


def sealed(key: Any, payload: bytes, prev: bytes = signing.GENESIS) -> dict[str, str]:
    new = signing.chain_hash(prev, payload)
    return {
        "k": signing.key_id(key.public_key()),
        "p": prev.hex(),
        "s": signing.sign(key, new).hex(),
    }


def test_forged_foreign_unsigned_and_revoked_messages_are_refused(
    tmp_path: Path, mosquitto: Service, influxd: Service, database: str
) -> None:
    pki, config, _ = rig(tmp_path, mosquitto, influxd, database)
    db = influx(influxd.url, database)
    key_01 = signing.load_private_key(pki.dir / "issued" / POINTS[0] / "signing.key")
    key_02 = signing.load_private_key(pki.dir / "issued" / POINTS[1] / "signing.key")
    now_ms = int(time.time() * 1000)

    def payload(point: str, seq: int, rx: float) -> bytes:
        sample = Sample(
            ts_ms=now_ms + seq, seq=seq, boot="b", interval_s=10, device_up=True, rx_bps=rx
        )
        return encode(Telemetry(point=point, samples=[sample]))

    collector = start_collector(config, tmp_path / "collector.log")
    port = mosquitto.port
    try:
        good = payload(POINTS[0], 0, 1e6)
        assert publish(port, POINTS[0], good, sealed(key_01, good)) == "stored"
        forged = payload(POINTS[0], 1, 48e6)
        tampered = bytearray(forged)
        props = sealed(key_01, forged)
        tampered[tampered.index(b"48000000")] = ord("9")  # one byte after signing
        assert publish(port, POINTS[0], bytes(tampered), props) == "refused"
        other = payload(POINTS[0], 2, 1e6)
        assert publish(port, POINTS[0], other, sealed(key_02, other)) == "refused"  # 02's key
        # Unsigned, or signed by a key the collector does not know yet: no receipt, so the
        # agent keeps the message and sends it again once the key is known.
        unsigned = payload(POINTS[0], 3, 1e6)
        assert publish(port, POINTS[0], unsigned, None, wait_s=5) == "none"
        newcomer = "kubangsari-03"
        early = payload(newcomer, 0, 7e6)
        pki.issue(newcomer, "agent", "password")  # after the collector read the keys file
        key_03 = signing.load_private_key(pki.dir / "issued" / newcomer / "signing.key")
        verdict, deadline = "none", time.monotonic() + 40
        while verdict == "none" and time.monotonic() < deadline:  # as its agent sends again
            verdict = publish(port, newcomer, early, sealed(key_03, early), wait_s=2)
        assert verdict == "stored"  # the collector read the keys file again
        wait_for(lambda: count_rows(db, "telemetry") >= 1, 20, "the good row")
        pki.revoke(POINTS[0])
        collector.stop()
        collector = start_collector(config, tmp_path / "collector.log")
        later = payload(POINTS[0], 4, 1e6)
        assert publish(port, POINTS[0], later, sealed(key_01, later)) == "refused"
        after = payload(POINTS[1], 0, 2e6)
        assert publish(port, POINTS[1], after, sealed(key_02, after)) == "stored"
        wait_for(lambda: count_rows(db, "telemetry") >= 3, 20, "the other points' rows")
        rows = db.query('SELECT "seq", "point" FROM "telemetry"')
        assert sorted((r["point"], int(r["seq"])) for r in rows) == [
            (POINTS[0], 0),
            (POINTS[1], 0),
            ("kubangsari-03", 0),
        ]
        collector.stop()
        logs = collector.log()
        for reason in ("bad_signature", "wrong_key", "unsigned", "revoked_key"):
            assert reason in logs, reason
    finally:
        collector.stop()
