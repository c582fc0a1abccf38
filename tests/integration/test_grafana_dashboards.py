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
DATASOURCE_REF = {"type": "influxdb", "uid": "${datasource}"}  # the dashboards' variable
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


# What Grafana does with a dashboard on import (pkg/services/dashboardimport: every `${NAME}` of
# an input replaced by the value chosen for it, an input without a value refused, `__inputs`
# dropped) and the rules its import form and dashboard API apply (a title; a uid of at most 40
# letters, digits, '-' or '_'; no numeric id), plus this project's: data sources only through
# the `datasource` variable, so the same file works provisioned and imported.
UID_RULE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
INPUT_USE = re.compile(r"\$\{(DS_[A-Z0-9_]+)\}")
BUILTIN_UIDS = {"-- Grafana --", "grafana"}  # Grafana's own annotations source
SCHEMA_VERSIONS = range(36, 42)  # Grafana 10.0 (36-38) to 11.x (39-41)


def datasource_refs(node: Any) -> list[dict[str, Any]]:
    """Every `datasource` object anywhere in a dashboard (panels, targets, variables, notes)."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource" and isinstance(value, dict):
                found.append(value)
            else:
                found += datasource_refs(value)
    elif isinstance(node, list):
        for value in node:
            found += datasource_refs(value)
    return found


def evaluate_import(board: dict[str, Any], chosen: dict[str, str]) -> dict[str, Any]:
    """The dashboard Grafana stores after an import with `chosen` input values."""
    values = {f"${{{i['name']}}}": chosen[i["name"]] for i in board.get("__inputs", [])}

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items() if k != "__inputs"}
        if isinstance(node, list):
            return [walk(v) for v in node]
        if isinstance(node, str):
            return re.sub(r"\$\{.+?\}", lambda m: values.get(m.group(0), m.group(0)), node)
        return node

    return walk(board)


def provisioned_datasource(board: dict[str, Any], sources: list[dict[str, Any]]) -> str:
    """The uid the `datasource` variable settles on when the file is provisioned as it is: the
    current value if a source has that uid, else a source named as the current text, else the
    first source of the variable's plugin (Grafana's MultiValueVariable validation)."""
    (variable,) = [v for v in board["templating"]["list"] if v["type"] == "datasource"]
    options = [s for s in sources if s["type"] == variable["query"]]
    current = variable["current"]
    for source in options:
        if source["uid"] == current["value"]:
            return str(source["uid"])
    for source in options:
        if source["name"] == current["text"]:
            return str(source["uid"])
    return str(options[0]["uid"])


def import_problems(board: dict[str, Any]) -> list[str]:
    """Each way `board` breaks an import through Grafana's UI or a provisioned load."""
    problems: list[str] = []
    if not board.get("title"):
        problems.append("no title")
    if not UID_RULE.match(str(board.get("uid", ""))):
        problems.append(f"uid {board.get('uid')!r} is not 1-40 letters, digits, - or _")
    if board.get("id") is not None:
        problems.append("a numeric id (an import must not carry one)")
    version = board.get("schemaVersion")
    if not isinstance(version, int) or version not in SCHEMA_VERSIONS:
        problems.append(
            f"schemaVersion {version} outside {SCHEMA_VERSIONS.start}-{SCHEMA_VERSIONS.stop - 1}"
        )
    inputs = board.get("__inputs", [])
    declared = {i["name"] for i in inputs}
    if len(declared) != len(inputs):
        problems.append("an input declared twice")
    for item in inputs:
        if item.get("type") != "datasource" or not item.get("pluginId"):
            problems.append(f"input {item.get('name')} is not a data source with a pluginId")
    body = json.dumps({k: v for k, v in board.items() if k != "__inputs"})
    used = set(INPUT_USE.findall(body))
    problems += [f"${{{n}}} is used but not declared in __inputs" for n in sorted(used - declared)]
    problems += [f"input {n} is declared but never used" for n in sorted(declared - used)]
    variables = {v["name"]: v for v in board.get("templating", {}).get("list", [])}
    allowed = {f"${{{n}}}" for n in declared}
    allowed |= {f"${{{n}}}" for n, v in variables.items() if v["type"] == "datasource"}
    for ref in datasource_refs(board):
        uid = ref.get("uid")
        if uid not in allowed and uid not in BUILTIN_UIDS:
            problems.append(f"hard-coded data source uid {uid!r}")
    requires = {(r["type"], r["id"]) for r in board.get("__requires", [])}
    if ("grafana", "grafana") not in requires:
        problems.append("__requires does not name the Grafana version")
    for item in inputs:
        if ("datasource", item.get("pluginId")) not in requires:
            problems.append(f"data source {item.get('pluginId')!r} missing from __requires")
    for kind in sorted({p["type"] for p in panels(board)} - {"row"}):
        if ("panel", kind) not in requires:
            problems.append(f"panel type {kind!r} missing from __requires")
    return problems


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
            assert panel["datasource"] == DATASOURCE_REF, panel["title"]
            for target in panel.get("targets", []):
                assert target["rawQuery"] is True
                assert target["datasource"] == DATASOURCE_REF, panel["title"]
        for variable in board["templating"]["list"]:
            if variable["type"] == "query":
                assert variable["datasource"] == DATASOURCE_REF, variable["name"]
    assert len(uids) == len(DASHBOARDS)
    source = yaml.safe_load((GRAFANA / "provisioning/datasources/pantau.yaml").read_text())
    (ds,) = source["datasources"]
    assert (ds["uid"], ds["type"], ds["name"]) == ("pantau-influxdb", "influxdb", "Pantau InfluxDB")
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
            if variable["type"] == "datasource":
                continue  # lists data sources, not data: checked by the import tests
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


@pytest.mark.parametrize("path", DASHBOARDS, ids=[p.name for p in DASHBOARDS])
def test_dashboard_passes_grafanas_import_rules(path: Path) -> None:
    board = json.loads(path.read_text())
    assert import_problems(board) == [], path.name


def test_dashboards_have_unique_uids_and_titles() -> None:
    boards = [json.loads(p.read_text()) for p in DASHBOARDS]
    uids = [b["uid"] for b in boards]
    titles = [b["title"] for b in boards]
    assert len(set(uids)) == len(uids) == 4
    assert len(set(titles)) == len(titles) == 4


@pytest.mark.parametrize("path", DASHBOARDS, ids=[p.name for p in DASHBOARDS])
def test_imported_dashboard_uses_the_chosen_data_source(path: Path) -> None:
    """What the import form does: every ${DS_X} becomes the uid picked for that input."""
    board = json.loads(path.read_text())
    imported = evaluate_import(board, {"DS_PANTAU_INFLUXDB": "chosen-uid"})
    assert "__inputs" not in imported
    assert "${DS_" not in json.dumps(imported)
    (variable,) = [v for v in imported["templating"]["list"] if v["type"] == "datasource"]
    assert variable["current"]["value"] == "chosen-uid"
    assert {r["uid"] for r in datasource_refs(imported)} <= {"${datasource}", "-- Grafana --"}


def test_import_without_the_data_source_input_is_refused() -> None:
    board = json.loads(DASHBOARDS[0].read_text())
    with pytest.raises(KeyError, match="DS_PANTAU_INFLUXDB"):
        evaluate_import(board, {})


@pytest.mark.parametrize("path", DASHBOARDS, ids=[p.name for p in DASHBOARDS])
def test_provisioned_dashboard_selects_the_provisioned_data_source(path: Path) -> None:
    """Provisioning leaves ${DS_X} as it is: the variable's value matches no data source, and
    Grafana then matches the current text against the data sources' names."""
    board = json.loads(path.read_text())
    source = yaml.safe_load((GRAFANA / "provisioning/datasources/pantau.yaml").read_text())
    (ds,) = source["datasources"]
    assert provisioned_datasource(board, [ds]) == ds["uid"]
    other = {"name": "Other InfluxDB", "uid": "other", "type": "influxdb"}
    assert provisioned_datasource(board, [other, ds]) == ds["uid"]


def test_import_rules_catch_what_grafana_refuses() -> None:
    """The checker itself: each rule broken once, each reported."""
    board = json.loads((GRAFANA / "dashboards" / "point.json").read_text())
    broken = json.loads(json.dumps(board))
    broken["panels"][0]["datasource"] = {"type": "influxdb", "uid": "pantau-influxdb"}
    broken["panels"][1]["targets"][0]["datasource"] = {"type": "influxdb", "uid": "${DS_OTHER}"}
    broken["__inputs"].append(dict(broken["__inputs"][0], name="DS_UNUSED"))
    broken["uid"] = "has spaces"
    del broken["title"]
    broken["schemaVersion"] = 16
    broken["__requires"] = [r for r in broken["__requires"] if r["id"] != "table"]
    problems = "\n".join(import_problems(broken))
    for expected in (
        "hard-coded data source uid 'pantau-influxdb'",
        "${DS_OTHER} is used but not declared in __inputs",
        "input DS_UNUSED is declared but never used",
        "uid 'has spaces'",
        "no title",
        "schemaVersion 16",
        "panel type 'table' missing from __requires",
    ):
        assert expected in problems, (expected, problems)


def test_panels_that_need_pantau_alerts_say_so() -> None:
    """point_status and alert are written by `pantau alerts`, not the collector: without it
    those panels show "No data", so their descriptions name the process."""
    for path in DASHBOARDS:
        for panel in panels(json.loads(path.read_text())):
            text = " ".join(t["query"] for t in panel.get("targets", []))
            if '"point_status"' in text or '"alert"' in text:
                assert "`pantau alerts`" in panel.get("description", ""), (
                    path.name,
                    panel["title"],
                )
