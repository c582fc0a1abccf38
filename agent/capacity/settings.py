"""What a point's `capacity` and `bursts` settings imply, for the validated models
(agent/capacity/config.py) and for a running agent's plain view of them (agent/settings.py)
alike: the speed-test code reads its settings through these and by `kind`, never by model
class, so an agent with speed tests configured imports no pydantic either.
"""

from __future__ import annotations

import datetime as dt
import os
import zoneinfo
from typing import TYPE_CHECKING, Any

from pantau.shared.errors import ConfigError
from pantau.shared.secretfiles import resolve_secret

if TYPE_CHECKING:
    from pantau.agent.capacity.config import CapacityConfig, ScheduleConfig

# The methods the router runs itself (it needs a RouterOS source).
ROUTEROS_METHODS = ("routeros_btest", "routeros_speedtest")


def seconds_per_direction(method: Any) -> int:
    """One direction of a timed method: the measured seconds plus the slow start run first."""
    return int(method.duration_s + method.omit_s)


def committed_mbps(cfg: CapacityConfig) -> float:
    """The point's committed download: retest.committed_mbps, else expected_mbps."""
    return float(cfg.retest.committed_mbps or cfg.expected_mbps)


def schedule_zone(schedule: ScheduleConfig) -> dt.tzinfo:
    """The time zone of the schedule's days and peak window (ZoneInfo caches each zone)."""
    return zoneinfo.ZoneInfo(schedule.timezone)


def is_routeros(source: object) -> bool:
    """Whether a point's source is a RouterOS router (its config model or its settings)."""
    return getattr(source, "kind", None) == "routeros"


def btest_password(method: Any) -> str:
    """The btest server's password of a RouterOS method; an unset environment variable is a
    config error, not ''."""
    if method.password_env:
        value = os.environ.get(method.password_env)
        if value is None:
            raise ConfigError(
                f"capacity: environment variable {method.password_env!r} (password_env) is not set"
            )
        return value
    resolved = resolve_secret(method.password, method.password_file, "btest password")
    return resolved.get_secret_value() if resolved is not None else ""
