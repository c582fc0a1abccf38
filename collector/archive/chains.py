"""Every signature and every per-point chain of a stretch of the archive, each break named. Pure:
the archived entries and the public keys come in, findings go out.

A point's telemetry and events form one chain: each message names the chain value of the one
before it (`p`) and is signed over its own (`h = chain_hash(p, payload)`). Walking a point's
messages in the order they were archived, anything but "p is the last h" is a finding:

- gap: the message follows one the archive does not hold (deleted, or never delivered);
- reorder: the message follows one archived after it (the late one is not named again);
- fork: two different messages follow the same one (an agent whose spool was rolled back);
- replay: the same message again, long after it was first archived. The same message again
  within `REDELIVERY_MS`, or right after itself, is a redelivery (the collector took it in but
  its acknowledgement was lost), counted and harmless: it carries the same samples;
- bad_signature / unknown_key / revoked_key / retired_key / wrong_key / unsigned / damaged:
  the message itself cannot be trusted. It still takes its place in the chain, so the message
  after it is not named a second time.

One pass, in archive order (`ChainChecker`): a gap is held until the end in case the message it
misses turns up later (then it is a reorder). Chain values are kept for the last two days only,
so a month of a city fits in memory; a replay older than that still breaks the chain (a fork).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pantau.collector.archive.keys import KeyRing, PublicKey
from pantau.collector.archive.scan import Entry
from pantau.shared import signing, topics

REDELIVERY_MS = 3_600_000  # a resend the collector archived twice arrives within this
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

    def __str__(self) -> str:
        return f"{self.kind}: point {self.point}, {self.what}, {self.day} record {self.index}: {self.detail}"


@dataclass
class ChainReport:
    findings: list[Finding] = field(default_factory=list)
    messages: Counter[str] = field(default_factory=Counter)  # per point: chained messages
    unsigned: Counter[str] = field(default_factory=Counter)  # per point, in grace mode
    redelivered: Counter[str] = field(default_factory=Counter)
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


@dataclass
class _Seen:
    day: str
    index: int
    received_ms: int


@dataclass
class _Chain:
    last: bytes | None = None  # None: no message known before
    after_bad: bool = False  # the last message could not be trusted
    # chain values seen, by the day they were archived: the last `keep_days` days only, so
    # memory stays bounded; a replay older than that still breaks the chain (a fork or gap)
    seen: dict[str, dict[bytes, _Seen]] = field(default_factory=dict)
    pending: dict[bytes, Finding] = field(default_factory=dict)  # gaps a late message may close

    def find(self, h: bytes) -> _Seen | None:
        for by_day in self.seen.values():
            found = by_day.get(h)
            if found is not None:
                return found
        return None


class ChainChecker:
    """Fed the archive's entries in order (day by day, record by record); `finish` gives the
    findings sorted the same way. Findings on days before `report_from` are context only."""

    def __init__(
        self,
        keys: KeyRing,
        unsigned_points: frozenset[str] = frozenset(),
        report_from: str = "",
        redelivery_ms: int = REDELIVERY_MS,
        keep_days: int = 2,
    ) -> None:
        self.keys = keys
        self.unsigned_points = unsigned_points
        self.report_from = report_from
        self.redelivery_ms = redelivery_ms
        self.keep_days = keep_days
        self.report = ChainReport()
        self._chains: dict[str, _Chain] = {}

    def feed(self, entry: Entry) -> bool:
        """Check one entry; True when its content can be trusted (a valid signature of a
        current key of its point, or unsigned in grace mode, and undamaged)."""
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
            return False
        h = signing.chain_hash(prev, record.payload)
        key = self.keys.for_message(key_id, point, record.received_ms)
        trusted = False
        if not isinstance(key, PublicKey):
            self._finding(entry, key, point, f"key {key_id}")
        elif not signing.verify(key.public, h, signature):
            self._finding(
                entry, "bad_signature", point, f"the signature of key {key_id} does not match"
            )
        else:
            trusted = not entry.problem
        self.report.messages[point] += 1
        self._link(entry, point, prev, h, trusted)
        return trusted

    def finish(self) -> ChainReport:
        for point, chain in self._chains.items():
            for finding in chain.pending.values():
                if finding.day >= self.report_from:
                    self.report.findings.append(finding)
            chain.pending.clear()
            if chain.last is not None:
                self.report.heads[point] = chain.last
        self.report.findings.sort()
        return self.report

    def _link(self, entry: Entry, point: str, prev: bytes, h: bytes, trusted: bool) -> None:
        chain = self._chains.get(point)
        if chain is None:
            chain = self._chains[point] = _Chain()
        if not trusted:  # named already; it keeps its place, so the next one is not named too
            if chain.last is None or prev == chain.last or chain.after_bad:
                chain.last, chain.after_bad = h, True
            return
        record = entry.record
        assert record is not None
        first = chain.find(h)
        if first is not None:
            age_ms = record.received_ms - first.received_ms
            if h == chain.last or age_ms <= self.redelivery_ms:
                self.report.redelivered[point] += 1
            else:
                self._finding(
                    entry,
                    "replay",
                    point,
                    f"the same message as {first.day} record {first.index},"
                    f" again {age_ms / 3_600_000:.1f} h later",
                )
            return
        self._remember(chain, entry, h, record.received_ms)
        late = chain.pending.pop(h, None)
        if late is not None:  # the message an earlier one follows: that one came early
            self._add(
                Finding(
                    late.day,
                    late.index,
                    "reorder",
                    point,
                    late.what,
                    f"archived before the message it follows ({describe(entry)},"
                    f" {entry.day} record {entry.index})",
                )
            )
            return
        if chain.last is None or prev == chain.last or chain.after_bad:
            pass
        elif prev == signing.GENESIS:
            self._finding(entry, "gap", point, "the chain starts again from its beginning")
        elif chain.find(prev) is not None:
            self._finding(entry, "fork", point, "follows a message another one already follows")
        else:
            chain.pending[prev] = Finding(
                entry.day,
                entry.index,
                "gap",
                point,
                describe(entry),
                "follows a message the archive does not hold (missing before it)",
            )
        chain.last, chain.after_bad = h, False

    def _remember(self, chain: _Chain, entry: Entry, h: bytes, received_ms: int) -> None:
        by_day = chain.seen.get(entry.day)
        if by_day is None:
            by_day = chain.seen[entry.day] = {}
            while len(chain.seen) > self.keep_days:
                del chain.seen[min(chain.seen)]
        by_day[h] = _Seen(entry.day, entry.index, received_ms)

    def _finding(self, entry: Entry, kind: str, point: str, detail: str) -> None:
        self._add(Finding(entry.day, entry.index, kind, point, describe(entry), detail))

    def _add(self, finding: Finding) -> None:
        if finding.day >= self.report_from:
            self.report.findings.append(finding)


def check_chains(
    entries: Iterable[Entry],
    keys: KeyRing,
    unsigned_points: frozenset[str] = frozenset(),
    heads: Mapping[str, bytes] | None = None,
    report_from: str = "",
) -> ChainReport:
    """All at once, for a stretch that fits in memory (tests, small archives)."""
    checker = ChainChecker(keys, unsigned_points, report_from)
    for point, h in (heads or {}).items():
        checker._chains[point] = _Chain(last=h)
    for entry in entries:
        checker.feed(entry)
    return checker.finish()


def _hex(text: str | None, size: int) -> bytes | None:
    if text is None or len(text) != 2 * size or not set(text) <= _HEX:
        return None
    return bytes.fromhex(text)
