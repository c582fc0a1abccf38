"""From a source reading to a wire sample: one row per case, the whole sample written out."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import pytest

from pantau.agent.rates import Rates
from pantau.agent.sample import ENVELOPE, PARTS, Rejected, build_sample
from pantau.agent.sources.base import Counters, Reachability, Reading
from pantau.shared.contract import ContractError
from pantau.shared.wire import Sample

TS_MS = 1_790_000_000_000
HEAD = {"ts_ms": TS_MS, "seq": 0, "boot": "b1", "interval_s": 10.0}
COUNTERS = Counters(5_000_000_000, 900_000_000, 3_600_000, 1_500_000, 0, 3)
FULL = Reading(
    device_up=True,
    at_s=123.0,
    uptime_s=86_400.5,
    counters=COUNTERS,
    link_up=True,
    link_downs=2,
    reachability=Reachability(False, None, 100.0, None),  # the sampler's choice wins
    clients_assoc=18,
    clients_hotspot=25,
    clients_dhcp=30,
    cpu_pct=7.0,
    mem_used_pct=44.5,
    temp_c=39.0,
    clock_synced=True,
    facts={"model": "hAP ac lite"},
)
REACH = Reachability(wan_up=True, rtt_ms=12.0, loss_pct=0.0, jitter_ms=1.5)
NO_WAN = {"wan_up": None, "rtt_ms": None, "loss_pct": None, "jitter_ms": None}
FULL_FIELDS = {
    "device_up": True,
    "uptime_s": 86_400.5,
    "rx_bytes": 5_000_000_000,
    "tx_bytes": 900_000_000,
    "rx_packets": 3_600_000,
    "tx_packets": 1_500_000,
    "rx_errors": 0,
    "tx_errors": 3,
    "rx_bps": 20e6,
    "tx_bps": 4e6,
    "link_up": True,
    "link_downs": 2,
    "wan_up": True,
    "rtt_ms": 12.0,
    "loss_pct": 0.0,
    "jitter_ms": 1.5,
    "clients_assoc": 18,
    "clients_hotspot": 25,
    "clients_dhcp": 30,
    "cpu_pct": 7.0,
    "mem_used_pct": 44.5,
    "temp_c": 39.0,
    "clock_synced": True,
}
UNKNOWN = {name: None for name in FULL_FIELDS} | {"device_up": False}

ROWS: list[tuple[str, Reading, Reachability | None, Rates, dict[str, Any], list[Rejected]]] = [
    ("every field read", FULL, REACH, Rates(20e6, 4e6), FULL_FIELDS, []),
    ("device away: all null", Reading(device_up=False), None, Rates(), UNKNOWN, []),
    (
        "no reachability: the WAN fields stay null",
        FULL,
        None,
        Rates(20e6, 4e6),
        FULL_FIELDS | NO_WAN,
        [],
    ),
    (
        "first reading: no rates",
        FULL,
        REACH,
        Rates(),
        FULL_FIELDS | {"rx_bps": None, "tx_bps": None},
        [],
    ),
    (
        "out of the contract: null and listed",
        Reading(
            device_up=True,
            counters=Counters(rx_bytes=2**64, tx_bytes=-1),
            cpu_pct=250.0,
            clients_hotspot=25,
        ),
        Reachability(wan_up=True, rtt_ms=12.0, loss_pct=0.0),
        Rates(rx_bps=2e11),
        UNKNOWN
        | {"device_up": True, "clients_hotspot": 25, "wan_up": True, "rtt_ms": 12.0}
        | {"loss_pct": 0.0},
        [
            Rejected("rx_bytes", 2**64, "Input should be less than 18446744073709551616"),
            Rejected("tx_bytes", -1, "Input should be greater than or equal to 0"),
            Rejected("rx_bps", 2e11, "Input should be less than or equal to 100000000000"),
            Rejected("cpu_pct", 250.0, "Input should be less than or equal to 100"),
        ],
    ),
]


@pytest.mark.parametrize(
    ("reading", "reach", "rates", "expected", "rejected"),
    [row[1:] for row in ROWS],
    ids=[row[0] for row in ROWS],
)
def test_build_sample(
    reading: Reading,
    reach: Reachability | None,
    rates: Rates,
    expected: dict[str, Any],
    rejected: list[Rejected],
) -> None:
    built = build_sample(reading, reach, rates, ts_ms=TS_MS, boot="b1", interval_s=10.0)
    assert built.sample == HEAD | expected
    assert Sample(**built.sample).model_dump() == built.sample  # what the collector accepts
    assert list(built.rejected) == rejected


def test_an_invalid_envelope_is_no_sample() -> None:
    with pytest.raises(ContractError, match="ts_ms"):
        build_sample(FULL, REACH, Rates(), ts_ms=0, boot="b1", interval_s=10.0)


def test_every_wire_field_comes_from_exactly_one_part() -> None:
    """A field added to the contract must be added to one part of a reading (and only one),
    or it would travel as null for ever without anyone noticing."""
    owners: dict[str, list[str]] = {name: [] for name in Sample.model_fields}
    for part in PARTS:
        for f in fields(part):
            if f.name in owners:
                owners[f.name].append(part.__name__)
    for name in ENVELOPE:
        assert owners.pop(name) == [], name
    assert {name: len(parts) for name, parts in owners.items()} == {n: 1 for n in owners}
