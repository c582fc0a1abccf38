"""Speed tests read their settings as plain Settings in a running agent and as the config models
in tests and `--check`: the same method, timings, budget, zone, retest and passwords from both
(agent/capacity/settings.py), checked on the example config with both speed-test kinds."""

from __future__ import annotations

import zoneinfo
from pathlib import Path
from typing import Any

import pytest

from pantau.agent.capacity import settings as cap
from pantau.agent.capacity.methods import build_method, priced_seconds
from pantau.agent.capacity.worker import burst_runner, check_peak_room, retest_method
from pantau.agent.config import load_agent_config
from pantau.agent.settings import Settings, load_settings
from pantau.agent.speedtest_cli import pick_point
from pantau.shared.errors import ConfigError

EXAMPLE = Path(__file__).parent.parent.parent / "examples" / "agent-capacity.yaml"
ENV = {"PANTAU_ROUTER_PASSWORD": "router-pw", "PANTAU_BTEST_PASSWORD": "btest-pw"}


def described(point: Any) -> dict[str, Any]:
    """Everything the speed-test code derives from a point's settings."""
    cfg = point.capacity
    method = build_method(point.id, cfg, point.source)
    second = retest_method(point.id, cfg, point.source)
    check_peak_room(point.id, cfg, method)
    burst_runner(point, point.bursts)
    return {
        "method": (method.name, method.server, method.seconds, method.directions),
        "priced_s": priced_seconds(cfg),
        "per_direction_s": cap.seconds_per_direction(cfg.method),
        "committed_mbps": cap.committed_mbps(cfg),
        "zone": cap.schedule_zone(cfg.schedule),
        "second": None if second is None else (second.name, second.server),
        "btest_password": cap.btest_password(cfg.method) if cap.is_routeros(point.source) else "",
        "routeros": cap.is_routeros(point.source),
    }


@pytest.fixture
def both(monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    return load_agent_config(EXAMPLE), load_settings(EXAMPLE)


def test_models_and_settings_test_alike(both: tuple[Any, Any]) -> None:
    model, held = both
    assert isinstance(held, Settings)
    assert [described(p) for p in held.points] == [described(p) for p in model.points]
    linux, router = (described(p) for p in held.points)
    assert linux["method"] == ("iperf3", "speedtest.pantau.example", 24.0, 2)
    assert linux["second"] == ("iperf3", "speedtest2.pantau.example")
    assert linux["zone"] == zoneinfo.ZoneInfo("Asia/Jakarta")
    assert (linux["committed_mbps"], linux["priced_s"], linux["routeros"]) == (50.0, 24.0, False)
    assert router["method"] == ("routeros_btest", "10.0.0.5", 12.0, 2)
    assert (router["btest_password"], router["routeros"], router["second"]) == (
        "btest-pw",
        True,
        None,
    )


def test_the_models_properties_are_the_same_functions(both: tuple[Any, Any]) -> None:
    model, _ = both
    cfg = model.points[1].capacity
    assert cfg.method.seconds_per_direction == cap.seconds_per_direction(cfg.method) == 12
    assert cfg.committed_mbps == cap.committed_mbps(cfg) == 50.0
    assert cfg.schedule.zone == cap.schedule_zone(cfg.schedule)
    assert cfg.method.secret() == cap.btest_password(cfg.method) == "btest-pw"


def test_an_unset_password_variable_is_a_config_error(
    both: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, held = both
    monkeypatch.delenv("PANTAU_BTEST_PASSWORD")
    with pytest.raises(ConfigError, match=r"'PANTAU_BTEST_PASSWORD' \(password_env\) is not set"):
        build_method("citangkil-04", held.points[1].capacity, held.points[1].source)


def test_a_router_method_needs_a_router(both: tuple[Any, Any]) -> None:
    _, held = both
    linux, router = held.points
    with pytest.raises(ConfigError, match=r"citangkil-03: field 'capacity\.method\.kind'"):
        build_method(linux.id, router.capacity, linux.source)
    with pytest.raises(ConfigError, match=r"'bursts\.via' router needs a routeros source"):
        burst_runner(linux, linux.bursts.model_copy(update={"via": "router"}))


def test_the_speedtest_command_picks_from_settings(both: tuple[Any, Any]) -> None:
    _, held = both
    assert pick_point(held, "citangkil-04").id == "citangkil-04"
    with pytest.raises(ConfigError, match=r"several points can be tested \(citangkil-03, "):
        pick_point(held, None)
