"""Secrets come from the environment or from files only their owner can read."""

from __future__ import annotations

from pathlib import Path

import pytest

from pantau.agent.config import MqttConfig, TlsConfig
from pantau.collector.influxdb.config import InfluxConfig
from pantau.shared.config import apply_env_overrides, check_tls_files
from pantau.shared.errors import ConfigError


def private(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def test_each_point_gets_its_own_credential_files(tmp_path: Path) -> None:
    for point in ("cit-01", "cit-02"):
        private(tmp_path / point / "password", f"secret-of-{point}\n")
        private(tmp_path / point / "key.pem", "key")
        private(tmp_path / point / "cert.pem", "cert", 0o644)
    ca = private(tmp_path / "ca.pem", "ca", 0o644)
    config = MqttConfig(
        password_file=str(tmp_path / "{point}" / "password"),
        tls=TlsConfig(
            ca_file=str(ca),
            cert_file=str(tmp_path / "{point}" / "cert.pem"),
            key_file=str(tmp_path / "{point}" / "key.pem"),
        ),
    )
    one = config.for_point("cit-02")
    assert one.password_file == str(tmp_path / "cit-02" / "password")
    assert one.tls is not None and one.tls.key_file == str(tmp_path / "cit-02" / "key.pem")
    assert one.tls.cert_file == str(tmp_path / "cit-02" / "cert.pem")
    assert one.tls.ca_file == str(ca) and one.tls.insecure is False
    secret = one.secret()
    assert secret is not None and secret.get_secret_value() == "secret-of-cit-02"
    assert "secret-of" not in repr(one) and "secret-of" not in str(one.model_dump())
    assert config.password_file is not None and "{point}" in config.password_file  # untouched


def test_the_broker_is_verified_unless_explicitly_told_not_to() -> None:
    assert TlsConfig().insecure is False
    assert TlsConfig.model_fields["insecure"].default is False


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_a_key_or_password_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    key = private(tmp_path / "key.pem", "key", mode)
    config = MqttConfig(tls=TlsConfig(key_file=str(key)))
    with pytest.raises(ConfigError) as caught:
        config.for_point("cit-01")
    assert str(caught.value) == (
        f"{key}: secret file is readable by group or others (mode {mode:o}); run: chmod 600 {key}"
    )
    password = private(tmp_path / "pw", "secret", mode)
    with pytest.raises(ConfigError, match="readable by group or others"):
        MqttConfig(password_file=str(password)).secret()


def test_missing_tls_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"ca\.pem: TLS CA file cannot be read"):
        check_tls_files(str(tmp_path / "ca.pem"), None, None)
    with pytest.raises(ConfigError, match=r"c\.pem: TLS certificate file cannot be read"):
        check_tls_files(None, str(tmp_path / "c.pem"), None)
    with pytest.raises(ConfigError, match="secret file cannot be read"):
        check_tls_files(None, None, str(tmp_path / "key.pem"))


def test_influx_secrets_from_environment_or_file(tmp_path: Path) -> None:
    data: dict[str, object] = {"influx": {"username": "pantau"}}
    apply_env_overrides(data, {"PANTAU_INFLUX__PASSWORD": "from-env"})
    from_env = InfluxConfig.model_validate(data["influx"]).resolved_password()
    assert from_env is not None and from_env.get_secret_value() == "from-env"
    file = private(tmp_path / "influx.pw", "from-file\n")
    from_file = InfluxConfig(password_file=str(file)).resolved_password()
    assert from_file is not None and from_file.get_secret_value() == "from-file"
    file.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by group or others"):
        InfluxConfig(password_file=str(file)).resolved_password()


def test_a_mistyped_secret_is_not_echoed_in_the_error(tmp_path: Path) -> None:
    from pantau.collector.config import CollectorConfig
    from pantau.shared.config import validate

    with pytest.raises(ConfigError) as caught:
        validate({"registry": "r.yaml", "mqtt": {"password": 7_319_204_555}}, CollectorConfig, "c")
    assert str(caught.value) == "c: field 'mqtt.password' input should be a valid string"
    with pytest.raises(ConfigError) as port:
        validate({"registry": "r.yaml", "mqtt": {"port": "x"}}, CollectorConfig, "c")
    assert str(port.value).endswith(", got 'x'")  # ordinary values are still shown
