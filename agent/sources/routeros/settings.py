"""What a router's settings imply, for the validated model and for a running agent's plain view
of it alike (agent/settings.py): the API port and the API password."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from pantau.shared.errors import ConfigError
from pantau.shared.secretfiles import Secret, SecretValue, resolve_secret

if TYPE_CHECKING:
    from pantau.agent.sources.routeros.config import RouterOSSourceConfig


def api_port(config: RouterOSSourceConfig) -> int:
    """The port given, else api (8728) or api-ssl (8729) as `tls` says."""
    if config.port is not None:
        return config.port
    return 8729 if config.tls is not None else 8728


def api_password(config: RouterOSSourceConfig) -> SecretValue:
    """The API password; an unset environment variable is a config error, not ''."""
    if config.password_env:
        value = os.environ.get(config.password_env)
        if value is None:
            raise ConfigError(
                f"routeros {config.host}: environment variable {config.password_env!r}"
                " (password_env) is not set"
            )
        return Secret(value)
    resolved = resolve_secret(config.password, config.password_file, "routeros password")
    return resolved if resolved is not None else Secret("")
