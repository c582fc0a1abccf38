"""RouterOS source settings: one clear line for each mistake, secrets from env or a private file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from pantau.agent.config import AgentConfig
from pantau.agent.sources.routeros.config import RouterOSSourceConfig
from pantau.shared.config import load_config, validate
from pantau.shared.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]


def config(**fields: Any) -> RouterOSSourceConfig:
    return RouterOSSourceConfig.model_validate({"kind": "routeros", "host": "10.0.0.1", **fields})


def agent(source: dict[str, Any]) -> dict[str, Any]:
    return {"points": [{"id": "citangkil-01", "source": {"kind": "routeros", **source}}]}


def test_defaults() -> None:
    c = config()
    assert (c.api_port, c.username, c.wan_interface, c.timeout_s) == (8728, "pantau", "ether1", 5)
    assert (c.legacy_encoding, config(legacy_encoding="CP1251").legacy_encoding) == (
        "cp1252", "cp1251",
    )  # fmt: skip
    assert config(tls={"verify": "insecure"}).api_port == 8729
    assert config(port=18729, tls={"verify": "insecure"}).api_port == 18729


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            {"host": "r", "ping_targets": ["1.1.1.1", "8.8.8.8"], "ping_count": 20},
            "20 probes every 0.2s take 4.0s, more than 60% of timeout_s (5.0s)",
        ),
        (
            {"host": "r", "password": "a", "password_env": "X"},
            "give only one of password, password_file, password_env",
        ),
        (
            {"host": "r", "tls": {"verify": "fingerprint"}},
            "verify: fingerprint needs fingerprint_sha256",
        ),
        (
            {"host": "r", "tls": {"verify": "fingerprint", "fingerprint_sha256": "abc"}},
            "fingerprint_sha256 must be 64 hex digits",
        ),
        ({"host": "r", "wireless": "wifi6"}, "field 'points.0.source.routeros.wireless'"),
        ({"host": "r", "login": "md5"}, "field 'points.0.source.routeros.login'"),
        ({"host": "r", "pasword_env": "X"}, "is not a known setting (typo?)"),
        ({"host": ""}, "field 'points.0.source.routeros.host'"),
        ({"host": "r", "timeout_s": 0}, "field 'points.0.source.routeros.timeout_s'"),
        ({"host": "r", "legacy_encoding": "klingon"}, "unknown code page 'klingon'"),
        ({"host": "r", "legacy_encoding": "utf-8"}, "not a single-byte legacy code page"),
    ],
)
def test_bad_settings_are_one_line(source: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        validate(agent(source), AgentConfig, source="agent.yaml")
    message = str(caught.value)
    assert expected in message and "\n" not in message


def test_fingerprint_normalised() -> None:
    pin = ":".join(["AB"] * 32)
    c = config(tls={"verify": "fingerprint", "fingerprint_sha256": pin})
    assert c.tls is not None and c.tls.fingerprint_sha256 == "ab" * 32


def test_password_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    c = config(password_env="PANTAU_TEST_ROUTER_PW")
    monkeypatch.delenv("PANTAU_TEST_ROUTER_PW", raising=False)
    with pytest.raises(ConfigError, match="'PANTAU_TEST_ROUTER_PW' \\(password_env\\) is not set"):
        c.secret()
    monkeypatch.setenv("PANTAU_TEST_ROUTER_PW", "s3cret")
    assert c.secret().get_secret_value() == "s3cret"
    assert "s3cret" not in repr(c)


def test_password_file_must_be_private(tmp_path: Path) -> None:
    secret = tmp_path / "router.pw"
    secret.write_text("hunter2\n")
    os.chmod(secret, 0o640)
    with pytest.raises(ConfigError, match="readable by group or others"):
        config(password_file=str(secret)).secret()
    os.chmod(secret, 0o600)
    assert config(password_file=str(secret)).secret().get_secret_value() == "hunter2"


def test_no_password_is_empty() -> None:
    assert config().secret().get_secret_value() == ""


def test_example_config_has_routers() -> None:
    loaded = load_config(ROOT / "examples" / "agent-routeros.yaml", AgentConfig, env={})
    kinds = [p.source.kind for p in loaded.points]
    assert kinds == ["routeros", "routeros", "routeros"]
