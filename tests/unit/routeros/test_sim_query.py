"""The simulator's `?` query stack machine, row by row."""

from __future__ import annotations

import pytest

from pantau.collector.lab.routeros_sim.query import QueryError, compile_query

ROWS = [
    {"name": "ether1", "type": "ether", "mtu": "1500", "running": "true"},
    {"name": "ether2", "type": "ether", "mtu": "9000", "running": "false", "comment": "lan"},
    {"name": "wlan1", "type": "wlan", "mtu": "1500", "running": "true"},
]


@pytest.mark.parametrize(
    ("words", "names"),
    [
        ([], ["ether1", "ether2", "wlan1"]),
        (["?name=ether1"], ["ether1"]),
        (["?=name=ether2"], ["ether2"]),
        (["?type=ether", "?running=true"], ["ether1"]),
        (["?comment"], ["ether2"]),
        (["?-comment"], ["ether1", "wlan1"]),
        (["?>mtu=1500"], ["ether2"]),
        (["?<mtu=9000"], ["ether1", "wlan1"]),
        (["?name=ether1", "?name=wlan1", "?#|"], ["ether1", "wlan1"]),
        (["?type=ether", "?#!"], ["wlan1"]),
        (["?=type=ether", "?=running=true", "?#&"], ["ether1"]),
        (["?=type=ether", "?#!", "?=mtu=9000", "?#|"], ["ether2", "wlan1"]),
        (["?name=ether1", "?#.", "?#&"], ["ether1"]),
        (["?name=ether1", "?name=ether2", "?name=wlan1", "?#||"], ["ether1", "ether2", "wlan1"]),
        (["?name=nothing"], []),
    ],
)
def test_queries(words: list[str], names: list[str]) -> None:
    matches = compile_query(words)
    rows = ROWS if matches is None else [r for r in ROWS if matches(r)]
    assert [r["name"] for r in rows] == names


@pytest.mark.parametrize("words", [["?#x"], ["?#"], ["?="], ["?>mtu"]])
def test_bad_queries(words: list[str]) -> None:
    with pytest.raises(QueryError):
        compile_query(words)


def test_operator_on_short_stack() -> None:
    matches = compile_query(["?name=ether1", "?#|"])
    assert matches is not None
    with pytest.raises(QueryError, match="needs two values"):
        matches(ROWS[0])
