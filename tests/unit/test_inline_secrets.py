"""A secret written in a config file makes it a secret file: refused when group or others can
read it, with the one line a password_file of that mode gets, and the chmod to run."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from pantau.agent.config import load_agent_config
from pantau.collector.config import load_collector_config
from pantau.shared.config import load_config
from pantau.shared.errors import ConfigError
from tests.pipeline import PANTAU

REGISTRY = (
    "contracts: [{provider: Awinet}]\n"
    "points: [{id: cit-01, kelurahan: Citangkil, kecamatan: Citangkil, provider: Awinet}]\n"
)


def collector_yaml(tmp_path: Path, mode: int, **sections: Any) -> Path:
    (tmp_path / "registry.yaml").write_text(REGISTRY)
    path = tmp_path / "collector.yaml"
    path.write_text(yaml.safe_dump({"registry": "registry.yaml", **sections}))
    path.chmod(mode)
    return path


def agent_yaml(tmp_path: Path, mode: int, **over: Any) -> Path:
    data = {"state_dir": str(tmp_path / "state"), "mqtt": {"host": "127.0.0.1"}}
    data |= {"points": [{"id": "cit-01", "source": {"kind": "simulated"}}]} | over
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(data))
    path.chmod(mode)
    return path


def refusal(path: Path, field: str, mode: int, instead: str = "a password_file") -> str:
    return (
        f"{path}: holds {field} inline and is readable by group or others (mode {mode:o});"
        f" run: chmod 600 {path}, or move it to {instead}"
    )


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
@pytest.mark.parametrize(
    ("sections", "field", "instead"),
    [
        ({"influx": {"username": "pantau", "password": "S3cr3t"}}, "influx.password", None),
        ({"mqtt": {"username": "c", "password": "S3cr3t"}}, "mqtt.password", None),
        ({"influx": {"api": "v2", "token": "T0ken", "org": "o", "bucket": "b"}}, "influx.token",
         "a token_file"),
        ({"alerts": {"targets": ["tgram://123:abc/-100"]}}, "alerts.targets.0.url",
         "alerts.targets_file"),
        ({"alerts": {"targets": [{"url": "json://x/y", "rules": ["silent"]}]}},
         "alerts.targets.0.url", "alerts.targets_file"),
    ],
)  # fmt: skip
def test_a_collector_config_holding_a_secret_others_can_read_is_refused(
    tmp_path: Path, mode: int, sections: dict[str, Any], field: str, instead: str | None
) -> None:
    path = collector_yaml(tmp_path, mode, **sections)
    with pytest.raises(ConfigError) as caught:
        load_collector_config(path)
    assert str(caught.value) == refusal(path, field, mode, instead or "a password_file")
    assert "S3cr3t" not in str(caught.value) and "abc" not in str(caught.value)
    path.chmod(0o600)
    assert load_collector_config(path).registry == tmp_path / "registry.yaml"


def test_an_agent_config_holding_a_secret_others_can_read_is_refused(tmp_path: Path) -> None:
    path = agent_yaml(tmp_path, 0o644, mqtt={"host": "127.0.0.1", "password": "S3cr3t"})
    with pytest.raises(ConfigError) as caught:
        load_agent_config(path)
    assert str(caught.value) == refusal(path, "mqtt.password", 0o644)
    router = {"kind": "routeros", "host": "10.0.0.1", "password": "S3cr3t"}
    path = agent_yaml(tmp_path, 0o640, points=[{"id": "cit-01", "source": router}])
    with pytest.raises(ConfigError) as caught:
        load_agent_config(path)
    assert str(caught.value) == refusal(path, "points.0.source.password", 0o640)
    path.chmod(0o600)
    assert load_agent_config(path).points[0].id == "cit-01"


def test_a_secret_from_the_environment_leaves_the_file_readable(tmp_path: Path) -> None:
    path = collector_yaml(tmp_path, 0o644, influx={"username": "pantau"})
    env = {"PANTAU_INFLUX__PASSWORD": "S3cr3t", "PANTAU_MQTT__PASSWORD": "S3cr3t"}
    config = load_config(path, _model(), env)
    assert config.influx.password is not None
    assert config.influx.password.get_secret_value() == "S3cr3t"


def test_the_file_wins_over_the_environment_only_in_value(tmp_path: Path) -> None:
    """The environment overrides a secret also written in the file: the file still holds it."""
    path = collector_yaml(tmp_path, 0o644, influx={"username": "pantau", "password": "S3cr3t"})
    with pytest.raises(ConfigError) as caught:
        load_config(path, _model(), {"PANTAU_INFLUX__PASSWORD": "other"})
    assert str(caught.value) == refusal(path, "influx.password", 0o644)


def test_a_config_without_secrets_may_be_read_by_anyone(tmp_path: Path) -> None:
    path = collector_yaml(tmp_path, 0o644, influx={"username": "pantau", "password_file": "/x"})
    assert load_collector_config(path).influx.password_file == "/x"
    path = agent_yaml(tmp_path, 0o644)
    assert load_agent_config(path).points[0].id == "cit-01"


def test_the_collector_and_the_agent_stop_with_that_one_line(tmp_path: Path) -> None:
    collector = collector_yaml(
        tmp_path, 0o644, influx={"url": "http://127.0.0.1:9", "password": "S3cr3t"}
    )
    agent = agent_yaml(tmp_path, 0o644, mqtt={"host": "127.0.0.1", "password": "S3cr3t"})
    for command, path, field in (
        ("collector", collector, "influx.password"),
        ("agent", agent, "mqtt.password"),
    ):
        done = subprocess.run(
            [*PANTAU, command, "--config", str(path)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert (done.returncode, done.stdout) == (2, "")
        assert done.stderr.strip() == f"pantau {command}: {refusal(path, field, 0o644)}"


def _model() -> Any:
    from pantau.collector.config import CollectorConfig

    return CollectorConfig
