"""The agent's settings as its long-running process holds them: plain data, no pydantic.

The config models (agent/config.py) stay the one definition of what a valid config is, with the
messages a technician reads. They run in a short-lived child process at start
(`python -m pantau.agent.configcheck FILE`, agent/configcheck.py), which prints the validated
config as JSON; the agent then holds that data as `Settings`: read-only objects with the
models' field names, so the code that reads them is the same for both and a running agent
never imports pydantic (about 14 MB and 0.4 s on a small board).

What the models did by method (build a source, fill `{point}` in the MQTT settings) is a
function here, working on a model and a `Settings` alike.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from pantau.shared.errors import ConfigError
from pantau.shared.secretfiles import Secret, check_tls_files

if TYPE_CHECKING:
    from pantau.agent.config import AgentConfig, MqttConfig
    from pantau.agent.sources.base import Source
    from pantau.agent.sources.clock import Clock

# How the child marks the values JSON has no type for.
TAGS = ("$datetime", "$date", "$time", "$path", "$secret", "$map")
CHECK_TIMEOUT_S = 120.0


class Settings:
    """One validated config section: its fields as attributes, nested sections as Settings,
    lists as tuples. Frozen: a change is a copy (`model_copy`, as pydantic names it)."""

    __slots__ = ("_fields",)

    def __init__(self, fields: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_fields", dict(fields))

    def __getattr__(self, name: str) -> Any:
        try:
            return self._fields[name]
        except KeyError:
            raise AttributeError(f"no setting {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("settings are read-only; model_copy(update=...) makes a copy")

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        return iter(self._fields.items())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Settings) and other._fields == self._fields

    __hash__ = None  # type: ignore[assignment]  # compared by value, as pydantic models are

    def __repr__(self) -> str:
        return f"Settings({', '.join(f'{k}={v!r}' for k, v in self._fields.items())})"

    def model_copy(self, *, update: Mapping[str, Any] | None = None) -> Settings:
        return Settings(self._fields | dict(update or {}))


def to_plain(value: Any) -> Any:
    """A validated model as JSON data (the child's side): sections as objects, and the values
    JSON has no type for tagged (`TAGS`), so `from_plain` gives back the same types."""
    fields = getattr(type(value), "model_fields", None)
    if fields is not None:
        return {name: to_plain(getattr(value, name)) for name in fields}
    if isinstance(value, dt.datetime):  # before date: a datetime is a date too
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, dt.time):
        return {"$time": value.isoformat()}
    if isinstance(value, Path):
        return {"$path": str(value)}
    if hasattr(value, "get_secret_value"):
        return {"$secret": value.get_secret_value()}
    if isinstance(value, Mapping):
        return {"$map": {str(k): to_plain(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"a {type(value).__name__} setting has no plain form")


def from_plain(value: Any) -> Any:
    """The agent's side of `to_plain`."""
    if isinstance(value, list):
        return tuple(from_plain(v) for v in value)
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((tag, inner),) = value.items()
        if tag == "$datetime":
            return dt.datetime.fromisoformat(inner)
        if tag == "$date":
            return dt.date.fromisoformat(inner)
        if tag == "$time":
            return dt.time.fromisoformat(inner)
        if tag == "$path":
            return Path(inner)
        if tag == "$secret":
            return Secret(inner)
        if tag == "$map":
            return {k: from_plain(v) for k, v in inner.items()}
    return Settings({k: from_plain(v) for k, v in value.items()})


def load_settings(path: str | Path) -> AgentConfig:
    """Validate the config in a child process and hold the result as plain Settings. The
    child reads the same environment (PANTAU_ overrides); its one-line ConfigError is raised
    here as is."""
    done = subprocess.run(
        [sys.executable, "-m", "pantau.agent.configcheck", str(path)],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=CHECK_TIMEOUT_S,
        check=False,
    )
    if done.returncode == 2:
        raise ConfigError(done.stderr.strip().splitlines()[-1])
    if done.returncode != 0:
        raise RuntimeError(f"checking {path} failed ({done.returncode}): {done.stderr.strip()}")
    return cast("AgentConfig", from_plain(json.loads(done.stdout)))


def point_mqtt(mqtt: MqttConfig, point: str) -> MqttConfig:
    """One point's session settings. `{point}` in a file name becomes the point id, so an
    agent of several points holds one credential per point (the broker lets each speak only
    for itself). A client key others could read is refused here, at start-up."""

    def fill(value: str | None) -> str | None:
        return value.replace("{point}", point) if value else value

    tls = mqtt.tls
    if tls is not None:
        tls = tls.model_copy(
            update={"cert_file": fill(tls.cert_file), "key_file": fill(tls.key_file)}
        )
        check_tls_files(tls.ca_file, tls.cert_file, tls.key_file)
    return mqtt.model_copy(update={"password_file": fill(mqtt.password_file), "tls": tls})


def build_source(config: Any, point: str, clock: Clock) -> Source:
    """The source a point's `source` section describes, as the models' `build()` makes it;
    each kind's code is imported only when a point uses it (RouterOS brings its API client)."""
    if config.kind == "linux":
        from pantau.agent.sources.linux import LinuxSource

        return LinuxSource(config)
    if config.kind == "routeros":
        from pantau.agent.sources.routeros.source import RouterOSSource

        return RouterOSSource(point, config, clock)
    if config.kind == "simulated":
        from pantau.agent.sources.simulated import SimulatedSource

        return SimulatedSource(point, config, clock)
    raise ConfigError(f"point {point}: no source of kind {config.kind!r}")
