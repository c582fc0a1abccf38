"""Secrets read from files only their owner can read, and TLS files checked before a connect.

Plain Python on purpose: a running agent reads its secrets through here without importing the
config models (pydantic), which only validate the settings at start-up (agent/settings.py).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Protocol

from pantau.shared.errors import ConfigError


class SecretValue(Protocol):
    """pydantic's SecretStr, or `Secret`: the value only on request, never in a repr."""

    def get_secret_value(self) -> str: ...


class Secret:
    """A secret read at run time: shown as stars, compared by value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')" if self._value else "Secret('')"

    def __str__(self) -> str:
        return "**********" if self._value else ""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def read_secret_file(path: str | Path) -> Secret:
    """Read a secret from a file only its owner can read; anything laxer is refused."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"{path}: secret file cannot be read: {exc.strerror}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{path}: secret file is readable by group or others (mode {stat.S_IMODE(mode):o});"
            " run: chmod 600 " + str(path)
        )
    return Secret(path.read_text(encoding="utf-8").strip())


def resolve_secret(value: SecretValue | None, file: str | None, what: str) -> SecretValue | None:
    """A secret given inline (usually from the environment) wins over a secret file."""
    if value is not None and value.get_secret_value():
        return value
    if file:
        return read_secret_file(file)
    return None


def check_tls_files(ca_file: str | None, cert_file: str | None, key_file: str | None) -> None:
    """TLS files are read by the MQTT client only when it connects: check them at start-up,
    and refuse a private key that group or others could read, as for any secret."""
    for what, name in (("CA", ca_file), ("certificate", cert_file)):
        if name and not os.access(name, os.R_OK):
            raise ConfigError(f"{name}: TLS {what} file cannot be read")
    if key_file:
        read_secret_file(key_file)
