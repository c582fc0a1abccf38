"""What people read: titles, bodies, durations, WIB times."""

from __future__ import annotations

import pytest

from pantau.collector.noc.alerts import Alert, Notice
from pantau.collector.noc.messages import duration, render

T0 = 1_795_500_000_000  # 2026-11-24 06:00:00 UTC = 13:00:00 WIB


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "0 s"),
        (44_600, "45 s"),
        (60_000, "1 min 00 s"),
        (425_000, "7 min 05 s"),
        (7_380_000, "2 h 03 min"),
        (3 * 86_400_000 + 4 * 3_600_000, "3 d 4 h"),
    ],
)
def test_duration(ms: int, text: str) -> None:
    assert duration(ms) == text


def test_firing_and_resolved_messages() -> None:
    alert = Alert(
        "provider_down",
        "cit-03",
        T0,
        "Provider down: cit-03 (Citangkil)",
        "Point cit-03, kelurahan Citangkil (Citangkil), provider Awinet.",
        "Citangkil",
        "cit-03",
        fired_ms=T0 + 300_000,
    )
    firing = render(Notice("firing", alert, T0 + 300_000))
    assert firing.title == "[Pantau] Provider down: cit-03 (Citangkil)"
    assert firing.kind == "failure"
    assert firing.body.splitlines() == [
        "Point cit-03, kelurahan Citangkil (Citangkil), provider Awinet.",
        "Since 2026-11-24 13:00:00 WIB (5 min 00 s ago).",
        "alert: provider_down cit-03 · firing",
    ]
    resolved = render(Notice("resolved", alert, T0 + 1_500_000, until_ms=T0 + 1_380_000))
    assert resolved.title == "[Pantau] Recovered: provider down: cit-03 (Citangkil)"
    assert resolved.kind == "success"
    assert resolved.body.splitlines() == [
        "Back at 2026-11-24 13:23:00 WIB after 23 min 00 s"
        " (2026-11-24 13:00:00 WIB to 2026-11-24 13:23:00 WIB).",
        "alert: provider_down cit-03 · resolved",
    ]
