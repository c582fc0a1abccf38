"""Signed messages in (wire v2): the key and the signature are checked before anything of a
message is stored, and each point's hash chain is followed as messages arrive.

A message carries, as MQTT v5 user properties, `k` (its point's key id), `p` (the chain hash of
the point's previous message) and `s` (Ed25519 over `chain_hash(p, payload)`, collector/archive/signing.py).
A bad signature, a key that is not this point's, or one revoked is refused; so is a key retired
by a renewal, except through its handover and for its backlog (collector/archive/keys.py
`KeyRing.for_message`; the refusal's detail tells the operator what to do). A break
in the chain (a message missing, replayed or out of order) is not refused: it is recorded in
`integrity`, and `pantau evidence verify` checks whole chains from the archive. A redelivery
(the same message again, which QoS 1 and receipts make normal) is neither.
"""

from __future__ import annotations

import binascii
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pantau.collector.archive import signing
from pantau.collector.archive.keys import (
    DEFAULT_HORIZON_MS,
    UNKNOWN_KEY,
    KeyRing,
    latest_ms,
    load_keys,
)
from pantau.collector.evidence import INTEGRITY
from pantau.collector.influxdb.line_protocol import line
from pantau.shared import topics
from pantau.shared.errors import ConfigError

BAD_SIGNATURE = "bad_signature"
UNSIGNED = "unsigned"
BAD_SEAL = "bad_seal"  # k, p or s present but malformed
CHAIN_BREAK = "chain_break"
RECENT_HASHES = 512  # per point: enough to know a redelivery from a replay of old news
KEYS_LOOK_EVERY_S = 5.0
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Seal:
    key_id: str
    prev: bytes
    signature: bytes
    chain_hash: bytes


@dataclass(frozen=True)
class Refusal:
    reason: str
    detail: str

    @property
    def kept(self) -> bool:
        """Refused for now, not for good: an unsigned message, or one signed with a key this
        collector does not know yet (a point issued after the keys file was read). Its agent
        gets no receipt, keeps it and sends it again, so nothing is lost while the operator
        deploys the key or lists the point in unsigned_points."""
        return self.reason in (UNSIGNED, UNKNOWN_KEY)


def read_seal(props: Mapping[str, str], payload: bytes) -> Seal | Refusal | None:
    """The seal of a message, None for an unsigned one."""
    present = [name for name in ("k", "p", "s") if name in props]
    if not present:
        return None
    if len(present) < 3:
        return Refusal(BAD_SEAL, f"signed message without {', '.join(set('kps') - set(present))}")
    try:
        prev, signature = bytes.fromhex(props["p"]), bytes.fromhex(props["s"])
    except (ValueError, binascii.Error):
        return Refusal(BAD_SEAL, "p or s is not hex")
    if len(prev) != signing.HASH_BYTES or len(signature) != signing.SIGNATURE_BYTES:
        return Refusal(BAD_SEAL, f"p is {len(prev)} bytes, s is {len(signature)}")
    return Seal(props["k"][:64], prev, signature, signing.chain_hash(prev, payload))


class Verifier:
    """Decides whether a message's seal lets it in; follows each point's chain. The keys file
    is read again when it changes (a point issued or revoked), looked at every few seconds.
    `horizon_ms` is limits.max_age_s: how long after its handover's end a renewed key's
    messages can still arrive (collector/archive/keys.py)."""

    def __init__(
        self,
        keys_file: Path | None,
        unsigned_points: frozenset[str],
        chain_check: bool,
        clock: Callable[[], float] = time.monotonic,
        horizon_ms: int = DEFAULT_HORIZON_MS,
    ) -> None:
        self.keys_file = keys_file
        self.horizon_ms = horizon_ms
        self.keys: KeyRing | None = load_keys(keys_file) if keys_file else None
        self._mtime = _mtime(keys_file)
        self._clock = clock
        self._looked_at = clock()
        self.unsigned_points = unsigned_points
        self.chain_check = chain_check
        self._heads: dict[str, bytes] = {}
        self._recent: dict[str, deque[bytes]] = {}

    def _fresh_keys(self) -> KeyRing | None:
        now = self._clock()
        if self.keys_file is None or now - self._looked_at < KEYS_LOOK_EVERY_S:
            return self.keys
        self._looked_at = now
        mtime = _mtime(self.keys_file)
        if mtime != self._mtime:
            try:
                self.keys = load_keys(self.keys_file)
            except ConfigError as exc:  # a half-written file: keep the keys we have
                log.warning("keeping the signing keys read before: %s", exc)
            else:
                self._mtime = mtime
                log.info("read %d signing key(s) from %s", len(self.keys.keys), self.keys_file)
        return self.keys

    def check(
        self,
        point: str,
        payload: bytes,
        props: Mapping[str, str],
        received_ms: int,
        kind: str = topics.TELEMETRY,
    ) -> Seal | Refusal | None:
        """The verified seal; None for an unsigned message that may come in; or why not.
        `kind` is the topic's (telemetry or event): a renewed key's backlog is told by it."""
        seal = read_seal(props, payload)
        if isinstance(seal, Refusal):
            return seal
        keys = self._fresh_keys()
        if seal is None:
            if keys is None or point in self.unsigned_points or "*" in self.unsigned_points:
                return None
            return Refusal(UNSIGNED, "unsigned message; the point is not in unsigned_points")
        if keys is None:
            return None  # signatures not checked here: taken as unsigned
        key = keys.for_message(
            seal.key_id,
            point,
            received_ms,
            lambda: latest_ms(point, kind, payload),
            self.horizon_ms,
        )
        if isinstance(key, str):
            return Refusal(key, keys.explain(seal.key_id, point, key, self.horizon_ms))
        if not signing.verify(key.public, seal.chain_hash, seal.signature):
            return Refusal(BAD_SIGNATURE, f"signature of key {seal.key_id!r} does not match")
        return seal

    def follow(self, point: str, seal: Seal) -> str | None:
        """A description of the break this message makes in its point's chain, if any."""
        if not self.chain_check:
            return None
        recent = self._recent.setdefault(point, deque(maxlen=RECENT_HASHES))
        if seal.chain_hash in recent:
            return None  # a redelivery
        head = self._heads.get(point)
        self._heads[point] = seal.chain_hash
        recent.append(seal.chain_hash)
        if head is None or seal.prev == head:
            return None
        if seal.prev in recent:
            return f"links to an earlier message ({seal.prev.hex()[:16]}), not the latest"
        return f"links to {seal.prev.hex()[:16]}, the latest was {head.hex()[:16]}"


def chain_break_line(tags: Mapping[str, str], detail: str, topic: str, now_ms: int) -> str:
    """The `integrity` row of a break, beside the refused rewrites (collector/evidence.py)."""
    fields = {"detail": detail[:200], "topic": topic[:120]}
    return line(INTEGRITY, {**tags, "reason": CHAIN_BREAK}, fields, now_ms)


def mark_unsigned(lines: list[str]) -> list[str]:
    """Rows of a message taken unsigned (grace mode) say so: field `unsigned=true`."""
    out = []
    for text in lines:
        head, _, ts = text.rpartition(" ")
        out.append(f"{head},unsigned=true {ts}")
    return out


def _mtime(path: Path | None) -> float | None:
    try:
        return path.stat().st_mtime_ns if path else None
    except OSError:
        return None
