"""An evidence archive built the way the collector builds it: agents' messages signed and chained
with real Ed25519 keys (collector/archive/signing.py), appended by the real ArchiveWriter, days closed by
real signed checkpoints, and the PKI's `signing-keys.json` beside them.

The month is 2026-09 (WIB); the data runs from 2026-09-09 21:00 to 2026-09-10 03:00 UTC, across
two UTC days, one message a minute per point, with a 20-minute WAN outage at the first point and
one capacity test per point.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pantau.collector.archive import signing
from pantau.collector.archive.checkpoint import CheckpointStore
from pantau.collector.archive.segments import ArchiveWriter, Record, day_of, days, segment_path
from pantau.shared import topics
from pantau.shared.wire import Event, Sample, Telemetry, encode

MONTH = "2026-09"
T0_MS = 1_788_987_600_000  # 2026-09-09T21:00:00Z
MINUTES = 360
RECEIVED_AFTER_MS = 1_500  # how long a message takes to reach the collector
POINTS = ("cit-01", "cit-02", "cit-03")
OUTAGE = range(100, 120)  # minutes of the first point with its WAN down
NOW_MS = 1_791_176_400_000  # 2026-10-05T05:00:00Z: the month is over when the report is made


@dataclass
class Agent:
    """One point's signer: its key and the chain value of its last message."""

    point: str
    key: Ed25519PrivateKey = field(default_factory=signing.generate)
    prev: bytes = signing.GENESIS
    count: int = 0

    @property
    def key_id(self) -> str:
        return signing.key_id(self.key.public_key())

    def sign(self, payload: bytes) -> dict[str, str]:
        """The user properties of a signed message (evidence_spec: k, p, s, and the id)."""
        h = signing.chain_hash(self.prev, payload)
        props = {
            "k": self.key_id,
            "p": self.prev.hex(),
            "s": signing.sign(self.key, h).hex(),
            "id": f"{self.point}-{self.count}",
        }
        self.prev, self.count = h, self.count + 1
        return props


def telemetry(point: str, minute: int, wan_up: bool = True) -> bytes:
    ts = T0_MS + minute * 60_000
    sample = Sample(
        ts_ms=ts,
        seq=1000 + minute,
        boot="b1",
        interval_s=60.0,
        device_up=True,
        wan_up=wan_up,
        rtt_ms=20.0 + minute % 7 if wan_up else None,
        loss_pct=0.0 if wan_up else 100.0,
        rx_bps=1e6 + minute * 1000,
        tx_bps=2e5,
        clients_assoc=minute % 30,
        clock_synced=True,
    )
    return encode(Telemetry(point=point, samples=[sample]))


def capacity(point: str, minute: int) -> bytes:
    data = {"down_mbps": 18.5, "up_mbps": 4.25, "method": "http"}
    event = Event(point=point, ts_ms=T0_MS + minute * 60_000 + 30_000, kind="capacity", data=data)
    return encode(event)


@dataclass
class Month:
    """The archive directory, its keys file and what went into it, in archive order."""

    archive: Path
    keys_file: Path
    agents: dict[str, Agent]
    collector_key: Ed25519PrivateKey
    records: list[Record]

    @property
    def days(self) -> list[str]:
        return days(self.archive)

    def segment(self, day: str) -> Path:
        return segment_path(self.archive, day)


def messages(agents: dict[str, Agent]) -> list[Record]:
    """Every point's messages, minute by minute, signed as the agents form them."""
    records = []
    for minute in range(MINUTES):
        for point, agent in agents.items():
            wan_up = not (point == POINTS[0] and minute in OUTAGE)
            payloads = [(topics.telemetry_topic(point), telemetry(point, minute, wan_up))]
            if minute == 150:
                payloads.append((topics.event_topic(point), capacity(point, minute)))
            for topic, payload in payloads:
                received = T0_MS + minute * 60_000 + RECEIVED_AFTER_MS + len(records) % 40
                records.append(Record(received, topic, payload, agent.sign(payload)))
    return records


def keys_json(
    agents: dict[str, Agent], collector: Ed25519PrivateKey, revoked: dict[str, int] | None = None
) -> dict[str, object]:
    """signing-keys.json as the PKI writes it (collector/admin/pki.py); `revoked`: point ->
    the time (ms) its key was revoked."""
    revoked = revoked or {}
    keys: dict[str, object] = {}
    entries = [(a.point, "agent", a.key) for a in agents.values()]
    entries.append(("collector-1", "collector", collector))
    for name, role, key in entries:
        public = key.public_key()
        kid = signing.key_id(public)
        at = revoked.get(name)
        keys[kid] = {
            "key_id": kid,
            "name": name,
            "role": role,
            "public_key": base64.b64encode(signing.public_raw(public)).decode(),
            "status": "revoked" if at is not None else "active",
            "created_at": "2026-09-01T00:00:00+00:00",
            "retired_at": None,
            "revoked_at": None if at is None else iso(at),
        }
    return {"version": 1, "keys": dict(sorted(keys.items()))}


def iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat()


def write_keys(path: Path, data: dict[str, object]) -> Path:
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def build_month(
    root: Path,
    records: list[Record] | None = None,
    agents: dict[str, Agent] | None = None,
    checkpoint: bool = True,
) -> Month:
    """Archive `records` (default: `messages` of fresh agents; given: with the `agents` that
    signed them) and checkpoint every day."""
    assert records is None or agents is not None, "records come with the agents that signed them"
    agents = agents or {p: Agent(p) for p in POINTS}
    records = messages(agents) if records is None else records
    archive = root / "archive"
    with ArchiveWriter(archive) as writer:
        for start in range(0, len(records), 200):
            writer.append_many(records[start : start + 200])
    collector = signing.generate()
    if checkpoint:
        close_days(archive, collector)
    keys_file = write_keys(root / "signing-keys.json", keys_json(agents, collector))
    return Month(archive, keys_file, agents, collector, records)


def build_split(
    root: Path,
    records: list[Record],
    agents: dict[str, Agent],
    where: Callable[[int, Record], Sequence[int]] | None = None,
    parts: int = 2,
) -> Month:
    """Archive `records` over `parts` worker archives (`<root>/archive/worker-<n>`), as
    collector workers on one share group do: record i goes to the archives `where(i, record)`
    names (default: alternately to each), then checkpoint every archive's days. The Month's
    archive is the folder holding them."""
    placed = where or (lambda i, _: [i % parts])
    archive = root / "archive"
    shares: list[list[Record]] = [[] for _ in range(parts)]
    for i, record in enumerate(records):
        for part in placed(i, record):
            shares[part].append(record)
    collector = signing.generate()
    for part, share in enumerate(shares, start=1):
        home = archive / f"worker-{part}"
        with ArchiveWriter(home) as writer:
            for start in range(0, len(share), 200):
                writer.append_many(share[start : start + 200])
        close_days(home, collector)
    keys_file = write_keys(root / "signing-keys.json", keys_json(agents, collector))
    return Month(archive, keys_file, agents, collector, records)


def close_days(archive: Path, key: Ed25519PrivateKey) -> None:
    store = CheckpointStore(archive)
    for day in days(archive):
        if day not in store.days():
            store.checkpoint_day(archive, day, key)


def first_day() -> str:
    return day_of(T0_MS)


def flip_payload_byte(month: Month, day: str, index: int, fix_checksum: bool = True) -> Record:
    """Change one byte of a telemetry record's payload (a digit of rx_bps) on disk, as someone with write access to the
    archive could; with `fix_checksum` the frame's CRC is made to match again, so only the
    signature can tell. Returns the record as it was."""
    import zlib

    from pantau.collector.archive import scan

    path = month.segment(day)
    data = bytearray(path.read_bytes())
    entry = next(e for e in scan.scan_day(month.archive, day) if e.index == index)
    assert entry.record is not None
    body_at = entry.offset + 8
    payload_at = body_at + len(entry.body) - len(entry.record.payload)
    digit = entry.record.payload.index(b'"rx_bps":') + len(b'"rx_bps":')
    data[payload_at + digit + 1] ^= 0x01  # rx_bps 1003000.0 becomes 1103000.0
    if fix_checksum:
        end = body_at + len(entry.body)
        crc = zlib.crc32(
            bytes(data[body_at:end]), zlib.crc32(bytes(data[entry.offset + 4 : body_at]))
        )
        data[end : end + 4] = crc.to_bytes(4, "big")
    path.write_bytes(bytes(data))
    return entry.record


def record_at(month: Month, day: str, index: int) -> Record:
    from pantau.collector.archive import scan

    entry = next(e for e in scan.scan_day(month.archive, day) if e.index == index)
    assert entry.record is not None
    return entry.record
