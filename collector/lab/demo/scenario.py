"""What happens in the demo's Cilegon month: pure and seeded, so every run tells the same story.

Every point has a day curve of users; some have provider outages; a few are dead for days; the
points of one kelurahan get a provider that delivers about 20 Mbps at peak, the dispute the
city actually has.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

WIB = dt.timezone(dt.timedelta(hours=7))
CONGESTED_KELURAHAN = "Ciwaduk"


@dataclass(frozen=True)
class Window:
    start: dt.datetime
    end: dt.datetime

    def as_config(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


@dataclass
class PointScenario:
    point: str
    kelurahan: str
    peak_clients: int
    peak_link_mbps: float | None = None
    wan_down: list[Window] = field(default_factory=list)
    device_down: list[Window] = field(default_factory=list)

    def source(self) -> dict[str, Any]:
        source: dict[str, Any] = {
            "kind": "simulated",
            "link_mbps": 52.0,
            "peak_clients": self.peak_clients,
            "per_client_kbps": 900.0,
        }
        if self.peak_link_mbps is not None:
            source["peak_link_mbps"] = self.peak_link_mbps
        if self.wan_down:
            source["wan_down"] = [w.as_config() for w in self.wan_down]
        if self.device_down:
            source["device_down"] = [w.as_config() for w in self.device_down]
        return source


def month_bounds(month: str) -> tuple[dt.datetime, dt.datetime]:
    """A calendar month in WIB: [first day 00:00, next first day 00:00)."""
    year, mon = (int(part) for part in month.split("-"))
    start = dt.datetime(year, mon, 1, tzinfo=WIB)
    end = dt.datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=WIB)
    return start, end


def build(points: list[tuple[str, str]], month: str, seed: int = 2026) -> list[PointScenario]:
    """points: (id, kelurahan) pairs from the registry."""
    rng = random.Random(seed)
    start, end = month_bounds(month)
    span_h = (end - start).total_seconds() / 3600
    scenarios = [
        PointScenario(
            point=pid,
            kelurahan=kel,
            peak_clients=rng.randint(15, 60),
            peak_link_mbps=rng.uniform(17, 23) if kel == CONGESTED_KELURAHAN else None,
        )
        for pid, kel in points
    ]
    for scenario in rng.sample(scenarios, k=max(1, len(scenarios) * 15 // 100)):
        for _ in range(rng.randint(1, 4)):
            begin = start + dt.timedelta(hours=rng.uniform(0, span_h - 10))
            scenario.wan_down.append(
                Window(begin, begin + dt.timedelta(minutes=rng.choice([30, 60, 120, 240, 480])))
            )
    for scenario in rng.sample(scenarios, k=min(3, len(scenarios))):
        begin = start + dt.timedelta(days=rng.uniform(2, 20))
        scenario.wan_down.append(Window(begin, begin + dt.timedelta(days=rng.uniform(2, 5))))
    for scenario in rng.sample(scenarios, k=min(2, len(scenarios))):
        begin = start + dt.timedelta(days=rng.uniform(5, 22))
        scenario.device_down.append(Window(begin, begin + dt.timedelta(days=3)))
    for scenario in scenarios:
        scenario.wan_down.sort(key=lambda w: w.start)
    return scenarios


def capacity_plan(
    point: str, start: dt.datetime, end: dt.datetime, per_day: int = 3, seed: int = 2026
) -> list[float]:
    """When this point runs its speed tests: a few random moments a day plus one in the peak
    window (20:00-22:00 WIB), as the agent's scheduler would."""
    rng = random.Random(f"{seed}:{point}:capacity")
    moments: list[float] = []
    day = start
    while day < end:
        for _ in range(per_day):
            moments.append((day + dt.timedelta(hours=rng.uniform(0, 24))).timestamp())
        moments.append((day + dt.timedelta(hours=20 + rng.uniform(0, 2))).timestamp())
        day += dt.timedelta(days=1)
    return sorted(m for m in moments if m < end.timestamp())
