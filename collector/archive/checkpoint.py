"""Daily checkpoints: the head of each day's Merkle tree, signed by the collector, chained.

A checkpoint says "on this day the archive held `tree_size` messages with this root", names the
previous day's checkpoint by its hash and carries the collector's Ed25519 signature. Altering a
message changes its day's root; removing a day, or altering or re-signing a checkpoint, breaks
the chain at that day. `verify` names the first day where any of it fails.

A checkpoint is canonical JSON (sorted keys, no spaces, ASCII), one file per day under
`<dir>/YYYY-MM/YYYY-MM-DD.checkpoint.json`, written once. The signature covers the JSON of
every field but `signature`; the chain hash covers all of it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from pantau.collector.archive import merkle, segments, signing
from pantau.shared.errors import PantauError

KIND = "pantau-checkpoint/1"
GENESIS_PREV = "0" * 64  # the `prev` of the first checkpoint an archive has
_FIELDS = ("day", "kind", "prev", "root", "signature", "signer", "tree_size")


class CheckpointError(PantauError):
    """A checkpoint cannot be made or read (bad file, out of order, already written)."""


@dataclass(frozen=True)
class Checkpoint:
    day: str  # YYYY-MM-DD, UTC
    tree_size: int
    root: str  # hex of the day's Merkle root
    prev: str  # hex SHA-256 of the previous day's checkpoint JSON, or GENESIS_PREV
    signer: str  # key id of the collector's signing key
    signature: str = ""  # base64 Ed25519 signature over `signed_bytes()`

    def body(self) -> dict[str, Any]:
        return {
            "kind": KIND,
            "day": self.day,
            "tree_size": self.tree_size,
            "root": self.root,
            "prev": self.prev,
            "signer": self.signer,
        }

    def signed_bytes(self) -> bytes:
        return canonical(self.body())

    def to_json(self) -> bytes:
        return canonical(self.body() | {"signature": self.signature})

    def hash(self) -> str:
        """What the next day's checkpoint names as `prev`."""
        return hashlib.sha256(self.to_json()).hexdigest()

    @classmethod
    def from_json(cls, data: bytes) -> Checkpoint:
        """Strict: exactly the fields, of the right types, in canonical form."""
        try:
            raw = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise ValueError("not JSON") from None
        if not isinstance(raw, dict) or sorted(raw) != list(_FIELDS):
            raise ValueError(f"fields are not {', '.join(_FIELDS)}")
        if raw["kind"] != KIND:
            raise ValueError(f"kind {raw['kind']!r} is not {KIND!r}")
        if not isinstance(raw["tree_size"], int) or isinstance(raw["tree_size"], bool):
            raise ValueError("tree_size is not an integer")
        for name in ("day", "root", "prev", "signer", "signature"):
            if not isinstance(raw[name], str):
                raise ValueError(f"{name} is not a string")
        raw.pop("kind")
        checkpoint = cls(**raw)
        if checkpoint.to_json() != data.strip():
            raise ValueError("not in canonical form")
        return checkpoint


@dataclass(frozen=True)
class Failure:
    """The first day that does not verify, and why."""

    day: str
    reason: str

    def __str__(self) -> str:
        return f"{self.day}: {self.reason}"


def canonical(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def tree_head(archive_dir: Path, day: str) -> tuple[int, bytes]:
    """(size, root) of a day's tree, from its segment; a day without one is the empty tree."""
    path = segments.segment_path(archive_dir, day)
    builder = merkle.TreeBuilder()
    if path.exists():
        for _, body in segments.read_bodies(path):
            builder.add(body)
    return builder.size, builder.root()


def make_checkpoint(
    day: str,
    tree_size: int,
    root: bytes,
    previous: Checkpoint | None,
    key: Ed25519PrivateKey,
) -> Checkpoint:
    """Sign a day's tree head, chained to the day before (`previous`, None for the first)."""
    _parse_day(day)
    if previous is not None and _next_day(previous.day) != day:
        raise CheckpointError(f"a checkpoint for {day} cannot follow the one for {previous.day}")
    unsigned = Checkpoint(
        day=day,
        tree_size=tree_size,
        root=root.hex(),
        prev=previous.hash() if previous is not None else GENESIS_PREV,
        signer=signing.key_id(key.public_key()),
    )
    signature = signing.sign(key, unsigned.signed_bytes())
    return replace(unsigned, signature=base64.b64encode(signature).decode())


class CheckpointStore:
    """One file per day, written once and never replaced."""

    def __init__(self, directory: str | Path) -> None:
        self.dir = Path(directory)

    def path(self, day: str) -> Path:
        _parse_day(day)
        return self.dir / day[:7] / f"{day}.checkpoint.json"

    def days(self) -> list[str]:
        return sorted(
            p.name.removesuffix(".checkpoint.json")
            for p in self.dir.glob("????-??/????-??-??.checkpoint.json")
        )

    def load(self, day: str) -> Checkpoint:
        path = self.path(day)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise CheckpointError(f"{path}: no checkpoint for {day}") from None
        try:
            checkpoint = Checkpoint.from_json(data)
        except ValueError as exc:
            raise CheckpointError(f"{path}: damaged checkpoint ({exc})") from None
        if checkpoint.day != day:
            raise CheckpointError(f"{path}: holds the checkpoint of {checkpoint.day}")
        return checkpoint

    def all(self) -> list[Checkpoint]:
        return [self.load(day) for day in self.days()]

    def latest(self) -> Checkpoint | None:
        found = self.days()
        return self.load(found[-1]) if found else None

    def write(self, checkpoint: Checkpoint) -> Path:
        path = self.path(checkpoint.day)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        except FileExistsError:
            raise CheckpointError(f"{path}: the checkpoint of {checkpoint.day} exists") from None
        with os.fdopen(fd, "wb") as handle:
            handle.write(checkpoint.to_json() + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        return path

    def checkpoint_day(self, archive_dir: Path, day: str, key: Ed25519PrivateKey) -> Checkpoint:
        """Close a day: its tree head from the archive, chained to the latest checkpoint."""
        size, root = tree_head(archive_dir, day)
        checkpoint = make_checkpoint(day, size, root, self.latest(), key)
        self.write(checkpoint)
        return checkpoint


def verify_chain(
    checkpoints: Sequence[Checkpoint],
    keys: Mapping[str, Ed25519PublicKey],
    after: Checkpoint | None = None,
) -> Failure | None:
    """Signatures and links, day by day. `after` is the checkpoint just before the first one
    (None: the first must start the chain). Returns the first bad day, or None."""
    previous = after
    for checkpoint in checkpoints:
        failure = _check_one(checkpoint, previous, keys)
        if failure is not None:
            return failure
        previous = checkpoint
    return None


def verify_against_archive(checkpoints: Sequence[Checkpoint], archive_dir: Path) -> Failure | None:
    """Each day's tree, recomputed from the archive, against its checkpoint."""
    for checkpoint in checkpoints:
        failure = _check_tree(checkpoint, archive_dir)
        if failure is not None:
            return failure
    return None


def verify(
    checkpoints: Sequence[Checkpoint],
    keys: Mapping[str, Ed25519PublicKey],
    archive_dir: Path,
    after: Checkpoint | None = None,
) -> Failure | None:
    """Chain and archive together, day by day: the first day where anything fails."""
    previous = after
    for checkpoint in checkpoints:
        failure = _check_one(checkpoint, previous, keys) or _check_tree(checkpoint, archive_dir)
        if failure is not None:
            return failure
        previous = checkpoint
    return None


def _check_one(
    checkpoint: Checkpoint, previous: Checkpoint | None, keys: Mapping[str, Ed25519PublicKey]
) -> Failure | None:
    day = checkpoint.day
    try:
        _parse_day(day)
    except CheckpointError as exc:
        return Failure(day, str(exc))
    if previous is not None and _next_day(previous.day) != day:
        expected = _next_day(previous.day)
        if day > expected:
            return Failure(expected, f"no checkpoint (the chain goes from {previous.day} to {day})")
        return Failure(day, f"out of order (follows {previous.day})")
    public = keys.get(checkpoint.signer)
    if public is None:
        return Failure(day, f"signed by an unknown key {checkpoint.signer!r}")
    try:
        signature = base64.b64decode(checkpoint.signature, validate=True)
    except (binascii.Error, ValueError):
        return Failure(day, "signature is not base64")
    if not signing.verify(public, checkpoint.signed_bytes(), signature):
        return Failure(day, "bad signature")
    expected_prev = previous.hash() if previous is not None else GENESIS_PREV
    if checkpoint.prev != expected_prev:
        what = f"the checkpoint of {previous.day}" if previous is not None else "the chain's start"
        return Failure(day, f"prev {checkpoint.prev[:16]}... does not name {what}")
    return None


def _check_tree(checkpoint: Checkpoint, archive_dir: Path) -> Failure | None:
    try:
        size, root = tree_head(archive_dir, checkpoint.day)
    except segments.ArchiveError as exc:
        return Failure(checkpoint.day, f"archive unreadable: {exc}")
    if size != checkpoint.tree_size:
        return Failure(
            checkpoint.day, f"archive holds {size} messages, checkpoint says {checkpoint.tree_size}"
        )
    if root.hex() != checkpoint.root:
        return Failure(checkpoint.day, "archive's Merkle root differs from the checkpoint's")
    return None


def _parse_day(day: str) -> dt.date:
    try:
        parsed = dt.date.fromisoformat(day)
    except (TypeError, ValueError):
        raise CheckpointError(f"{day!r} is not a day (YYYY-MM-DD)") from None
    if parsed.isoformat() != day:
        raise CheckpointError(f"{day!r} is not a day (YYYY-MM-DD)")
    return parsed


def _next_day(day: str) -> str:
    return (_parse_day(day) + dt.timedelta(days=1)).isoformat()
