"""What one capacity test found, and the event data it is published as."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Measurement:
    """One test, both directions. A direction that was not measured (or failed) stays None.

    `bytes` counts everything the test moved, slow start included: it is what the daily budget
    is charged with."""

    method: str
    server: str
    streams: int
    duration_s: float
    down_mbps: float | None = None
    up_mbps: float | None = None
    rtt_ms: float | None = None  # idle round trip to the server, before the test
    down_bytes: int = 0
    up_bytes: int = 0
    extra: dict[str, float | int | str | bool | None] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    # what the test server said of itself (the highest seen), when the method asks it
    server_tests: int | None = None  # tests it ran at once, this one included
    server_cap: int | None = None  # tests it runs at once at most
    server_cpu_pct: float | None = None  # its host's CPU busy over a second
    server_busy: bool = False  # it refused a stream: every test slot was taken (503)
    retry_after_s: float | None = None  # when it asked to come back

    def note_load(self, active: int, cap: int, cpu_pct: float) -> None:
        self.server_tests = max(self.server_tests or 0, active)
        self.server_cap = cap
        self.server_cpu_pct = max(self.server_cpu_pct or 0.0, cpu_pct)

    @property
    def refused(self) -> bool:
        """The server refused the test before any direction was measured: no test took place."""
        return self.server_busy and not self.ok

    @property
    def bytes(self) -> int:
        return self.down_bytes + self.up_bytes

    @property
    def ok(self) -> bool:
        return self.down_mbps is not None or self.up_mbps is not None

    def data(self, user_traffic_bps: float | None, in_peak: bool, trigger: str) -> dict[str, Any]:
        """The event's data: the fields the collector stores in `capacity`."""
        out: dict[str, Any] = {
            "down_mbps": _round(self.down_mbps),
            "up_mbps": _round(self.up_mbps),
            "rtt_ms": _round(self.rtt_ms),
            "streams": self.streams,
            "duration_s": self.duration_s,
            "bytes": self.bytes,
            "down_bytes": self.down_bytes,
            "up_bytes": self.up_bytes,
            "method": self.method,
            "server": self.server,
            "user_traffic_bps": _round(user_traffic_bps, 0),
            "in_peak": in_peak,
            "trigger": trigger,
        }
        if self.server_tests is not None:
            out["server_tests"] = self.server_tests
            out["server_cap"] = self.server_cap
            out["server_cpu_pct"] = _round(self.server_cpu_pct, 1)
        if self.server_busy:
            out["server_busy"] = True
        out |= self.extra
        if self.errors:
            out["error"] = "; ".join(self.errors)[:200]
        return out

    def summary(self) -> str:
        down = "-" if self.down_mbps is None else f"{self.down_mbps:.2f}"
        up = "-" if self.up_mbps is None else f"{self.up_mbps:.2f}"
        rtt = "-" if self.rtt_ms is None else f"{self.rtt_ms:.1f} ms"
        return (
            f"{self.method} to {self.server}: down {down} Mbps, up {up} Mbps, rtt {rtt},"
            f" {self.streams} stream(s) x {self.duration_s:g}s, {self.bytes / 1e6:.1f} MB moved"
        )


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(float(value), digits)
