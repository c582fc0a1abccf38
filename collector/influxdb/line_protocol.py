"""InfluxDB line protocol, written by Pantau itself: one function builds every line the
collector, its rollups and the NOC write, and a golden test pins its escaping."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

# InfluxDB line protocol escaping (docs.influxdata.com, "Line protocol", special characters):
# measurements escape commas and spaces; tag keys, tag values and field keys also escape equals
# signs (a backslash there is taken literally); string field values escape double quotes and
# backslashes. Line breaks cannot appear in a name, so they are written as backslash-n.
_BREAKS = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_ESCAPE_MEASUREMENT = str.maketrans({",": "\\,", " ": "\\ "} | _BREAKS)
_ESCAPE_KEY = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ "} | _BREAKS)
_ESCAPE_STRING = str.maketrans({'"': '\\"', "\\": "\\\\"})


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


def series_key(measurement: str, tags: dict[str, str]) -> str:
    """The series part of a line (measurement and tags, escaped), without the space after it."""
    return _series_prefix(measurement, tuple(sorted((k, v) for k, v in tags.items() if v)))[:-1]


@lru_cache(maxsize=4096)
def _key(name: str) -> str:
    return name.translate(_ESCAPE_KEY)


@lru_cache(maxsize=65_536)
def _series_prefix(measurement: str, tags: tuple[tuple[str, str], ...]) -> str:
    escaped = "".join(f",{_key(k)}={str(v).translate(_ESCAPE_KEY)}" for k, v in tags)
    return measurement.translate(_ESCAPE_MEASUREMENT) + escaped + " "
