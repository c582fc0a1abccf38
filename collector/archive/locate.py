"""The archived messages that cover one minute of one point, with their inclusion proofs. Pure
but for the caller's reading of the days.

A sample taken at t with interval i covers the minute of t and the minutes after it, ⌈i/60⌉ in
all (collector/sla/hourly.py). A message covers a minute when one of its samples does. With
10-s samples about six messages cover a minute: all are given, each with the Merkle path from its
record to its day's root, so a provider can check a disputed minute holding only this output,
the day's checkpoint and the public keys.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pantau.collector.archive import merkle
from pantau.collector.archive.scan import Entry
from pantau.shared import topics

MINUTE_MS = 60_000


@dataclass(frozen=True)
class Covering:
    entry: Entry
    samples: list[dict[str, Any]]  # the message's samples that cover the minute


def covers(sample: dict[str, Any], minute_ms: int) -> bool:
    ts, interval = sample.get("ts_ms"), sample.get("interval_s") or 60.0
    if not isinstance(ts, int) or not isinstance(interval, int | float):
        return False
    first = ts // MINUTE_MS
    count = max(1, math.ceil(interval / 60 - 1e-9))
    return first <= minute_ms // MINUTE_MS < first + min(count, 60)


def covering(entries: Iterable[Entry], point: str, at_ms: int) -> list[Covering]:
    """The point's telemetry messages with a sample covering the minute of `at_ms`, in archive
    order."""
    minute_ms = at_ms - at_ms % MINUTE_MS
    found = []
    for entry in entries:
        record = entry.record
        if record is None or topics.parse_topic(record.topic) != (point, topics.TELEMETRY):
            continue
        try:
            body = json.loads(record.payload)
        except ValueError:
            continue
        samples = body.get("samples") if isinstance(body, dict) else None
        if not isinstance(samples, list):
            continue
        hits = [s for s in samples if isinstance(s, dict) and covers(s, minute_ms)]
        if hits:
            found.append(Covering(entry, hits))
    return found


def proof(day_bodies: Sequence[bytes], index: int) -> list[bytes]:
    """The inclusion path of leaf `index` in the tree of a day's record bodies."""
    return merkle.inclusion_proof([merkle.leaf_hash(b) for b in day_bodies], index)


def check(leaf: bytes, index: int, tree_size: int, path: Sequence[bytes], root: bytes) -> bool:
    """What a provider runs on `prove` output: the record leads to the checkpoint's root."""
    return merkle.verify_inclusion(index, tree_size, merkle.leaf_hash(leaf), path, root)
