"""The public keys a verifier trusts: the PKI's `signing-keys.json`, read without the PKI.

An auditor gets this file beside the archive; it lists every key ever issued with its state and
times. `KeyRing.for_message` is the one rule, applied by the collector as it takes a message in
(collector/signatures.py) and by `pantau evidence verify` to the archive
(collector/archive/chains.py). It reads only the file and the message (its key, its point, when
it arrived and the times it speaks of), never what one process has seen, so every collector
worker and a verifier months later give the same verdict:

- A key counts for what it signed while it was its point's.
- A key retired by a renewal (`pantau pki issue P --renew`) keeps vouching through its handover
  (`handover_until`, written by the renewal: the renewal time plus `--handover-days`): the new
  bundle reaches the SBC minutes to days later, and until then its agent signs its new samples
  with the old key. A message received after the renewal is taken when every time in it (each
  sample's, the event's) is before the handover's end and it arrives no later than the spool
  horizon (`limits.max_age_s`) after that end, as any backlog may. Anything else of that key is
  `retired_key`. A key file written before handovers existed has none: its handover ends at the
  renewal, the rule as it was (the backlog only).
- A revoked key (`pantau pki revoke P` revokes every key of the point, retired ones included)
  vouches for nothing received from the revocation on, whatever it is dated.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from pantau.collector.archive import signing
from pantau.shared import topics
from pantau.shared.contract import SAMPLE_HORIZON_S
from pantau.shared.errors import ConfigError, PayloadError
from pantau.shared.wire import Event, Telemetry, decode

UNKNOWN_KEY = "unknown_key"
REVOKED_KEY = "revoked_key"
RETIRED_KEY = "retired_key"
OTHER_POINT = "wrong_key"  # a real key, but another point's (or a collector's)
# How long after a renewal the retired key's backlog can still arrive: the collector's default
# limits.max_age_s (the agents' spool horizon); a config's own value is passed where there is one.
DEFAULT_HORIZON_MS = SAMPLE_HORIZON_S * 1000

Contents = Callable[[], int | None]  # the latest time a message speaks of, read when needed


def latest_ms(point: str, kind: str, payload: bytes) -> int | None:
    """The latest time a message of `point` on its `kind` topic speaks of, read as ingest reads
    it (the wire contract): its samples' or its event's `ts_ms`. None when the payload does not
    read as that (then nothing in it can be placed before a renewal)."""
    if kind not in (topics.TELEMETRY, topics.EVENT):
        return None
    try:  # the size limit is ingest's to apply, not the key's
        message = decode(kind, payload, point, max_bytes=len(payload))
    except PayloadError:
        return None
    if isinstance(message, Telemetry):
        return max((s.ts_ms for s in message.samples), default=None)
    if isinstance(message, Event):
        return message.ts_ms
    return None


@dataclass(frozen=True)
class PublicKey:
    key_id: str
    name: str  # the point id for an agent, the collector's name for a collector
    role: str
    public: Ed25519PublicKey
    status: str  # active, retired, revoked
    retired_ms: int | None = None
    revoked_ms: int | None = None
    handover_ms: int | None = None  # a retired key's messages dated from then on are refused

    @property
    def handover_end_ms(self) -> int:
        """Until when a retired key vouches for what it signs: never before its retirement."""
        retired = self.retired_ms or 0
        return max(retired, self.handover_ms or retired)

    def refusal(
        self, point: str, received_ms: int, contents: Contents, horizon_ms: int
    ) -> str | None:
        """Why a message of `point` received at `received_ms` may not rest on this key.
        `contents` is asked only for a retired key (it decodes the payload)."""
        if self.role != "agent" or self.name != point:
            return OTHER_POINT
        revoked = self.status == "revoked" or self.revoked_ms is not None
        if revoked and received_ms >= (self.revoked_ms or 0):
            return REVOKED_KEY
        if self.status == "retired" or self.retired_ms is not None:
            if received_ms < (self.retired_ms or 0):
                return None  # it was the point's key then
            end = self.handover_end_ms
            if received_ms >= end + horizon_ms:
                return RETIRED_KEY  # nothing it signed in time can arrive this late
            latest = contents()
            if latest is None or latest >= end:
                return RETIRED_KEY  # speaks of a time after its handover
        return None

    def explain(self, reason: str, point: str, horizon_ms: int) -> str:
        """What an operator reads beside a refusal: what the key was, and what to do."""
        if reason == OTHER_POINT:
            return f"key {self.key_id} is {self.role} {self.name}'s, not {point}'s"
        if reason == REVOKED_KEY:
            return (
                f"key {self.key_id} of {point} was revoked at {_iso(self.revoked_ms or 0)}: it"
                " vouches for nothing received since"
            )
        if reason == RETIRED_KEY:
            end = self.handover_end_ms
            return (
                f"key {self.key_id} of {point} was retired by a renewal at "
                f"{_iso(self.retired_ms or 0)}; it vouches only for messages dated before its "
                f"handover ended at {_iso(end)} and received by {_iso(end + horizon_ms)}: "
                f"deploy {point}'s new bundle (signing.key of `pantau pki issue {point} --renew`)"
                " on its agent"
            )
        return f"key {self.key_id}"


@dataclass(frozen=True)
class KeyRing:
    keys: Mapping[str, PublicKey]

    def for_message(
        self,
        key_id: str,
        point: str,
        received_ms: int,
        contents: Contents,
        horizon_ms: int = DEFAULT_HORIZON_MS,
    ) -> PublicKey | str:
        """The key to check a message's signature with, or the reason it cannot be used.
        `contents`: e.g. `lambda: latest_ms(point, kind, payload)`; `horizon_ms`: limits.max_age_s."""
        key = self.keys.get(key_id)
        if key is None:
            return UNKNOWN_KEY
        return key.refusal(point, received_ms, contents, horizon_ms) or key

    def explain(
        self, key_id: str, point: str, reason: str, horizon_ms: int = DEFAULT_HORIZON_MS
    ) -> str:
        """The operator's words for a refusal `for_message` gave (key ids are public)."""
        key = self.keys.get(key_id)
        if key is None:
            return f"key {key_id!r} is not in the keys file (yet): its agent keeps the message"
        return key.explain(reason, point, horizon_ms)

    def checkpoint_keys(self) -> dict[str, Ed25519PublicKey]:
        """Collector keys by id: who may sign a checkpoint."""
        return {k: v.public for k, v in self.keys.items() if v.role == "collector"}


def load_keys(path: str | Path) -> KeyRing:
    """Raises ConfigError with the file and the first thing wrong in it."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such keys file (the PKI's signing-keys.json)") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable JSON keys file ({exc})") from None
    if (
        not isinstance(raw, dict)
        or raw.get("version") != 1
        or not isinstance(raw.get("keys"), dict)
    ):
        raise ConfigError(f"{path}: not a signing-keys.json (version 1 with a 'keys' object)")
    return KeyRing({key_id: _key(path, key_id, item) for key_id, item in raw["keys"].items()})


def keys_from(public: Mapping[str, tuple[str, str, Ed25519PublicKey]]) -> KeyRing:
    """A ring of active keys: key id -> (name, role, key). For tests and tools."""
    return KeyRing(
        {k: PublicKey(k, name, role, key, "active") for k, (name, role, key) in public.items()}
    )


def _key(path: Path, key_id: str, item: object) -> PublicKey:
    where = f"{path}: key {key_id[:20]!r}"
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: not an object")
    try:
        public = signing.public_key_from_raw(base64.b64decode(item["public_key"], validate=True))
        found = PublicKey(
            key_id=key_id,
            name=str(item["name"]),
            role=str(item["role"]),
            public=public,
            status=str(item.get("status", "active")),
            retired_ms=_ms(item.get("retired_at")),
            revoked_ms=_ms(item.get("revoked_at")),
            handover_ms=_ms(item.get("handover_until")),
        )
    except KeyError as exc:
        raise ConfigError(f"{where}: no {exc.args[0]!r}") from None
    except (binascii.Error, ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if signing.key_id(public) != key_id:
        raise ConfigError(f"{where}: the public key's id is {signing.key_id(public)}")
    return found


def _ms(text: object) -> int | None:
    if text is None:
        return None
    when = dt.datetime.fromisoformat(str(text))
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp() * 1000)


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="seconds")
