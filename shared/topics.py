"""MQTT topic names of the v1 contract, in one place."""

from __future__ import annotations

import re

PREFIX = "pantau/v1"
POINT_ID_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
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
