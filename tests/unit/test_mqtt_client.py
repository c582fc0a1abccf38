"""One MQTT layer: agents, collectors and the NOC log in the same way and check TLS files first."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from paho.mqtt.enums import MQTTProtocolVersion
from pydantic import SecretStr

from pantau.agent import config as agent_config
from pantau.collector import config as collector_config
from pantau.collector.admin.pki import Pki
from pantau.collector.noc.reader import StateWatcher, noc_mqtt
from pantau.shared.errors import ConfigError
from pantau.shared.mqtt_client import MqttConfig, TlsConfig, make_client


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    pki = Pki(tmp_path_factory.mktemp("pki") / "pki")
    pki.init(["127.0.0.1"])
    return pki


def test_agent_and_collector_configs_are_the_shared_model() -> None:
    assert issubclass(agent_config.MqttConfig, MqttConfig)
    assert issubclass(collector_config.MqttConfig, MqttConfig)
    assert agent_config.TlsConfig is TlsConfig
    assert agent_config.MqttConfig.model_fields["tls"].annotation == TlsConfig | None
    assert collector_config.MqttConfig.model_fields["tls"].annotation == TlsConfig | None


@pytest.mark.parametrize(
    ("username", "password", "default", "sent"),
    [
        (None, None, None, (None, None)),
        (None, None, "cit-01", (None, None)),  # no password: no login at all
        (None, "s3cret", "cit-01", ("cit-01", "s3cret")),  # an agent logs in as its point
        (None, "s3cret", None, (None, "s3cret")),
        ("pantau-collector", None, "cit-01", ("pantau-collector", None)),
        ("pantau-collector", "s3cret", "cit-01", ("pantau-collector", "s3cret")),
    ],
)
def test_credentials(
    username: str | None,
    password: str | None,
    default: str | None,
    sent: tuple[str | None, str | None],
) -> None:
    config = MqttConfig(username=username, password=SecretStr(password) if password else None)
    client = make_client(config, "pantau-test", default_username=default)
    assert (client.username, client.password) == sent
    assert client.protocol == MQTTProtocolVersion.MQTTv5


def test_the_broker_is_verified_against_the_ca(pki: Pki) -> None:
    tls = TlsConfig(ca_file=str(pki.ca_cert_path))
    context = make_client(MqttConfig(tls=tls), "pantau-test")._ssl_context
    assert context is not None
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname is True
    insecure = TlsConfig(ca_file=str(pki.ca_cert_path), insecure=True)
    context = make_client(MqttConfig(tls=insecure), "pantau-test")._ssl_context
    assert context is not None
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname is False


def test_tls_files_are_checked_before_the_client_is_made(tmp_path: Path, pki: Pki) -> None:
    missing = TlsConfig(ca_file=str(tmp_path / "ca.pem"))
    with pytest.raises(ConfigError) as caught:
        make_client(MqttConfig(tls=missing), "pantau-test")
    assert str(caught.value) == f"{tmp_path / 'ca.pem'}: TLS CA file cannot be read"
    key = tmp_path / "key.pem"
    key.write_bytes(pki.broker_key_path.read_bytes())
    key.chmod(0o644)
    open_key = TlsConfig(
        ca_file=str(pki.ca_cert_path), cert_file=str(pki.broker_cert_path), key_file=str(key)
    )
    with pytest.raises(ConfigError, match="readable by group or others"):
        make_client(MqttConfig(tls=open_key), "pantau-test")


def test_the_noc_checks_tls_files_like_everyone_else(tmp_path: Path) -> None:
    config = collector_config.MqttConfig(tls=TlsConfig(ca_file=str(tmp_path / "ca.pem")))
    with pytest.raises(ConfigError, match=r"ca\.pem: TLS CA file cannot be read"):
        StateWatcher(noc_mqtt(config, None, "status"))
