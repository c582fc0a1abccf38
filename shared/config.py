"""Load a YAML file into a pydantic model, with PANTAU_ environment overrides for secrets.

Config is validated once, at start-up. Every failure becomes one ConfigError line that names the
file and the field and says what was expected, because the person reading it is a technician at a
site, not a Python developer.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from pantau.shared.errors import ConfigError
from pantau.shared.secretfiles import check_inline_secret
from pantau.shared.secretfiles import check_tls_files as check_tls_files  # re-exported
from pantau.shared.secretfiles import read_secret_file as read_secret_file
from pantau.shared.secretfiles import resolve_secret as resolve_secret
from pantau.shared.topics import describe_point_id_error

ENV_PREFIX = "PANTAU_"
ENV_NESTING = "__"
SECRET_WORDS = ("password", "token", "secret", "key")

M = TypeVar("M", bound=BaseModel)


class Section(BaseModel):
    """Base of every config section: unknown keys are typos, and typos must stop start-up."""

    model_config = ConfigDict(extra="forbid")


def load_config(path: str | Path, model: type[M], env: Mapping[str, str] | None = None) -> M:
    """Read, override from the environment, validate. Raises ConfigError with one line.

    A secret written in the file itself (a password, a token, an alert URL: any SecretStr
    setting) makes the file a secret file: refused when group or others can read it, as a
    password_file would be (shared/secretfiles.py)."""
    path = Path(path)
    data = read_yaml(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    written = copy.deepcopy(data)
    apply_env_overrides(data, os.environ if env is None else env)
    config = validate(data, model, source=str(path))
    for where in secret_settings(config):
        if _given(written, where):
            field = ".".join(where)
            check_inline_secret(path, field, INSTEAD.get(where[-1], "a file of mode 600"))
    return config


INSTEAD = {"password": "a password_file", "token": "a token_file", "url": "alerts.targets_file"}


def secret_settings(node: Any, where: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Where a validated config holds a non-empty secret (SecretStr), as key paths."""
    if isinstance(node, SecretStr):
        if node.get_secret_value():
            yield where
    elif isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from secret_settings(getattr(node, name), (*where, name))
    elif isinstance(node, list | tuple):
        for index, item in enumerate(node):
            yield from secret_settings(item, (*where, str(index)))
    elif isinstance(node, dict):
        for key, item in node.items():
            yield from secret_settings(item, (*where, str(key)))


def _given(data: Any, where: tuple[str, ...]) -> bool:
    """The file itself gave a value at `where` (not the environment). A validator may have
    reshaped it (an alert target written as just its URL): a value met early is the one."""
    for key in where:
        if isinstance(data, dict):
            data = data.get(key)
        elif isinstance(data, list) and key.isdigit() and int(key) < len(data):
            data = data[int(key)]
        else:
            break
    return data not in (None, "", {}, [])


_STRICT_LOADERS: dict[type, type] = {}


def strict_loader(base: type) -> type:
    """`base` refusing a key given twice in one mapping. YAML keeps the last silently, so a
    registry with `fee_idr` twice, or a point's `removed` twice, would pay or keep a point on
    the value nobody meant."""
    found = _STRICT_LOADERS.get(base)
    if found is not None:
        return found

    class Strict(base):  # type: ignore[misc, valid-type]
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            if isinstance(node, yaml.MappingNode):
                seen: dict[Any, int] = {}
                for key_node, _ in node.value:
                    if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                        continue
                    key = self.construct_object(key_node)
                    if key in seen:
                        raise yaml.constructor.ConstructorError(
                            None,
                            None,
                            f"{key!r} is given twice (first on line {seen[key] + 1})",
                            key_node.start_mark,
                        )
                    seen[key] = key_node.start_mark.line
            return super().construct_mapping(node, deep)

    _STRICT_LOADERS[base] = Strict
    return Strict


def read_yaml(path: Path, loader: Any = yaml.SafeLoader) -> Any:
    """Parse a YAML file; any failure is one ConfigError line naming the file (and the line).
    A key given twice in one mapping is a failure too."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    try:
        return yaml.load(text, Loader=strict_loader(loader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}:{where}: {problem}") from exc


def validate(data: Any, model: type[M], source: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {describe_validation_error(exc)}") from None


def describe_validation_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or "(top level)"
    kind = err["type"]
    if kind == "missing":
        what = "is required but missing"
    elif kind == "extra_forbidden":
        what = "is not a known setting (typo?)"
    elif point_id := describe_point_id_error(err):
        what = f"is invalid: {point_id}"
    else:
        got = err.get("input")
        secret = any(word in field.lower() for word in SECRET_WORDS)  # never echo a secret
        shown = "" if isinstance(got, dict | list) or got is None or secret else f", got {got!r}"
        what = f"{err['msg'].lower()}{shown}"
    more = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
    return f"field '{field}' {what}{more}"


def apply_env_overrides(data: dict[str, Any], env: Mapping[str, str]) -> None:
    """PANTAU_MQTT__PASSWORD=x sets data['mqtt']['password'] = 'x' (keys lower-cased)."""
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or ENV_NESTING not in name:
            continue
        keys = [k.lower() for k in name[len(ENV_PREFIX) :].split(ENV_NESTING)]
        if any(not k for k in keys):
            continue
        node = data
        for key in keys[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                child = {}
                node[key] = child
            node = child
        node[keys[-1]] = value
