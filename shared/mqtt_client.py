"""One MQTT connection layer for agents, collectors and the NOC: one config model, one factory.

Every Pantau client speaks MQTT v5 with paho's version-2 callbacks, proves who it is the same
way (user name and password, a client certificate, or both) and verifies the broker against the
project CA. The factory checks the TLS files before anything else, so a missing CA or a key that
others can read stops start-up with one line instead of an SSL error at the first connect.
Nothing here connects: the caller chooses when, and how to retry. The config models live in
pantau.shared.mqtt_config (pydantic) and are loaded from here on first use only.
"""

from __future__ import annotations

import ipaddress
import logging
import ssl
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from pantau.shared.secretfiles import SecretValue, check_tls_files, resolve_secret

if TYPE_CHECKING:
    from pantau.shared.mqtt_config import MqttConfig, TlsConfig

log = logging.getLogger(__name__)


def __getattr__(name: str) -> Any:
    """MqttConfig and TlsConfig, the pydantic models, loaded only when asked for."""
    if name in ("MqttConfig", "TlsConfig"):
        from pantau.shared import mqtt_config

        return getattr(mqtt_config, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def make_client(
    config: MqttConfig,
    client_id: str,
    *,
    default_username: str | None = None,
    manual_ack: bool = False,
) -> paho.Client:
    """A configured, unconnected MQTT v5 client.

    `default_username` is the user name sent with a password when the config names none (an
    agent logs in as its point). Raises ConfigError for an unreadable TLS file or secret.
    """
    if config.tls is not None:
        check_tls_files(config.tls.ca_file, config.tls.cert_file, config.tls.key_file)
    secret = resolve_secret(config.password, config.password_file, "mqtt password")
    username = config.username or (default_username if secret is not None else None)
    if secret is not None and config.tls is None and not _loopback(config.host):
        _warn_once(
            f"the MQTT password travels in clear to {config.host}:{config.port}: no `tls:` in"
            " the mqtt section; add tls.ca_file (docs/security.md)"
        )
    client = paho.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=MQTTProtocolVersion.MQTTv5,
        manual_ack=manual_ack,
    )
    apply_credentials(client, username, secret, config.tls)
    return client


_warned: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        log.warning("%s", message)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def connection_hint(error: BaseException | str, tls: bool, port: int) -> str:
    """What a failed MQTT connection most likely means, in words a technician can act on."""
    text = str(error).lower()
    if isinstance(error, ssl.SSLError) or "ssl" in text or "certificate" in text:
        if "certificate verify failed" in text:
            return "the broker's certificate is not signed by tls.ca_file (or names another host)"
        return f"TLS handshake failed: is port {port} a TLS listener? (or drop `tls:`)"
    if tls and ("reset by peer" in text or "eof" in text):
        return f"the broker closed the TLS handshake: is port {port} a TLS listener?"
    if "refused" in text:
        return f"nothing listens on port {port}"
    return ""


def apply_credentials(
    client: paho.Client, username: str | None, secret: SecretValue | None, tls: TlsConfig | None
) -> None:
    """User name and password (when either is set) and TLS verified against `tls.ca_file`."""
    if username or secret is not None:
        client.username_pw_set(username, secret.get_secret_value() if secret else None)
    if tls is not None:
        client.tls_set(
            ca_certs=tls.ca_file,
            certfile=tls.cert_file,
            keyfile=tls.key_file,
            cert_reqs=ssl.CERT_REQUIRED,
        )
        client.tls_insecure_set(tls.insecure)
