"""The evidence guard's pure parts: reading our own line protocol back, comparing a line with a
stored row, and grouping read-backs. The guard itself runs against InfluxDB in
tests/integration/test_silent_paths.py."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pantau.collector.evidence import clusters, differences, parse
from pantau.collector.influxdb.line_protocol import line, series_key

TAGS = {"point": "cit-01", "kelurahan": "Citangkil", "kecamatan": "Citangkil", "provider": "A"}

names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12
).filter(lambda s: s != "time" and "\\" not in s)
values = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30),
)


@settings(max_examples=300)
@given(st.dictionaries(names, values, min_size=1, max_size=8))
def test_a_line_reads_back_as_it_was_written(fields: dict[str, object]) -> None:
    text = line("telemetry", TAGS | {"empty": ""}, fields, 1_700_000_000_000)
    parsed = parse(text)
    assert parsed is not None
    assert parsed.series == series_key("telemetry", TAGS) == text.split(" ")[0]
    assert (parsed.measurement, parsed.tags, parsed.point) == ("telemetry", TAGS, "cit-01")
    assert parsed.ts_ms == 1_700_000_000_000
    assert differences(fields, parsed.fields) == ()
    assert set(parsed.fields) == set(fields)


def test_only_agent_evidence_is_screened() -> None:
    assert parse(line("sla_hourly", TAGS, {"marked_ms": 1}, 0)) is None
    assert parse(line("integrity", TAGS, {"ts_ms": 1}, 0)) is None
    assert parse(line("capacity", TAGS | {"method": "http"}, {"mbps": 48.5}, 5)) is not None


def test_what_counts_as_a_change() -> None:
    stored = {"rx_bps": 0, "wan_up": False, "seq": 7, "boot": "b1"}  # InfluxDB answers 0.0 as 0
    assert differences(stored, {"rx_bps": 0.0, "wan_up": False, "seq": 7}) == ()
    assert differences(stored, {"rx_bps": 48e6, "wan_up": True, "seq": 7}) == ("rx_bps", "wan_up")
    assert differences(stored, {"rx_bps": 0.0, "tx_bps": 5.0}) == ("tx_bps",)  # a new value
    assert differences(stored, {"boot": "b2"}) == ("boot",)
    assert differences({"online": True}, {"online": 1}) == ("online",)  # not the same type


def test_read_backs_are_grouped_in_ranges() -> None:
    hour = 3_600_000
    assert clusters([1, 5, 10]) == [(1, 10)]
    assert clusters([0, hour, 3 * hour, 3 * hour + 10]) == [(0, hour), (3 * hour, 3 * hour + 10)]
