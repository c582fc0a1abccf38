"""Every signature and every per-point chain of a stretch of the archives, each break named.
Pure: the archived entries and the public keys come in, findings go out.

A point's telemetry and events form one chain: each message names the chain value of the one
before it (`p`) and is signed over its own (`h = chain_hash(p, payload)`). The messages of one
point may be spread over several archives (collector workers or hosts on one share group), so
the chain is followed by its links, not in the order anything was archived
(collector/archive/links.py); what does not fit is a finding:

- gap: the message follows one no archive holds (deleted, or never delivered);
- fork: two different messages follow the same one (an agent whose spool was rolled back);
- replay: the same message again, long after it was first archived. The same message again
  within `REDELIVERY_MS`, in any archive, is a redelivery (the collector took it in but its
  acknowledgement was lost), counted and harmless: it carries the same samples;
- bad_signature / unknown_key / revoked_key / retired_key / wrong_key / unsigned / damaged:
  the message itself cannot be trusted (a retired key: keys.py `KeyRing.for_message`, the rule
  the collector applied when it took the message in). It still takes its place in the chain, so the message
  after it is not named a second time.

Entries come day by day (every archive's records of one day, then the next day's); signatures
are checked as they come, links when the day is over. Memory: see links.py.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pantau.collector.archive import signing
from pantau.collector.archive.keys import DEFAULT_HORIZON_MS, KeyRing, PublicKey, latest_ms
from pantau.collector.archive.links import REDELIVERY_MS, Links, Row
from pantau.collector.archive.scan import Entry
from pantau.shared import topics

CHAINED = frozenset({"telemetry", "event"})
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True, order=True)
class Finding:
    day: str
    index: int
    kind: str
    point: str
    what: str  # "seq 1042" (first sample of a telemetry message) or "capacity event at ..."
    detail: str
    archive: str = ""  # which archive, when there are several

    def __str__(self) -> str:
        where = f"{self.archive + ' ' if self.archive else ''}{self.day} record {self.index}"
        return f"{self.kind}: point {self.point}, {self.what}, {where}: {self.detail}"


@dataclass
class ChainReport:
    findings: list[Finding] = field(default_factory=list)
    messages: Counter[str] = field(default_factory=Counter)  # per point: chained messages
    unsigned: Counter[str] = field(default_factory=Counter)  # per point, in grace mode
    redelivered: Counter[str] = field(default_factory=Counter)
    late: Counter[str] = field(default_factory=Counter)  # gaps a later message filled
    refused: Counter[str] = field(default_factory=Counter)  # authentic, refused for content
    heads: dict[str, bytes] = field(default_factory=dict)  # per point: the last chain value

    @property
    def ok(self) -> bool:
        return not self.findings


def describe(entry: Entry) -> str:
    """How a person finds the message: its first sample's seq, or the event's kind and time."""
    record = entry.record
    if record is None:
        return "an unreadable message"
    try:
        body: Any = json.loads(record.payload)
    except ValueError:
        return "a message that is not JSON"
    if not isinstance(body, dict):
        return "a message that is not a JSON object"
    samples = body.get("samples")
    if isinstance(samples, list) and samples and isinstance(samples[0], dict):
        return f"seq {samples[0].get('seq')}"
    if "kind" in body:
        return f"{body.get('kind')} event at ts_ms {body.get('ts_ms')}"
    return "a message without samples"


class ChainChecker:
    """Fed the archives' entries day by day (every archive's records of a day, then the next
    day's); `finish` gives the findings sorted by day and record. Findings on days before
    `report_from` are context only. `archives` names the archives for findings (one archive:
    none needed). `horizon_ms` is the collector's limits.max_age_s: how long a renewed key's
    backlog can still arrive (keys.py)."""

    def __init__(
        self,
        keys: KeyRing,
        unsigned_points: frozenset[str] = frozenset(),
        report_from: str = "",
        redelivery_ms: int = REDELIVERY_MS,
        horizon_ms: int = DEFAULT_HORIZON_MS,
    ) -> None:
        self.keys = keys
        self.horizon_ms = horizon_ms
        self.unsigned_points = unsigned_points
        self.report_from = report_from
        self.report = ChainReport()
        self._links = Links(self._where, redelivery_ms)
        self._archives: dict[str, int] = {}
        self._names: list[str] = []
        self._day = ""
        self._notes: dict[tuple[int, int, int], str] = {}  # names of messages without a seq

    def feed(self, entry: Entry) -> bool:
        """Check one entry; True when its content can be trusted (a valid signature of a
        current key of its point, or unsigned in grace mode, and undamaged)."""
        if entry.day != self._day:
            if entry.day < self._day:
                raise ValueError(f"{entry.day} fed after {self._day}: feed day by day")
            self._links.close_day()
            self._day = entry.day
        record = entry.record
        if record is None:
            self._finding(entry, "damaged", "?", entry.problem or "unreadable")
            return False
        parsed = topics.parse_topic(record.topic)
        if parsed is None:
            self._finding(entry, "damaged", "?", f"topic {record.topic[:80]!r} is not ours")
            return False
        point, kind = parsed
        if entry.problem:
            self._finding(entry, "damaged", point, entry.problem)
        if kind not in CHAINED:
            return not entry.problem  # state messages are not signed
        props = record.properties
        if "k" not in props and "s" not in props:
            if point in self.unsigned_points or "*" in self.unsigned_points:
                self.report.unsigned[point] += 1
                return not entry.problem
            self._finding(
                entry, "unsigned", point, "no signature, and the point is not in grace mode"
            )
            return False
        prev = _hex(props.get("p"), signing.HASH_BYTES)
        signature = _hex(props.get("s"), signing.SIGNATURE_BYTES)
        key_id = props.get("k", "")
        if prev is None or signature is None or len(key_id) != signing.KEY_ID_CHARS:
            self._finding(entry, "bad_signature", point, "malformed evidence properties (k, p, s)")
            self._links.add_unlinked(point)
            return False
        h = signing.chain_hash(prev, record.payload)
        payload = record.payload
        key = self.keys.for_message(
            key_id,
            point,
            record.received_ms,
            lambda: latest_ms(point, kind, payload),
            self.horizon_ms,
        )
        trusted = False
        if not isinstance(key, PublicKey):
            self._finding(entry, key, point, f"key {key_id}")
        elif not signing.verify(key.public, h, signature):
            self._finding(
                entry, "bad_signature", point, f"the signature of key {key_id} does not match"
            )
        else:
            trusted = not entry.problem
            if record.refused is not None:  # in the chain, but its rows were never stored
                self.report.refused[point] += 1
        self.report.messages[point] += 1
        self._links.add(point, self._row(entry, prev, h, trusted))
        return trusted

    def finish(self) -> ChainReport:
        self.report.heads = self._links.finish()
        for found in self._links.breaks:
            row = found.row
            day = dt.date.fromordinal(row.day).isoformat()
            what = (
                f"seq {row.seq}"
                if row.seq is not None
                else self._notes.get((row.archive, row.day, row.index), "?")
            )
            self._add(
                Finding(
                    day, row.index, found.kind, found.point, what, found.detail,
                    self._names[row.archive],
                )
            )  # fmt: skip
        self._links.breaks.clear()
        self.report.redelivered = self._links.redelivered
        self.report.late = self._links.late
        self.report.findings.sort()
        return self.report

    def seed(self, point: str, head: bytes) -> None:
        """The chain value the point's chain continues from (checked before)."""
        self._links.seed(point, head)

    def _row(self, entry: Entry, prev: bytes, h: bytes, trusted: bool) -> Row:
        archive = self._archives.get(entry.archive)
        if archive is None:
            archive = self._archives[entry.archive] = len(self._names)
            self._names.append(entry.archive)
        day = dt.date.fromisoformat(entry.day).toordinal()
        what = describe(entry)
        seq = _int(what.removeprefix("seq ")) if what.startswith("seq ") else None
        if seq is None:
            self._notes[(archive, day, entry.index)] = what
        assert entry.record is not None
        return Row(prev, h, entry.record.received_ms, archive, day, entry.index, trusted, seq)

    def _where(self, row: Row) -> str:
        day = dt.date.fromordinal(row.day).isoformat()
        name = self._names[row.archive]
        return f"{name + ' ' if name else ''}{day} record {row.index}"

    def _finding(self, entry: Entry, kind: str, point: str, detail: str) -> None:
        self._add(
            Finding(entry.day, entry.index, kind, point, describe(entry), detail, entry.archive)
        )

    def _add(self, finding: Finding) -> None:
        if finding.day >= self.report_from:
            self.report.findings.append(finding)


def check_chains(
    entries: Iterable[Entry],
    keys: KeyRing,
    unsigned_points: frozenset[str] = frozenset(),
    heads: Mapping[str, bytes] | None = None,
    report_from: str = "",
    horizon_ms: int = DEFAULT_HORIZON_MS,
) -> ChainReport:
    """All at once (entries day by day, as `ChainChecker` wants them)."""
    checker = ChainChecker(keys, unsigned_points, report_from, horizon_ms=horizon_ms)
    for point, h in (heads or {}).items():
        checker.seed(point, h)
    for entry in entries:
        checker.feed(entry)
    return checker.finish()


def _int(text: str) -> int | None:
    try:
        value = int(text)
    except ValueError:
        return None
    return value if str(value) == text and -(2**63) <= value < 2**63 else None


def _hex(text: str | None, size: int) -> bytes | None:
    if text is None or len(text) != 2 * size or not set(text) <= _HEX:
        return None
    return bytes.fromhex(text)
