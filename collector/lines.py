"""Validated messages + registry facts → InfluxDB line protocol. Pure.

Timestamps are the sample's own (ms), and tags come only from the registry, so a redelivered
sample lands on the same series and instant and overwrites itself: never a duplicate row.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

from pantau.shared.registry import Point
from pantau.shared.wire import Event, Sample, State, Telemetry

# InfluxDB line protocol escaping (docs.influxdata.com, "Line protocol", special characters):
# measurements escape commas and spaces; tag keys, tag values and field keys also escape equals
# signs (a backslash there is taken literally); string field values escape double quotes and
# backslashes. Line breaks cannot appear in a name, so they are written as backslash-n.
_BREAKS = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_ESCAPE_MEASUREMENT = str.maketrans({",": "\\,", " ": "\\ "} | _BREAKS)
_ESCAPE_KEY = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ "} | _BREAKS)
_ESCAPE_STRING = str.maketrans({'"': '\\"', "\\": "\\\\"})


TELEMETRY = "telemetry"
STATE = "state"
EVENT = "event"
CAPACITY = "capacity"
_SAMPLE_FIELDS = tuple(name for name in Sample.model_fields if name != "ts_ms")


def telemetry_lines(message: Telemetry, point: Point) -> list[str]:
    tags = point.tags()
    lines = []
    for index, sample in enumerate(message.samples):
        fields = _sample_fields(sample)
        if index == 0 and message.dropped:
            fields["spool_dropped"] = message.dropped
        lines.append(line(TELEMETRY, tags, fields, sample.ts_ms))
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
    """Every event goes to `event`; a capacity result also becomes a row per direction."""
    tags = point.tags() | {"kind": message.kind, "subject": str(message.data.get("path", ""))}
    fields: dict[str, Any] = {"message": message.message or ""}
    for key, value in message.data.items():
        if value is not None and key != "path":
            fields[f"data_{key}"] = value
    lines = [line(EVENT, tags, fields, message.ts_ms)]
    if message.kind == "capacity":
        lines += capacity_lines(message, point)
    return lines


def capacity_lines(message: Event, point: Point) -> list[str]:
    data = message.data
    method = str(data.get("method") or "unknown")
    common = {
        key: value
        for key, value in data.items()
        if value is not None and key not in ("method", "down_mbps", "up_mbps")
    }
    lines = []
    for direction in ("down", "up"):
        mbps = data.get(f"{direction}_mbps")
        if mbps is None or isinstance(mbps, bool) or not isinstance(mbps, int | float):
            continue
        tags = point.tags() | {"method": method, "direction": direction}
        lines.append(line(CAPACITY, tags, common | {"mbps": float(mbps)}, message.ts_ms))
    return lines


def _sample_fields(sample: Sample) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in _SAMPLE_FIELDS:
        value = getattr(sample, name)
        if value is not None:
            fields[name] = value
    return fields


def line(measurement: str, tags: dict[str, str], fields: dict[str, Any], ts_ms: int) -> str:
    """One line: tags sorted, empty tag values left out, fields as `fields_text` writes them."""
    prefix = _series_prefix(measurement, tuple(sorted((k, v) for k, v in tags.items() if v)))
    return f"{prefix}{fields_text(fields)} {int(ts_ms)}"


def fields_text(fields: dict[str, Any]) -> str:
    """Fields sorted by key: floats as Python writes them (no trailing .0, non-finite left out),
    integers with `i`, booleans as true/false, strings quoted; anything else as its text."""
    parts = []
    for key in sorted(fields):
        value = fields[key]
        kind = type(value)
        if kind is float or (isinstance(value, float)):
            if not math.isfinite(value):
                continue
            text = str(float(value))
            parts.append(f"{_key(key)}={text[:-2] if text.endswith('.0') else text}")
        elif kind is bool:
            parts.append(f"{_key(key)}={'true' if value else 'false'}")
        elif isinstance(value, int):
            parts.append(f"{_key(key)}={int(value)}i")
        elif value is not None:
            text = value if isinstance(value, str) else str(value)
            parts.append(f'{_key(key)}="{text.translate(_ESCAPE_STRING)}"')
    return ",".join(parts)


@lru_cache(maxsize=4096)
def _key(name: str) -> str:
    return name.translate(_ESCAPE_KEY)


@lru_cache(maxsize=65_536)
def _series_prefix(measurement: str, tags: tuple[tuple[str, str], ...]) -> str:
    escaped = "".join(f",{_key(k)}={str(v).translate(_ESCAPE_KEY)}" for k, v in tags)
    return measurement.translate(_ESCAPE_MEASUREMENT) + escaped + " "
