"""Per-point secrets for the deployment, kept only in an Ansible Vault file.

The inventory names each secret (`vault_pantau_points[<point>].mqtt_password`) but never holds
one; the values live in a vault-encrypted YAML file beside it. Re-running keeps every secret that
exists, so regenerating the inventory never rotates a password by accident.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import yaml

from pantau.shared.errors import ConfigError

VAULT_VAR = "vault_pantau_points"
SECRET_KEYS = ("mqtt_password", "router_password")


def _vault(password_file: Path) -> Any:
    try:
        from ansible.constants import DEFAULT_VAULT_ID_MATCH
        from ansible.parsing.vault import VaultLib, VaultSecret
    except ModuleNotFoundError:
        raise ConfigError("--secrets-out needs Ansible (pip install 'pantau[deploy]')") from None
    try:
        password = password_file.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(
            f"{password_file}: cannot read the vault password: {exc.strerror}"
        ) from exc
    if not password:
        raise ConfigError(f"{password_file}: the vault password file is empty")
    return VaultLib([(DEFAULT_VAULT_ID_MATCH, VaultSecret(password))])


def read_vault(path: Path, password_file: Path) -> dict[str, dict[str, str]]:
    """The point secrets already in the vault file ({} when there is no file yet)."""
    if not path.exists():
        return {}
    vault = _vault(password_file)
    data = path.read_bytes()
    if not vault.is_encrypted(data):
        raise ConfigError(f"{path}: not an Ansible Vault file; refusing to use clear-text secrets")
    try:
        text = vault.decrypt(data)
    except Exception:  # AnsibleError and friends: a wrong password, a damaged file
        raise ConfigError(
            f"{path}: cannot decrypt with {password_file} (wrong password?)"
        ) from None
    loaded = yaml.safe_load(text) or {}
    points = loaded.get(VAULT_VAR, {}) if isinstance(loaded, dict) else None
    if not isinstance(points, dict):
        raise ConfigError(f"{path}: expected a mapping '{VAULT_VAR}' of point secrets")
    return {str(k): dict(v or {}) for k, v in points.items()}


def complete(
    existing: dict[str, dict[str, str]],
    points: list[str],
    given: dict[str, dict[str, str]] | None = None,
) -> tuple[dict[str, dict[str, str]], int]:
    """Every point gets each secret: kept if it exists, else taken from `given` (e.g. the PKI's
    passwords), else made at random. Returns the secrets and how many were made or taken."""
    given = given or {}
    out = {name: dict(values) for name, values in existing.items()}
    added = 0
    for point in points:
        entry = out.setdefault(point, {})
        for key in SECRET_KEYS:
            if entry.get(key):
                continue
            entry[key] = given.get(point, {}).get(key) or secrets.token_urlsafe(24)
            added += 1
    return out, added


def write_vault(path: Path, password_file: Path, points: dict[str, dict[str, str]]) -> None:
    vault = _vault(password_file)
    text = yaml.safe_dump({VAULT_VAR: dict(sorted(points.items()))}, sort_keys=False)
    encrypted = vault.encrypt(text.encode())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(encrypted)
    tmp.chmod(0o600)
    tmp.replace(path)


def pki_passwords(pki_dir: Path, points: list[str]) -> dict[str, dict[str, str]]:
    """The MQTT passwords `pantau pki` issued (issued/<point>/password), so the vault holds
    exactly the passwords the broker's password file knows."""
    found: dict[str, dict[str, str]] = {}
    for point in points:
        file = pki_dir / "issued" / point / "password"
        if file.is_file():
            found[point] = {"mqtt_password": file.read_text(encoding="utf-8").strip()}
    return found
