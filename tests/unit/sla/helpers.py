"""Build hand-checkable inputs: a registry, and rollups from minute letters at WIB times."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pantau.collector.sla.hourly import HourRollup
from pantau.collector.sla.month import CONTEXT_MS
from pantau.collector.sla.periods import HOUR_MS, MINUTE_MS, WIB, Period, to_ms
from pantau.shared.registry import Registry, parse_registry


def wib(*parts: int) -> int:
    """Epoch ms of a WIB wall-clock time."""
    return to_ms(dt.datetime(*parts, tzinfo=WIB))


def registry(points: list[dict[str, Any]] | None = None, **terms: Any) -> Registry:
    """One Awinet contract with these terms. Without speed or coverage terms in the call, the
    contract has no speed schedule and no coverage minimum: the rollups these tests build carry
    minute states, not sample counts, and most have no capacity tests."""
    terms = {"speed": None, "min_coverage_pct": 0} | terms
    base = {"id": "citangkil-01", "kelurahan": "Citangkil", "kecamatan": "Citangkil"}
    rows = [base | {"provider": "Awinet"} | p for p in (points or [{}])]
    return parse_registry(
        {"contracts": [{"provider": "Awinet", "terms": terms}], "points": rows}, "test"
    )


def rollups(
    period: Period, spans: list[tuple[int, int, str]], fill: str = "U"
) -> dict[int, HourRollup]:
    """Rows over the period ± context, every minute `fill` except the (start_ms, minutes,
    letter) spans."""
    start, end = period.start_ms - CONTEXT_MS, period.end_ms + CONTEXT_MS
    letters = bytearray(fill * ((end - start) // MINUTE_MS), "ascii")
    for span_start, minutes, letter in spans:
        i = (span_start - start) // MINUTE_MS
        letters[i : i + minutes] = letter.encode() * minutes
    rows = {}
    for hour in range(start, end, HOUR_MS):
        i = (hour - start) // MINUTE_MS
        rows[hour] = HourRollup(hour_ms=hour, states=letters[i : i + 60].decode())
    return rows
