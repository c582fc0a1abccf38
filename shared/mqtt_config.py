"""The MQTT settings every Pantau client shares: the broker, the login, TLS.

Validated at start-up (pydantic); agents and collectors add their own settings by subclassing.
Importable as `pantau.shared.mqtt_client.MqttConfig` too, without that module importing this
one until a caller asks for it (a running agent never does: agent/settings.py).
"""

from __future__ import annotations

from pydantic import Field, SecretStr

from pantau.shared.config import Section, resolve_secret
from pantau.shared.secretfiles import SecretValue


class TlsConfig(Section):
    ca_file: str | None = Field(default=None, description="CA that signed the broker's certificate")
    cert_file: str | None = Field(
        default=None,
        description="Client certificate, if the broker wants one (agents: {point} allowed)",
    )
    key_file: str | None = Field(
        default=None, description="Client key, mode 600 (agents: {point} allowed)"
    )
    insecure: bool = Field(default=False, description="Skip hostname verification (testing only)")


class MqttConfig(Section):
    """The broker and how to log in to it; agents and collectors add their own settings."""

    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = Field(default=None, description="Prefer PANTAU_MQTT__PASSWORD")
    password_file: str | None = Field(default=None, description="File with the password, mode 600")
    tls: TlsConfig | None = None
    keepalive_s: int = Field(default=30, ge=5, le=3600)

    def secret(self) -> SecretValue | None:
        return resolve_secret(self.password, self.password_file, "mqtt password")
