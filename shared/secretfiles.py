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


def open_mode(path: str | Path) -> int | None:
    """The file's permission bits when group or others have any right to it (None: only its
    owner has): what makes a file that holds a secret refused. OSError if it cannot be read."""
    mode = Path(path).stat().st_mode
    return stat.S_IMODE(mode) if mode & (stat.S_IRWXG | stat.S_IRWXO) else None


def read_secret_file(path: str | Path) -> Secret:
    """Read a secret from a file only its owner can read; anything laxer is refused."""
    path = Path(path)
    try:
        mode = open_mode(path)
    except OSError as exc:
        raise ConfigError(f"{path}: secret file cannot be read: {exc.strerror}") from exc
    if mode is not None:
        raise ConfigError(
            f"{path}: secret file is readable by group or others (mode {mode:o});"
            " run: chmod 600 " + str(path)
        )
    return Secret(path.read_text(encoding="utf-8").strip())


def check_inline_secret(path: str | Path, field: str, instead: str) -> None:
    """A config file holding a secret itself (`field`, e.g. influx.password) is held to the
    rule of a secret file: refused when group or others can read it, with the same one line
    (`instead`: where the secret could live instead, e.g. "a password_file")."""
    try:
        mode = open_mode(path)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from exc
    if mode is not None:
        raise ConfigError(
            f"{path}: holds {field} inline and is readable by group or others (mode {mode:o});"
            f" run: chmod 600 {path}, or move it to {instead}"
        )


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
