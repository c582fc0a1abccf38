"""The config as a running agent holds it: validated by the models in a child process, held as
plain Settings with the same fields and values, and the same one-line errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr

from pantau.agent.config import AgentConfig, load_agent_config
from pantau.agent.settings import Settings, from_plain, load_settings, point_mqtt, to_plain
from pantau.shared.config import load_config
from pantau.shared.errors import ConfigError
from pantau.shared.secretfiles import Secret

ROOT = Path(__file__).parent.parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("agent*.yaml"))
GOOD = """
interval_s: 10
state_dir: /tmp/x
mqtt:
  password_file: /etc/pantau/{point}.pw
  tls: {ca_file: /etc/ca.pem, cert_file: "/etc/{point}.crt"}
clock: {start: "2026-10-01T00:00:00+07:00", speed: 60}
points:
  - id: citangkil-03
    source: {kind: linux, wan_interface: eth0}
  - id: citangkil-04
    source:
      kind: simulated
      wan_down: [{start: "2026-10-01T01:00:00+07:00", end: "2026-10-01T02:00:00+07:00"}]
"""


def same(model: Any, held: Any, where: str = "config") -> None:
    """Every field of the model, at every depth, has the same value in the Settings."""
    if isinstance(model, BaseModel):
        assert isinstance(held, Settings), where
        assert [name for name, _ in held] == list(type(model).model_fields), where
        for name in type(model).model_fields:
            same(getattr(model, name), getattr(held, name), f"{where}.{name}")
    elif isinstance(model, list):
        assert isinstance(held, tuple) and len(held) == len(model), where
        for index, (a, b) in enumerate(zip(model, held, strict=True)):
            same(a, b, f"{where}.{index}")
    elif isinstance(model, SecretStr):
        assert isinstance(held, Secret), where
        assert held.get_secret_value() == model.get_secret_value(), where
    else:
        assert type(held) is type(model) and held == model, where


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_the_examples_are_held_as_validated(path: Path) -> None:
    same(load_agent_config(path), load_settings(path))


def test_every_kind_of_value_comes_back_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text(GOOD)
    model = load_agent_config(path)
    held = load_settings(path)
    same(model, held)
    assert held.clock.start == dt.datetime(2026, 10, 1, tzinfo=dt.timezone(dt.timedelta(hours=7)))
    assert held.state_dir == Path("/tmp/x")
    assert from_plain(to_plain({"a": [1, None]})) == {"a": (1, None)}


def test_the_environment_reaches_the_check_and_secrets_stay_hidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text(GOOD)
    monkeypatch.setenv("PANTAU_MQTT__PASSWORD", "s3cret")
    monkeypatch.setenv("PANTAU_MQTT__PORT", "8883")
    held = load_settings(path)
    assert held.mqtt.port == 8883
    assert held.mqtt.password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(held) and "s3cret" not in str(held.mqtt.password)


@pytest.mark.parametrize(
    "change",
    [
        ("interval_s: 10", "interval_s: -1"),
        ("interval_s: 10", "intervl_s: 10"),
        ("citangkil-03", "Citangkil 03"),
        ("kind: linux", "kind: cisco"),
        ("speed: 60", "speed: 0"),
        ("points:", "points: ["),
    ],
    ids=str,
)
def test_errors_are_the_models_one_line(tmp_path: Path, change: tuple[str, str]) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text(GOOD.replace(*change))
    with pytest.raises(ConfigError) as expected:
        load_config(path, AgentConfig, env={})
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert str(caught.value) == str(expected.value)


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: file not found$"):
        load_settings(tmp_path / "nope.yaml")


def test_each_point_gets_its_own_files(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("ca")
    (tmp_path / "p-1.crt").write_text("crt")
    path = tmp_path / "agent.yaml"
    path.write_text(
        GOOD.replace("/etc/ca.pem", str(tmp_path / "ca.pem")).replace("/etc/", f"{tmp_path}/")
    )
    model = load_agent_config(path)
    held = load_settings(path)
    one = point_mqtt(held.mqtt, "p-1")
    same(model.mqtt.for_point("p-1"), one)
    assert one.password_file == f"{tmp_path}/pantau/p-1.pw"
    assert one.tls.cert_file == f"{tmp_path}/p-1.crt"
    assert held.mqtt.tls.cert_file == f"{tmp_path}/{{point}}.crt"  # the original is unchanged
    with pytest.raises(ConfigError, match=r"p-2\.crt: TLS certificate file cannot be read"):
        point_mqtt(held.mqtt, "p-2")


def test_settings_are_read_only() -> None:
    held = from_plain({"interval_s": 10.0})
    with pytest.raises(AttributeError):
        held.interval_s = 5.0
    with pytest.raises(AttributeError, match="no setting 'intervl_s'"):
        _ = held.intervl_s
    assert held.model_copy(update={"interval_s": 5.0}).interval_s == 5.0
    assert held.interval_s == 10.0
