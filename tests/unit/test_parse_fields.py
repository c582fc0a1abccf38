"""The guard reads every late line's fields back (`parse_fields`): its regex reading gives
exactly what the character-by-character reading gives, for every line we write and for any
text at all (the same fields, or the same error)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pantau.collector.evidence import Neighbour, _parse_fields_slowly, parse, parse_fields
from pantau.collector.influxdb.line_protocol import fields_text

# field keys as the collector lets them through (ingest refuses a backslash in one)
KEYS = st.text(min_size=1, max_size=12).filter(lambda k: not {"\\", "\n", "\r", "\t"} & set(k))
VALUES = st.one_of(
    st.text(max_size=12),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
)


def outcome(read: Any, body: str) -> object:
    try:
        return read(body)
    except Exception as exc:  # the same failure counts as the same outcome
        return type(exc)


@settings(max_examples=800, deadline=None)
@given(st.dictionaries(KEYS, VALUES, min_size=1, max_size=8))
def test_fields_we_write_read_back_alike(fields: dict[str, Any]) -> None:
    body = fields_text(fields)
    assert parse_fields(body) == _parse_fields_slowly(body)


@settings(max_examples=800, deadline=None)
@given(st.text(alphabet='ab=,"\\ 1.i\nt', max_size=30))
def test_any_text_reads_alike(body: str) -> None:
    assert outcome(parse_fields, body) == outcome(_parse_fields_slowly, body)


@pytest.mark.parametrize(
    "body",
    ['a=1,b="x"', 'b="x",a=1i', 'a="x,y=2",b=t', 'a="",b="q"', "a=1,", 'a="x",', "", "a=1,,b=2"],
)
def test_shapes_read_alike(body: str) -> None:
    assert outcome(parse_fields, body) == outcome(_parse_fields_slowly, body)


def test_a_telemetry_line_s_fields() -> None:
    body = 'boot="b\\"1",interval_s=10,link_up=true,rx_bps=1.5e+07,seq=42i,tag\\ x="a,b=c"'
    assert parse_fields(body) == {
        "boot": 'b"1',
        "interval_s": 10.0,
        "link_up": True,
        "rx_bps": 15_000_000.0,
        "seq": 42,
        "tag x": "a,b=c",
    }


@settings(max_examples=400, deadline=None)
@given(
    st.dictionaries(KEYS, VALUES, max_size=6),
    st.integers(min_value=0, max_value=2**40),
    st.floats(min_value=0.5, max_value=3600),
    st.text(max_size=10),
)
def test_a_late_line_s_neighbour_reads_only_what_it_needs_alike(
    extra: dict[str, Any], seq: int, interval_s: float, boot: str
) -> None:
    fields = extra | {"seq": seq, "interval_s": interval_s, "boot": boot}
    text = f"telemetry,point=cbr-01 {fields_text(fields)} 1790000000000"
    parsed = parse(text)
    assert parsed is not None
    assert parsed.neighbour() == Neighbour.of(parsed.ts_ms, parsed.fields)
    assert parsed.neighbour() == Neighbour(1790000000000, float(seq), interval_s, boot)
    assert parsed.measurement == "telemetry"
