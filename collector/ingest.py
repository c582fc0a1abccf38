"""One MQTT message in, line protocol out, or a reason it was refused. No I/O."""

from __future__ import annotations

from dataclasses import dataclass, field

from pantau.collector import lines
from pantau.shared import topics
from pantau.shared.errors import PayloadError
from pantau.shared.registry import Point
from pantau.shared.wire import Event, State, Telemetry, decode

HOUR_MS = 3_600_000


@dataclass(frozen=True)
class Accepted:
    point: str
    lines: list[str]
    hours: frozenset[int] = frozenset()  # UTC hour starts (ms) whose telemetry changed
    seqs: tuple[tuple[str, int], ...] = ()  # (boot, seq) of each sample, for live counters
    kind: str = "telemetry"


@dataclass(frozen=True)
class Rejected:
    reason: str
    detail: str
    point: str | None = field(default=None)


def ingest(
    topic: str,
    payload: bytes,
    retained: bool,
    registry: dict[str, Point],
    max_bytes: int,
    received_ms: int,
) -> Accepted | Rejected:
    parsed = topics.parse_topic(topic)
    if parsed is None:
        return Rejected("unknown_topic", f"topic {topic[:120]!r} is not part of the v1 contract")
    topic_point, kind = parsed
    point = registry.get(topic_point)
    if point is None:
        return Rejected("unknown_point", f"point {topic_point[:64]!r} is not in the registry")
    try:
        message = decode(kind, payload, topic_point, max_bytes)
    except PayloadError as exc:
        return Rejected(exc.reason, exc.detail, topic_point)
    if isinstance(message, Telemetry):
        return Accepted(
            point=point.id,
            lines=lines.telemetry_lines(message, point),
            hours=frozenset(s.ts_ms - s.ts_ms % HOUR_MS for s in message.samples),
            seqs=tuple((s.boot, s.seq) for s in message.samples),
        )
    if isinstance(message, State):
        if retained:  # a retained state replayed on subscribe is old news, not a transition
            return Accepted(point=point.id, lines=[], kind="state")
        return Accepted(
            point=point.id, lines=[lines.state_line(message, point, received_ms)], kind="state"
        )
    assert isinstance(message, Event)
    return Accepted(point=point.id, lines=lines.event_lines(message, point), kind="event")
