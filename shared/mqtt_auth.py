"""How any Pantau MQTT client proves who it is: the same for agents and collectors."""

from __future__ import annotations

import ssl
from typing import Any, Protocol

from pydantic import SecretStr


class TlsSettings(Protocol):
    ca_file: str | None
    cert_file: str | None
    key_file: str | None
    insecure: bool


def apply_credentials(
    client: Any, username: str | None, secret: SecretStr | None, tls: TlsSettings | None
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
