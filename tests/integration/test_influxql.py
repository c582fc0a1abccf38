"""The one quoting helper against a real influxd: names and values that would break a query
written by hand select exactly the rows they name."""

from __future__ import annotations

from pantau.collector.influxdb import influxql
from pantau.collector.influxdb.line_protocol import line
from pantau.collector.lab.services import Service
from tests.pipeline import influx

AWKWARD = ["Jombang Wetan", "a/b.c(d)", "it's", "x|y", "per$en^t", "back\\slash", "plain-1_2"]


def test_awkward_values_select_exactly_their_rows(influxd: Service, database: str) -> None:
    db = influx(influxd.url, database)
    db.ensure_database()
    db.write([line("odd name", {"kel": v}, {"n": i}, 1_000 + i) for i, v in enumerate(AWKWARD)])
    for value in AWKWARD:
        rows = db.query(
            f"SELECT {influxql.ident('n')} FROM {influxql.ident('odd name')}"
            f" WHERE {influxql.any_of('kel', [value])} AND {influxql.between(0, 10_000)}"
        )
        assert [r["n"] for r in rows] == [AWKWARD.index(value)], value
        rows = db.query(
            f"SELECT {influxql.ident('n')} FROM {influxql.ident('odd name')}"
            f" WHERE {influxql.ident('kel')} = {influxql.string(value)}"
        )
        assert [r["n"] for r in rows] == [AWKWARD.index(value)], value
    both = influxql.any_of("kel", ["x|y", "it's"])
    rows = db.query(f'SELECT "n" FROM "odd name" WHERE {both}')
    assert sorted(r["n"] for r in rows) == [2, 3]
