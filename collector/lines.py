"""Validated messages + registry facts → InfluxDB line protocol. Pure.

Timestamps are the sample's own (ms), and tags come only from the registry, so a redelivered
sample lands on the same series and instant and overwrites itself: never a duplicate row.
"""

from __future__ import annotations

from typing import Any

from pantau.collector.influxdb.line_protocol import (
    TypedFields,
    field_order,
    fields_text,
    known_fields_text,
    line,
    series_prefix,
)
from pantau.shared.contract import (
    CAPACITY_METHODS,
    OTHER_SUBJECT,
    SAMPLE_FIELDS,
    ContractError,
    event_datum,
    event_subject,
)
from pantau.shared.registry import Point
from pantau.shared.wire import Event, Sample, State, Telemetry

# The storage schema's names (README, "Storage"): measurements, and the tags every row carries.
TELEMETRY = "telemetry"
STATE = "state"
EVENT = "event"
CAPACITY = "capacity"
SLA_HOURLY = "sla_hourly"
SLA_DAILY = "sla_daily"
TAG_KEYS = ("point", "kelurahan", "kecamatan", "provider")
_SAMPLE_FIELDS = tuple(name for name in Sample.model_fields if name != "ts_ms")
_SAMPLE_ORDER = field_order(_SAMPLE_FIELDS)
_SAMPLE_TYPED = TypedFields({name: SAMPLE_FIELDS[name].kind for name in _SAMPLE_FIELDS})


def telemetry_lines(message: Telemetry, point: Point) -> list[str]:
    """One line per sample. The hot path of the collector: the series prefix is cached per
    point, the fields written by a format per set of fields present (`TypedFields`; the
    samples of one message mostly share theirs), or else in an order worked out once."""
    prefix = series_prefix(TELEMETRY, point.tags())
    typed, order = _SAMPLE_TYPED.text, _SAMPLE_ORDER
    lines = []
    given: set[str] | None = None
    present = frozenset[str]()
    for sample in message.samples:
        values = sample.__dict__
        if sample.__pydantic_fields_set__ != given:  # model_fields_set, without its call
            given = sample.__pydantic_fields_set__
            present = frozenset(given)
        fields = typed(values, present)
        if fields is None:
            fields = known_fields_text(values, order)
        lines.append(f"{prefix}{fields} {sample.ts_ms}")
    if message.dropped:  # the first line also says how many samples the spool let go
        first = message.samples[0]
        fields = _sample_fields(first) | {"spool_dropped": message.dropped}
        lines[0] = f"{prefix}{fields_text(fields)} {int(first.ts_ms)}"
    return lines


def state_line(message: State, point: Point, received_ms: int) -> str:
    fields: dict[str, Any] = {"state": message.state, "online": message.state == "online"}
    fields["boot"] = message.boot
    if message.agent_version:
        fields["agent_version"] = message.agent_version
    if message.source:
        fields["source"] = message.source
    for key, value in message.facts.items():
        if value is not None:
            fields[f"fact_{key}"] = str(value)
    return line(STATE, point.tags(), fields, message.ts_ms or received_ms)


def event_lines(message: Event, point: Point) -> list[str]:
    """Every event goes to `event`; a capacity result also becomes a row per direction.

    Only the data the contract names is stored, each name with its one type
    (`stored_data`), so no event can fix a field's type against another point's. Tags are never
    the agent's own text: `subject` is the path when it is one a source reports (else `other`,
    with the path in field `data_path`), a capacity `method` one of CAPACITY_METHODS."""
    subject = event_subject(message.data)
    tags = point.tags() | {"kind": message.kind, "subject": subject}
    fields: dict[str, Any] = {"message": message.message or ""}
    data = stored_data(message.data)
    for key, value in data.items():
        if key != "path" or subject == OTHER_SUBJECT:
            fields[f"data_{key}"] = value
    lines = [line(EVENT, tags, fields, message.ts_ms)]
    if message.kind == "capacity":
        lines += capacity_lines(message, point)
    return lines


def stored_data(data: dict[str, Any]) -> dict[str, Any]:
    """The event data stored: the names of contract.EVENT_DATA, typed as it types them (an int
    where a float belongs written as a float); nulls, other names and values of another type
    left out (ingest refuses an event holding one of those before it gets here)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        try:
            typed = event_datum(key, value)
        except ContractError:
            continue
        if typed is not None:
            out[key] = typed
    return out


def capacity_lines(message: Event, point: Point) -> list[str]:
    """A row per measured direction, with the result's stored data (`stored_data`)."""
    data = stored_data(message.data)
    method = data.get("method")
    method = method if method in CAPACITY_METHODS else "unknown"
    common = {
        key: value for key, value in data.items() if key not in ("method", "down_mbps", "up_mbps")
    }
    lines = []
    for direction in ("down", "up"):
        mbps = data.get(f"{direction}_mbps")
        if mbps is None:
            continue
        tags = point.tags() | {"method": method, "direction": direction}
        lines.append(line(CAPACITY, tags, common | {"mbps": mbps}, message.ts_ms))
    return lines


def _sample_fields(sample: Sample) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in _SAMPLE_FIELDS:
        value = getattr(sample, name)
        if value is not None:
            fields[name] = value
    return fields
