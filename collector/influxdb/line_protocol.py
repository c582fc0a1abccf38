"""InfluxDB line protocol, written by Pantau itself: one function builds every line the
collector, its rollups and the NOC write, and a golden test pins its escaping."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from operator import itemgetter
from typing import Any

# InfluxDB line protocol escaping (docs.influxdata.com, "Line protocol", special characters):
# measurements escape commas and spaces; tag keys, tag values and field keys also escape equals
# signs (a backslash there is taken literally); string field values escape double quotes and
# backslashes. Line breaks cannot appear in a name, so they are written as backslash-n.
_BREAKS = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_ESCAPE_MEASUREMENT = str.maketrans({",": "\\,", " ": "\\ "} | _BREAKS)
_ESCAPE_KEY = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ "} | _BREAKS)
_ESCAPE_STRING = str.maketrans({'"': '\\"', "\\": "\\\\"})
_isfinite = math.isfinite


def line(measurement: str, tags: dict[str, str], fields: dict[str, Any], ts_ms: int) -> str:
    """One line: tags sorted, empty tag values left out, fields as `fields_text` writes them."""
    prefix = _series_prefix(measurement, tuple(sorted((k, v) for k, v in tags.items() if v)))
    return f"{prefix}{fields_text(fields)} {int(ts_ms)}"


def fields_text(fields: dict[str, Any]) -> str:
    """Fields sorted by key: floats as Python writes them (no trailing .0, non-finite left out),
    integers with `i`, booleans as true/false, strings quoted; anything else as its text."""
    parts = []
    for key in sorted(fields):
        text = value_text(fields[key])
        if text is not None:
            parts.append(f"{_key(key)}={text}")
    return ",".join(parts)


def value_text(value: Any) -> str | None:
    """One field value as `fields_text` writes it; None for a value left out (null, NaN, inf)."""
    kind = type(value)
    if kind is float or isinstance(value, float):
        if not math.isfinite(value):
            return None
        text = str(float(value))
        return text[:-2] if text.endswith(".0") else text
    if kind is bool:
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{int(value)}i"
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return f'"{text.translate(_ESCAPE_STRING)}"'


FieldOrder = tuple[tuple[str, str], ...]


def field_order(names: Iterable[str]) -> FieldOrder:
    """(name, escaped key and `=`) sorted by name: the layout of a record type's fields, worked
    out once so `known_fields_text` need not sort or escape per line."""
    return tuple((name, f"{_key(name)}=") for name in sorted(names))


def known_fields_text(values: dict[str, Any], order: FieldOrder) -> str:
    """`fields_text` of the `order` entries of `values` (a record's own dict, every name in it):
    the same text, at about half the cost, for the hot path of telemetry."""
    parts: list[str] = []
    append = parts.append
    for name, key in order:
        value = values[name]
        if value is None:
            continue
        kind = type(value)
        if kind is float:
            if not _isfinite(value):  # NaN or an infinity: left out, as fields_text does
                continue
            text = repr(value)
            append(key + (text[:-2] if text[-2:] == ".0" else text))
        elif kind is int:
            append(f"{key}{value}i")
        elif kind is bool:
            append(key + ("true" if value else "false"))
        else:
            text = value_text(value)
            if text is not None:
                append(key + text)
    return ",".join(parts)


class TypedFields:
    """`fields_text` of records whose every field has one type (a wire sample: ints, floats,
    booleans, short texts; `kinds` by name), a third of the cost on the hot path: one
    %-format per set of fields present, worked out once, then three text replacements
    (`20.0` → `20`, `True` → `true`) where `fields_text` decides per value.

    `text` returns None for a record the format cannot take (a null among the fields present,
    a text holding a comma, a quote or a backslash): `known_fields_text` writes those. Floats
    must be finite, as the wire's bounds make them. At most `MAX_SHAPES` formats are kept.
    """

    MAX_SHAPES = 256

    _KIND_FORMAT: Mapping[type, str] = {int: "%di", float: "%r", bool: "%r", str: '"%s"'}

    def __init__(self, kinds: Mapping[str, type]) -> None:
        self.kinds = dict(kinds)
        self.texts = tuple(name for name, kind in self.kinds.items() if kind is str)
        self._shapes: dict[frozenset[str], tuple[Callable[[Any], tuple[Any, ...]], str]] = {}

    def text(self, values: Mapping[str, Any], present: frozenset[str]) -> str | None:
        """`present`: the names given (the record's fields set); names outside `kinds` (its
        timestamp) are left out."""
        shape = self._shapes.get(present)
        if shape is None:
            shape = self._shape(present)
        getter, template = shape
        row = getter(values)
        if None in row:
            return None
        for name in self.texts:
            text = values.get(name)
            if text is not None and ("," in text or '"' in text or "\\" in text):
                return None
        out = template % row
        return (
            out.replace(".0,", ",").replace("=True,", "=true,").replace("=False,", "=false,")[:-1]
        )

    def _shape(self, present: frozenset[str]) -> tuple[Callable[[Any], tuple[Any, ...]], str]:
        names = sorted(n for n in present if n in self.kinds)
        template = "".join(
            f"{_key(n).replace('%', '%%')}={self._KIND_FORMAT[self.kinds[n]]}," for n in names
        )
        getter: Callable[[Any], tuple[Any, ...]]
        if len(names) > 1:
            getter = itemgetter(*names)
        else:
            getter = lambda values: tuple(values[n] for n in names)  # noqa: E731
        if len(self._shapes) < self.MAX_SHAPES:  # a sender varying its fields gets no more
            self._shapes[present] = (getter, template)
        return getter, template


def series_prefix(measurement: str, tags: dict[str, str]) -> str:
    """The series part of a line and the space after it (cached: one per point and kind, by
    the tags in the order given, so that a message of a point already seen costs no sort)."""
    return _prefix_of(measurement, tuple(tags.items()))


@lru_cache(maxsize=65_536)
def _prefix_of(measurement: str, tags: tuple[tuple[str, str], ...]) -> str:
    return _series_prefix(measurement, tuple(sorted((k, v) for k, v in tags if v)))


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
