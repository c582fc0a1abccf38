"""MQTT topic names of the v1 contract, in one place."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

PREFIX = "pantau/v1"
POINT_ID_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
POINT_ID_RULE = (  # POINT_ID_PATTERN in words, for people
    "a point id is 1 to 64 lowercase letters a-z, digits 0-9 and '-', beginning and ending"
    " with a letter or digit, e.g. 'citangkil-03'"
)
_POINT_ID = re.compile(POINT_ID_PATTERN)
_TOPIC = re.compile(r"^pantau/v1/([^/]+)/(telemetry|state|event)$")

TELEMETRY = "telemetry"
STATE = "state"
EVENT = "event"
RECEIPT = "receipt"  # collector to agent: what is durable (wire v2); only collectors write it


def telemetry_topic(point: str) -> str:
    return f"{PREFIX}/{point}/{TELEMETRY}"


def state_topic(point: str) -> str:
    return f"{PREFIX}/{point}/{STATE}"


def event_topic(point: str) -> str:
    return f"{PREFIX}/{point}/{EVENT}"


def receipt_topic(point: str) -> str:
    return f"{PREFIX}/{point}/{RECEIPT}"


def subscriptions(share_group: str | None = None) -> list[str]:
    """Topic filters the collector subscribes to; a share group spreads them over collectors."""
    filters = [f"{PREFIX}/+/{kind}" for kind in (TELEMETRY, STATE, EVENT)]
    if share_group:
        return [f"$share/{share_group}/{f}" for f in filters]
    return filters


def parse_topic(topic: str) -> tuple[str, str] | None:
    """Return (point, kind) for a v1 topic, or None when the topic is not ours."""
    match = _TOPIC.match(topic)
    if match is None:
        return None
    return match.group(1), match.group(2)


def is_point_id(value: str) -> bool:
    return bool(_POINT_ID.match(value))


def point_id_problem(value: str) -> str | None:
    """What is wrong with `value` as a point id, in words with an example; None for a good one.
    Where a near spelling is one (lowercase, '-' for the rest), it is offered."""
    if is_point_id(value):
        return None
    bad = sorted({c for c in value if not (c in "-" or c.isdigit() or "a" <= c <= "z")})
    if not value:
        problem = "it is empty"
    elif len(value) > 64:
        problem = f"it has {len(value)} characters"
    elif bad:
        problem = f"it has {', '.join(repr(c) for c in bad)}"
    else:
        problem = "it begins or ends with '-'"
    guess = re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")
    offer = f"; did you mean {guess!r}?" if guess != value and is_point_id(guess) else ""
    return f"{value!r} is not a point id: {problem}; {POINT_ID_RULE}{offer}"


def describe_point_id_error(error: Mapping[str, Any]) -> str | None:
    """A validation error of a point id field (pydantic's error dict) in words, instead of the
    regular expression pydantic would print; None for any other error."""
    pattern = (error.get("ctx") or {}).get("pattern")
    if error.get("type") != "string_pattern_mismatch" or pattern != POINT_ID_PATTERN:
        return None
    return point_id_problem(str(error.get("input")))
