"""Every InfluxQL query of the Grafana dashboards parses and returns rows on demo data.

Grafana itself is not installed here: the test does what its InfluxDB data source does with a
raw query (substitutes $timeFilter, $__interval and template variables) and runs the result
against a real influxd holding representative data (tests/noc_demo.py).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from pantau.collector.config import CollectorConfig
from pantau.collector.influxdb.client import Influx
from pantau.collector.influxdb.config import InfluxConfig
from pantau.collector.lab.services import Service
from pantau.collector.noc.config import AlertsConfig, MetricsConfig
from pantau.shared.registry import load_registry
from tests.noc_demo import PROVIDER_DOWN, demo_points, registry_path, write_demo

GRAFANA = Path(__file__).resolve().parents[2] / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
DAY_MS = 86_400_000
VARIABLES = {  # as Grafana renders them inside a regex (multi-value: a group)
    "kelurahan": "Cibeber",
    "point": PROVIDER_DOWN,
    "provider": "(Awinet)",
}


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for panel in board["panels"]:
        found.append(panel)
        found += panel.get("panels", [])  # collapsed rows keep their panels inside
    return found


def queries() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, raw query) of every target of every panel."""
    out = []
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        for panel in panels(board):
            for target in panel.get("targets", []):
                out.append((path.name, panel["title"], target["query"]))
    return out


def render(query: str, now_ms: int) -> str:
    """What Grafana's InfluxDB data source sends for a raw query."""
    text = query.replace("$timeFilter", f"time >= {now_ms - DAY_MS}ms and time <= {now_ms}ms")
    text = text.replace("$__interval_ms", "120000").replace("$__interval", "2m")
    text = text.replace("$interval", "2m")
    for name, value in VARIABLES.items():
        text = re.sub(rf"\$\{{{name}\}}|\${name}\b", value, text)
    assert not re.search(r"\$[\w{]", text), f"unsubstituted macro in {text}"
    return text


@pytest.fixture(scope="module")
def demo(influxd: Service) -> tuple[Influx, int]:
    database = "grafana_demo"
    db = Influx(InfluxConfig(api="v1", url=influxd.url, database=database))
    db.query_raw(f'DROP DATABASE "{database}"')
    db.ensure_database()
    registry = load_registry(registry_path())
    config = CollectorConfig(
        registry=registry_path(),
        influx=InfluxConfig(api="v1", url=influxd.url, database=database),
        metrics=MetricsConfig(port=0),
        alerts=AlertsConfig(status_every_s=60),
    )
    now_ms = int(time.time() * 1000)
    write_demo(db, registry, config, now_ms)
    return db, now_ms


def test_dashboards_are_all_there() -> None:
    names = {p.stem for p in DASHBOARDS}
    assert names == {"city-overview", "kelurahan", "point", "providers"}
    uids = set()
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        uids.add(board["uid"])
        ids = [p["id"] for p in panels(board)]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
        for panel in panels(board):
            assert panel["datasource"]["uid"] == "pantau-influxdb", panel["title"]
            for target in panel.get("targets", []):
                assert target["rawQuery"] is True
        for variable in board["templating"]["list"]:
            assert variable["datasource"]["uid"] == "pantau-influxdb"
    assert len(uids) == len(DASHBOARDS)
    source = yaml.safe_load((GRAFANA / "provisioning/datasources/pantau.yaml").read_text())
    (ds,) = source["datasources"]
    assert (ds["uid"], ds["type"]) == ("pantau-influxdb", "influxdb")
    provider = yaml.safe_load((GRAFANA / "provisioning/dashboards/pantau.yaml").read_text())
    assert provider["providers"][0]["type"] == "file"


@pytest.mark.parametrize(
    ("board", "title", "query"), queries(), ids=[f"{b}:{t}" for b, t, _ in queries()]
)
def test_panel_query_returns_rows(
    demo: tuple[Influx, int], board: str, title: str, query: str
) -> None:
    db, now_ms = demo
    rows = db.query(render(query, now_ms))
    assert rows, f"{board} / {title}: no rows for {render(query, now_ms)}"


def test_template_variables_list_the_demo_values(demo: tuple[Influx, int]) -> None:
    db, now_ms = demo
    for path in DASHBOARDS:
        for variable in json.loads(path.read_text())["templating"]["list"]:
            values = {r["value"] for r in db.query(render(variable["query"], now_ms))}
            wanted = VARIABLES[variable["name"]].strip("()")
            assert wanted in values, (path.name, variable["name"], sorted(values)[:5])


def test_city_map_has_every_point_with_its_coordinates(demo: tuple[Influx, int]) -> None:
    db, now_ms = demo
    board = json.loads((GRAFANA / "dashboards" / "city-overview.json").read_text())
    (geomap,) = [p for p in board["panels"] if p["type"] == "geomap"]
    rows = db.query(render(geomap["targets"][0]["query"], now_ms))
    registry = load_registry(registry_path())
    assert len(rows) == len(registry.points) == 430
    coordinates = {p.id: (p.lat, p.lon) for p in registry.points}
    assert {r["point"]: (r["latitude"], r["longitude"]) for r in rows} == coordinates
    states = {r["point"]: r["state"] for r in rows}
    reporting = {p.id for p in demo_points(registry)}
    assert states["cibeber-01"] == 1  # provider down
    assert states["cibeber-02"] == 2  # router unreachable
    assert states["kedaleman-01"] == 3  # agent silent
    assert {states[p] for p in reporting - {"cibeber-01", "cibeber-02", "kedaleman-01"}} == {0}
    assert {states[p] for p in set(states) - reporting} == {4}  # no agent yet: unknown
