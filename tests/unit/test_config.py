from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pantau.agent.config import AgentConfig
from pantau.collector.config import CollectorConfig
from pantau.shared.config import load_config, read_secret_file
from pantau.shared.errors import ConfigError

ROOT = Path(__file__).parent.parent.parent
GOOD = """
interval_s: 10
state_dir: /tmp/x
points:
  - id: citangkil-03
    source: {kind: linux, wan_interface: eth0}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            GOOD.replace("interval_s: 10", "interval_s: ten"),
            "field 'interval_s' input should be a valid number",
        ),
        (
            GOOD.replace("interval_s: 10", "intervl_s: 10"),
            "field 'intervl_s' is not a known setting (typo?)",
        ),
        (
            GOOD.replace("wan_interface: eth0", "wan: eth0"),
            "field 'points.0.source.linux.wan_interface' is required but missing",
        ),
        (
            GOOD.replace("citangkil-03", "Citangkil 03"),
            "field 'points.0.id' is invalid: 'Citangkil 03' is not a point id: it has",
        ),
        (
            GOOD.replace("kind: linux", "kind: cisco"),
            "field 'points.0.source' input tag 'cisco' found using 'kind' does not match",
        ),
        ("points: [", "line"),
        ("- 1\n- 2\n", "expected a mapping of settings at the top level"),
        ("interval_s: 5\n", "field 'points' is required but missing"),
    ],
)
def test_bad_agent_config_is_one_clear_line(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, AgentConfig, env={})
    message = str(caught.value)
    assert message.startswith(str(path))
    assert expected in message
    assert "\n" not in message


def test_cli_prints_one_line_and_no_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("interval_s: 10", "interval_s: -1"))
    result = subprocess.run(
        [sys.executable, "-m", "pantau.shared.cli", "agent", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"pantau agent: {path}: field 'interval_s' input should be greater than 0, got -1"
    ]
    assert "Traceback" not in result.stderr


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml", AgentConfig, env={})


def test_environment_overrides_secrets(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    config = load_config(
        path, AgentConfig, env={"PANTAU_MQTT__PASSWORD": "s3cret", "PANTAU_MQTT__PORT": "8883"}
    )
    assert config.mqtt.port == 8883
    assert config.mqtt.secret().get_secret_value() == "s3cret"
    assert "s3cret" not in repr(config) and "s3cret" not in config.model_dump_json()


def test_secret_file_must_be_private(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("hunter2\n")
    os.chmod(secret, 0o644)
    with pytest.raises(ConfigError, match="readable by group or others"):
        read_secret_file(secret)
    os.chmod(secret, 0o600)
    assert read_secret_file(secret).get_secret_value() == "hunter2"


@pytest.mark.parametrize(
    "path", sorted((ROOT / "examples").glob("agent*.yaml")), ids=lambda p: p.name
)
def test_example_agent_configs_load(path: Path) -> None:
    load_config(path, AgentConfig, env={})


@pytest.mark.parametrize(
    "path", sorted((ROOT / "examples").glob("collector*.yaml")), ids=lambda p: p.name
)
def test_example_collector_configs_load(path: Path) -> None:
    load_config(path, CollectorConfig, env={})


def test_examples_exist() -> None:
    assert list((ROOT / "examples").glob("agent*.yaml")) and list(
        (ROOT / "examples").glob("collector*.yaml")
    )


def test_a_collector_number_setting_is_not_true(tmp_path: Path) -> None:
    """`workers: true` ran one worker: the setting wants a number."""
    path = tmp_path / "collector.yaml"
    path.write_text("mqtt: {host: x}\ninflux: {url: 'http://a'}\nregistry: r.yaml\nworkers: true\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, CollectorConfig, env={})
    assert str(caught.value) == (
        f"{path}: field 'workers' input should be a valid integer, got True"
    )
