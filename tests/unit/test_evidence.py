"""The evidence guard's pure parts: reading our own line protocol back, comparing a line with a
stored row, and grouping read-backs. The guard itself runs against InfluxDB in
tests/integration/test_silent_paths.py."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pantau.collector.evidence import Neighbour, clusters, differences, no_gap, parse
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


def n(ts_s: float, seq: int, interval_s: float = 10, boot: str = "b1") -> Neighbour:
    return Neighbour(int(ts_s * 1000), seq, interval_s, boot)


@pytest.mark.parametrize(
    ("late", "before", "after", "why"),
    [
        # a missing sample, delivered late
        (n(20, 2), n(10, 1), n(30, 3), None),
        (n(20, 2), n(10, 1), None, None),
        (n(20, 2), None, n(30, 3), None),
        # the restart's last sample arriving after the next run's first, 10 ms later
        (n(20, 2), n(10, 1), n(20.01, 3, boot="b2"), None),
        # history of an agent installed afresh (seq from 0) behind its newer samples
        (n(0, 0, 3600, "old"), None, n(86_400, 0, 10, "new"), None),
        # between two stored samples where no seq is missing
        (n(15, 9), n(10, 1), n(20, 2), "seq 9 fits no gap between stored seq 1 and 2"),
        (n(15, 1), n(10, 1), n(20, 2), "seq 1 fits no gap between stored seq 1 and 2"),
        # the same with a run of its own: beside the other run's samples, too close in time
        (n(15, 9, boot="x"), n(10, 1), n(20, 2), "seq 9 fits no gap between stored seq 1 and 2"),
        # far enough from another run's samples: a gap
        (n(20, 9, boot="x"), n(10, 1), n(30, 2), None),
        # in a seq gap, but speaking for an hour over the next stored sample's time
        (
            n(20, 2, 3600),
            n(10, 1),
            n(30, 3),
            "declares an interval of 3600 s where its neighbours have 10 s",
        ),
        (n(20, 2, 3600), n(10, 1), n(20 + 3600, 3), None),
    ],
)
def test_a_late_sample_is_taken_only_where_one_is_missing(
    late: Neighbour, before: Neighbour | None, after: Neighbour | None, why: str | None
) -> None:
    assert no_gap(late, before, after) == why
