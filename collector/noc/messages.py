"""What a notice says to a person: a title and a short body, times in WIB. Pure."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pantau.collector.noc.alerts import Notice
from pantau.shared.registry import WIB

PREFIX = "[Pantau]"


@dataclass(frozen=True, slots=True)
class Message:
    title: str
    body: str
    kind: str  # apprise notify type: failure (an alert) or success (a recovery)


def render(notice: Notice) -> Message:
    alert = notice.alert
    since = wib(alert.since_ms)
    footer = f"alert: {alert.rule} {alert.subject}"
    if notice.kind == "firing":
        lines = [
            alert.detail,
            f"Since {since} ({duration(notice.at_ms - alert.since_ms)} ago).",
            footer + " · firing",
        ]
        return Message(f"{PREFIX} {alert.title}", _join(lines), "failure")
    assert notice.until_ms is not None
    lines = [
        f"Back at {wib(notice.until_ms)} after {duration(notice.until_ms - alert.since_ms)}"
        f" ({since} to {wib(notice.until_ms)}).",
        alert.detail if alert.rule == "kelurahan_down" else "",
        footer + " · resolved",
    ]
    return Message(f"{PREFIX} Recovered: {_recovered(alert.title)}", _join(lines), "success")


def _recovered(title: str) -> str:
    return title[0].lower() + title[1:] if title[:2] != title[:2].upper() else title


def wib(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, WIB).strftime("%Y-%m-%d %H:%M:%S WIB")


def duration(ms: int) -> str:
    """'45 s', '7 min 05 s', '2 h 03 min', '3 d 4 h'."""
    seconds = max(0, round(ms / 1000))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    if seconds < 86_400:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"{seconds // 86_400} d {seconds % 86_400 // 3600} h"


def _join(lines: list[str]) -> str:
    return "\n".join(line for line in lines if line)
