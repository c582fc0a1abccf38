from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from influxdb_client import Point as InfluxPoint
from influxdb_client import WritePrecision
from influxdb_client.client.write.point import _append_fields

from pantau.collector.influxdb.line_protocol import TypedFields, fields_text
from pantau.collector.lines import state_line, telemetry_lines
from pantau.shared.registry import Point
from pantau.shared.wire import State, Telemetry

values = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.none(),
)


@given(st.dictionaries(st.text(min_size=1, max_size=12), values, max_size=12))
def test_fast_fields_equal_influxdb_client_serialisation(fields: dict[str, object]) -> None:
    assert fields_text(fields) == _append_fields(fields, {})


POINT = Point(
    id="jombang-wetan-10", kelurahan="Jombang Wetan", kecamatan="Jombang", provider="Awinet"
)


def test_telemetry_line_matches_influxdb_client_point() -> None:
    message = Telemetry.model_validate(
        {
            "point": "jombang-wetan-10",
            "dropped": 3,
            "samples": [
                {
                    "ts_ms": 1_790_000_000_123,
                    "seq": 41,
                    "boot": "b 1",
                    "interval_s": 10,
                    "device_up": True,
                    "rx_bps": 2.5e6,
                    "clients_dhcp": 4,
                    "wan_up": False,
                }
            ],
        }
    )
    expected = (
        InfluxPoint("telemetry")
        .tag("point", "jombang-wetan-10")
        .tag("kelurahan", "Jombang Wetan")
        .tag("kecamatan", "Jombang")
        .tag("provider", "Awinet")
        .field("seq", 41)
        .field("boot", "b 1")
        .field("interval_s", 10.0)
        .field("device_up", True)
        .field("rx_bps", 2.5e6)
        .field("clients_dhcp", 4)
        .field("wan_up", False)
        .field("spool_dropped", 3)
        .time(1_790_000_000_123, WritePrecision.MS)
        .to_line_protocol()
    )
    assert telemetry_lines(message, POINT) == [expected]


def test_state_without_timestamp_uses_arrival_time() -> None:
    line = state_line(
        State(point="jombang-wetan-10", state="offline", boot="b1"), POINT, 1_790_000_000_000
    )
    assert line == (
        "state,kecamatan=Jombang,kelurahan=Jombang\\ Wetan,point=jombang-wetan-10,provider=Awinet "
        'boot="b1",online=false,state="offline" 1790000000000'
    )


def test_line_protocol_escaping_golden() -> None:
    """Pantau's own escaping, character by character, as InfluxDB's line protocol defines it."""
    from pantau.collector.influxdb.line_protocol import line

    got = line(
        "sla hourly,x",
        {"point": "a=b c,d", "empty": "", "kelurahan": "Jombang\nWetan", "z": "back\\slash"},
        {
            "text": 'say "hi" \\ bye',
            "n": 3,
            "f": 2.0,
            "g": 0.1,
            "ok": False,
            "inf": float("inf"),
            "key with=sign": 1.5,
        },
        1_790_000_000_123,
    )
    assert got == (
        "sla\\ hourly\\,x,kelurahan=Jombang\\nWetan,point=a\\=b\\ c\\,d,z=back\\slash "
        'f=2,g=0.1,key\\ with\\=sign=1.5,n=3i,ok=false,text="say \\"hi\\" \\\\ bye"'
        " 1790000000123"
    )


KINDS = {"a_int": int, "b_float": float, "c_flag": bool, "d_text": str, "e_float": float}
KIND_VALUES = {
    int: st.integers(min_value=-(2**63), max_value=2**63 - 1),
    float: st.one_of(
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from([0.0, -0.0, 20.0, 1e16, 5e-324, 1e-05, 100.0, 0.5]),
    ),
    bool: st.booleans(),
    str: st.one_of(
        st.text(max_size=12), st.sampled_from(["b", "x.0,y", "=True,", "%s", 'q"', "\\"])
    ),
}


@st.composite
def typed_records(draw: st.DrawFn) -> tuple[dict[str, object], frozenset[str]]:
    present = draw(st.sets(st.sampled_from(sorted(KINDS)), min_size=1))
    values: dict[str, object] = {name: None for name in KINDS}
    for name in present:
        values[name] = draw(st.one_of(st.none(), KIND_VALUES[KINDS[name]]))
    return values, frozenset(present | {"ts_ms"})  # a name outside the kinds is left out


@given(typed_records())
def test_typed_fields_write_what_fields_text_writes(record: tuple[dict, frozenset[str]]) -> None:
    values, present = record
    typed = TypedFields(KINDS)
    text = typed.text(values, present)
    given_values = {k: v for k, v in values.items() if k in present}
    text_ok = all(
        not isinstance(v, str) or not any(c in v for c in ',"\\') for v in given_values.values()
    )
    if None in given_values.values() or not text_ok:
        assert text is None
    else:
        assert text == fields_text(given_values)
        assert typed.text(values, present) == text  # the cached format, again


def test_typed_fields_keep_a_bounded_number_of_formats() -> None:
    typed = TypedFields({f"f{i}": int for i in range(12)})
    for mask in range(1, 600):
        present = frozenset(f"f{i}" for i in range(12) if mask >> i & 1)
        values = {f"f{i}": i for i in range(12)}
        assert typed.text(values, present) == fields_text({k: values[k] for k in present})
    assert len(typed._shapes) == TypedFields.MAX_SHAPES
