"""One MQTT message in, line protocol out, or a reason it was refused. No I/O.

Beyond the wire contract's own bounds, the collector believes only what is plausible now
(`limits`): a sample from the future or from before the agents' spool horizon is dropped, a rate
above the fastest link or a client count above the ceiling is nulled, each with a counted reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import chain, repeat
from operator import attrgetter, floordiv, itemgetter

from pantau.collector import lines
from pantau.collector.config import LimitsConfig
from pantau.shared import topics
from pantau.shared.contract import CAPACITY_METHODS, EVENT_DATA, ContractError, event_datum
from pantau.shared.errors import PayloadError
from pantau.shared.registry import Point
from pantau.shared.wire import Event, Sample, State, Telemetry, decode

HOUR_MS = 3_600_000
DEFAULT_LIMITS = LimitsConfig()
RATE_FIELDS = ("rx_bps", "tx_bps")
CLIENT_FIELDS = ("clients_assoc", "clients_hotspot", "clients_dhcp")
COUNTER_FIELDS = (
    "rx_bytes",
    "tx_bytes",
    "rx_packets",
    "tx_packets",
    "rx_errors",
    "tx_errors",
    "link_downs",
)
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
UNKNOWN_DATA = "unknown_data"  # event data names outside the contract: left out, counted


@dataclass(frozen=True)
class Flag:
    """Part of an accepted message was refused: `count` samples or values, for `reason`."""

    reason: str
    count: int
    detail: str


@dataclass(frozen=True)
class Accepted:
    point: str
    lines: list[str]
    hours: frozenset[int] = frozenset()  # UTC hour starts (ms) whose telemetry changed
    seqs: tuple[tuple[str, int], ...] = ()  # (boot, seq) of each sample, for live counters
    kind: str = "telemetry"
    flags: tuple[Flag, ...] = ()  # samples dropped or values nulled, by reason


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
    limits: LimitsConfig = DEFAULT_LIMITS,
) -> Accepted | Rejected:
    parsed = topics.parse_topic(topic)
    if parsed is None:
        return Rejected("unknown_topic", f"topic {topic[:120]!r} is not part of the v1 contract")
    topic_point, kind = parsed
    point = registry.get(topic_point)
    if point is None:
        return Rejected("unknown_point", f"point {topic_point[:64]!r} is not in the registry")
    if not payload:
        return Rejected("empty", "an empty message (a retained message being cleared)", point.id)
    if retained and kind != topics.STATE:  # only the birth is retained by design
        return Rejected("retained", f"a retained {kind} message is an old one replayed", point.id)
    try:
        message = decode(kind, payload, topic_point, max_bytes)
    except PayloadError as exc:
        return Rejected(exc.reason, printable(exc.detail), topic_point)
    if isinstance(message, Telemetry):
        return _telemetry(message, point, received_ms, limits)
    if isinstance(message, State):
        if retained:  # a retained state replayed on subscribe is old news, not a transition
            return Accepted(point=point.id, lines=[], kind="state")
        late = None if message.ts_ms is None else _time_problem(message.ts_ms, received_ms, limits)
        if late is not None:
            return Rejected(late[0], f"state {late[1]}", point.id)
        bad = _facts_problem(message)
        if bad is not None:
            return Rejected(bad[0], bad[1], point.id)
        return Accepted(
            point=point.id, lines=[lines.state_line(message, point, received_ms)], kind="state"
        )
    assert isinstance(message, Event)
    problem = (
        _time_problem(message.ts_ms, received_ms, limits)
        or _data_problem(message)
        or _capacity_problem(message, limits)
    )
    if problem is not None:
        return Rejected(problem[0], f"{message.kind} event {problem[1]}", point.id)
    unknown = [key for key in message.data if key not in EVENT_DATA]
    flags: tuple[Flag, ...] = ()
    if unknown:  # not stored (contract.EVENT_DATA says why); the rest of the event is
        names = ", ".join(repr(key[:40]) for key in unknown[:5])
        detail = f"{message.kind} event data {names} not in the contract, not stored"
        flags = (Flag(UNKNOWN_DATA, len(unknown), printable(detail)),)
    return Accepted(
        point=point.id, lines=lines.event_lines(message, point), kind="event", flags=flags
    )


def _telemetry(
    message: Telemetry, point: Point, received_ms: int, limits: LimitsConfig
) -> Accepted | Rejected:
    if message.dropped > INT64_MAX:
        return Rejected("invalid", f"dropped {message.dropped} is out of range", point.id)
    if _plausible(message.samples, received_ms, limits):  # the common case: nothing to flag
        return Accepted(
            point=point.id,
            lines=lines.telemetry_lines(message, point),
            hours=_hours(message.samples),
            seqs=_seqs(message.samples),
        )
    counts: Counter[str] = Counter()
    details: dict[str, str] = {}
    kept: list[Sample] = []
    for sample in message.samples:
        late = _time_problem(sample.ts_ms, received_ms, limits)
        if late is not None:
            counts[late[0]] += 1
            details.setdefault(late[0], f"sample seq {sample.seq} {late[1]}")
            continue
        nulled: dict[str, None] = {}
        for name, reason, detail in _absurd_values(sample, limits):
            nulled[name] = None
            counts[reason] += 1
            details.setdefault(reason, f"sample seq {sample.seq} {detail}")
        kept.append(sample.model_copy(update=nulled) if nulled else sample)
    flags = tuple(Flag(reason, n, details[reason]) for reason, n in sorted(counts.items()))
    if not kept:
        first = flags[0]
        return Rejected(
            first.reason, f"all {len(message.samples)} sample(s): {first.detail}", point.id
        )
    if counts:
        message = message.model_copy(update={"samples": kept})
    return Accepted(
        point=point.id,
        lines=lines.telemetry_lines(message, point),
        hours=_hours(kept),
        seqs=_seqs(kept),
        flags=flags,
    )


_values = attrgetter("__dict__")
_ts_ms = attrgetter("ts_ms")
_boot_seq = attrgetter("boot", "seq")
_rates = itemgetter(*RATE_FIELDS)
_clients = itemgetter(*CLIENT_FIELDS)
_counters = itemgetter(*COUNTER_FIELDS)


def _hours(samples: list[Sample]) -> frozenset[int]:
    """The UTC hour starts (ms) the samples fall in; iterated in C (a batch is 100s)."""
    return frozenset(h * HOUR_MS for h in set(map(floordiv, map(_ts_ms, samples), repeat(HOUR_MS))))


def _seqs(samples: list[Sample]) -> tuple[tuple[str, int], ...]:
    return tuple(map(_boot_seq, samples))


def _largest(getter: itemgetter[tuple[object, ...]], values: list[dict[str, object]]) -> float:
    """The largest value of these fields in any sample; filter(None, ...) leaves out nulls
    (and zeros, which no bound refuses)."""
    return max(filter(None, chain.from_iterable(map(getter, values))), default=0)  # type: ignore[type-var,arg-type]


def _plausible(samples: list[Sample], received_ms: int, limits: LimitsConfig) -> bool:
    """No sample has a time or value `_time_problem` or `_absurd_values` would flag: the same
    bounds, checked over all samples at once in C, so that only a message with something to
    flag pays for finding out what."""
    times = list(map(_ts_ms, samples))
    if max(times) - received_ms > limits.max_future_s * 1000:
        return False
    if received_ms - min(times) > limits.max_age_s * 1000:
        return False
    values = list(map(_values, samples))
    return (
        _largest(_rates, values) <= limits.max_link_bps
        and _largest(_clients, values) <= limits.max_clients
        and _largest(_counters, values) <= INT64_MAX
    )


def _absurd_values(sample: Sample, limits: LimitsConfig) -> list[tuple[str, str, str]]:
    """(field, reason, detail) of each value no real point can report."""
    found = []
    for name in RATE_FIELDS:
        value = getattr(sample, name)
        if value is not None and value > limits.max_link_bps:
            found.append(
                (name, "rate_above_link", f"{name} {value:.4g} > {limits.max_link_bps:.4g}")
            )
    for name in CLIENT_FIELDS:
        value = getattr(sample, name)
        if value is not None and value > limits.max_clients:
            found.append((name, "clients_above_ceiling", f"{name} {value} > {limits.max_clients}"))
    for name in COUNTER_FIELDS:  # the wire allows 64-bit unsigned; InfluxDB stores signed
        value = getattr(sample, name)
        if value is not None and value > INT64_MAX:
            found.append((name, "counter_out_of_range", f"{name} {value} > 2^63-1"))
    return found


def _time_problem(ts_ms: int, received_ms: int, limits: LimitsConfig) -> tuple[str, str] | None:
    """A time we cannot place in the record: ahead of our clock, or beyond the spool horizon."""
    ahead_ms = ts_ms - received_ms
    if ahead_ms > limits.max_future_s * 1000:
        return "ts_future", f"is {ahead_ms / 1000:.0f}s ahead of the collector's clock"
    if -ahead_ms > limits.max_age_s * 1000:
        return "ts_too_old", f"is {-ahead_ms / 86_400_000:.1f} days old"
    return None


def _capacity_problem(message: Event, limits: LimitsConfig) -> tuple[str, str] | None:
    if message.kind != "capacity":
        return None
    for key in ("down_mbps", "up_mbps"):
        value = message.data.get(key)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if number and value * 1e6 > limits.max_link_bps:  # type: ignore[operator]
            return "rate_above_link", f"{key} {value:.4g} Mbps > {limits.max_link_bps / 1e6:.4g}"
    return None


def _data_problem(message: Event) -> tuple[str, str] | None:
    """What would make a line InfluxDB cannot parse, and with it the whole batch of lines:
    integers beyond signed 64 bits, field keys that are empty, `time`, or hold a backslash
    (which escapes the delimiter after it). And what it would refuse, or would let grow without
    bound: a value of another type than the contract gives its name (contract.EVENT_DATA: the
    first type written fixes a field's type for every point, for the rest of the shard), and a
    capacity `method` (a tag: a series per value) that no agent runs. Tag values are otherwise
    never the agent's text (collector/lines.py)."""
    for key, value in message.data.items():
        problem = _key_problem(key)
        if problem is not None:
            return "invalid", f"data key {key[:40]!r} {problem}"
        if type(value) is int and not INT64_MIN <= value <= INT64_MAX:
            return "invalid", f"data.{key[:40]} is out of the 64-bit range"
        try:
            event_datum(key, value)
        except ContractError as exc:
            return "invalid", f"data.{key} {exc}"
    method = message.data.get("method")
    if message.kind == "capacity" and method is not None and method not in CAPACITY_METHODS:
        known = ", ".join(sorted(CAPACITY_METHODS))
        return "invalid", f"data.method {str(method)[:40]!r} is not a capacity method ({known})"
    return None


def _facts_problem(message: State) -> tuple[str, str] | None:
    for key in message.facts:
        problem = _key_problem(key)
        if problem is not None:
            return "invalid", f"facts key {key[:40]!r} {problem}"
    return None


def _key_problem(key: str) -> str | None:
    if not key or key == "time":
        return "is not a usable name"
    if "\\" in key:
        return "holds a backslash"
    return None


def printable(text: str, limit: int = 300) -> str:
    """A detail fit for one log line: payload text may carry line breaks to forge log lines."""
    text = text[:limit]
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)
