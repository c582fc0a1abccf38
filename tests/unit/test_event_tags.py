"""An event's tags are never the agent's own text: `subject` is a path a source reports (or
`other`), a capacity `method` one the agent runs. Each tag value is a series in InfluxDB and an
entry of the collector's evidence guard, so agent-chosen values would grow both without bound."""

from __future__ import annotations

import ast
import json
import typing
from itertools import chain
from pathlib import Path
from typing import Any

import pytest

from pantau.agent.capacity.http import HttpTest
from pantau.agent.capacity.iperf3 import Iperf3Test
from pantau.agent.capacity.routeros import BandwidthTest, SpeedTest
from pantau.agent.sources.linux_config import ClientsConfig
from pantau.agent.sources.routeros.parse import WIRELESS_TABLES
from pantau.agent.sources.routeros.paths import PATHS
from pantau.collector.ingest import Accepted, Rejected, ingest
from pantau.shared.contract import CAPACITY_METHODS, SIMULATED_METHOD, SUBJECTS
from pantau.shared.registry import Point

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_790_000_000_000
POINT = Point(id="cit-01", kelurahan="Citangkil", kecamatan="Citangkil", provider="Awinet")
TAGS = "kecamatan=Citangkil,kelurahan=Citangkil"


def run(kind: str, data: dict[str, Any], message: str | None = None) -> Accepted | Rejected:
    body = {"v": 2, "point": "cit-01", "ts_ms": NOW, "kind": kind, "data": data}
    if message is not None:
        body["message"] = message
    return ingest(
        "pantau/v1/cit-01/event", json.dumps(body).encode(), False, {"cit-01": POINT}, 2**20, NOW
    )


def issue_paths_in_the_agents_code() -> set[str]:
    """The constant paths of every SourceIssue the agent makes."""
    found = set()
    for path in (ROOT / "agent").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "SourceIssue"
                and isinstance(node.args[0], ast.Constant)
            ):
                found.add(node.args[0].value)
    return found


def test_every_path_a_source_reports_is_a_subject() -> None:
    routeros = {spec.path for spec in PATHS} | set(chain(*WIRELESS_TABLES.values()))
    kinds = typing.get_args(ClientsConfig.model_fields["kind"].annotation)
    linux = {f"clients/{kind}" for kind in kinds if kind != "none"}
    constant = issue_paths_in_the_agents_code()
    assert constant == {"login", "connection", "wan", "device"}
    assert routeros | linux | constant == SUBJECTS


def test_every_method_the_agent_runs_is_a_capacity_method() -> None:
    names = {m.name for m in (HttpTest, Iperf3Test, BandwidthTest, SpeedTest)}
    assert names | {SIMULATED_METHOD} == CAPACITY_METHODS  # and the demo's simulated link


def test_a_known_path_is_the_subject() -> None:
    result = run("source_error", {"path": "/interface"}, "ether1 not found")
    assert isinstance(result, Accepted)
    assert result.lines == [
        f"event,{TAGS},kind=source_error,point=cit-01,provider=Awinet,subject=/interface"
        f' message="ether1 not found" {NOW}'
    ]


@pytest.mark.parametrize("path", ["p000001-" + "z" * 180, "/ip/firewall/filter", "a\\b", " "])
def test_any_other_path_is_subject_other_with_the_path_a_field(path: str) -> None:
    result = run("source_error", {"path": path})
    assert isinstance(result, Accepted)
    text = path.replace("\\", "\\\\")
    assert result.lines == [
        f"event,{TAGS},kind=source_error,point=cit-01,provider=Awinet,subject=other"
        f' data_path="{text}",message="" {NOW}'
    ]


def test_no_path_no_subject() -> None:
    result = run("reboot", {"uptime_before_s": 86_400.0, "uptime_after_s": 12.0})
    assert isinstance(result, Accepted)
    assert result.lines == [
        f"event,{TAGS},kind=reboot,point=cit-01,provider=Awinet"
        f' data_uptime_after_s=12,data_uptime_before_s=86400,message="" {NOW}'
    ]


@pytest.mark.parametrize("method", ["http2", "HTTP", "iperf3 ", "x" * 200, "unknown"])
def test_a_capacity_method_no_agent_runs_is_refused(method: str) -> None:
    result = run("capacity", {"down_mbps": 30.0, "method": method})
    known = "http, iperf3, routeros_btest, routeros_speedtest, simulated"
    assert result == Rejected(
        "invalid",
        f"capacity event data.method {method[:40]!r} is not a capacity method ({known})",
        "cit-01",
    )


@pytest.mark.parametrize("method", sorted(CAPACITY_METHODS))
def test_each_capacity_method_is_its_tag(method: str) -> None:
    result = run("capacity", {"down_mbps": 30.0, "method": method})
    assert isinstance(result, Accepted)
    assert result.lines[1] == (
        f"capacity,direction=down,{TAGS},method={method},point=cit-01,provider=Awinet mbps=30 {NOW}"
    )


def test_a_result_without_a_method_is_tagged_unknown() -> None:
    result = run("capacity", {"down_mbps": 30.0})
    assert isinstance(result, Accepted)
    assert result.lines[1] == (
        f"capacity,direction=down,{TAGS},method=unknown,point=cit-01,provider=Awinet mbps=30 {NOW}"
    )
