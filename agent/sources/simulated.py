"""A simulated point: a hotspot with a daily curve of users, scripted outages and reboots.

It feeds the real agent pipeline (spool, MQTT, collector) in demos and tests, with values that are
known in advance, so what lands in InfluxDB can be checked exactly.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from typing import TYPE_CHECKING

from pantau.agent.sources.base import Counters, Reachability, Reading

if TYPE_CHECKING:
    from pantau.agent.sources.clock import Clock
    from pantau.agent.sources.simulated_config import SimulatedSourceConfig, Window

WIB = dt.timezone(dt.timedelta(hours=7))


def within(window: Window, t_s: float) -> bool:
    """Whether a moment falls in one of the scripted windows (an outage, a device away)."""
    return window.start.timestamp() <= t_s < window.end.timestamp()


def day_curve(t_s: float) -> float:
    """Share of peak users at a moment: low before dawn, busy after school, peak 19-23 WIB."""
    local = dt.datetime.fromtimestamp(t_s, WIB)
    hour = local.hour + local.minute / 60
    evening = math.exp(-(((hour - 21.0) / 2.2) ** 2))
    afternoon = 0.55 * math.exp(-(((hour - 15.0) / 2.5) ** 2))
    return min(1.0, 0.05 + evening + afternoon)


def in_peak(t_s: float) -> bool:
    return 19 <= dt.datetime.fromtimestamp(t_s, WIB).hour < 23


class SimulatedSource:
    kind = "simulated"

    def __init__(self, point: str, config: SimulatedSourceConfig, clock: Clock) -> None:
        self.point = point
        self.config = config
        self.clock = clock
        self._rng = random.Random(f"{point}:{config.seed}")
        self._started_at = clock.now()
        self._boot_at = self._started_at - 86_400.0 - self._rng.uniform(0, 86_400 * 6)
        self._pending_reboots = sorted(self._started_at + s for s in config.reboot_after_s)
        self._rx = self._tx = 0.0
        self._last_t: float | None = None
        self._last_at: float | None = None

    def capacity_mbps(self, t_s: float) -> float:
        """What the link can deliver now: the speed an active test would measure."""
        if self.config.peak_link_mbps is not None and in_peak(t_s):
            return self.config.peak_link_mbps
        return self.config.link_mbps

    def wan_is_down(self, t_s: float) -> bool:
        return any(within(w, t_s) for w in self.config.wan_down)

    def read(self) -> Reading:
        cfg = self.config
        t = self.clock.now()
        at_s = self.clock.monotonic()
        if any(within(w, t) for w in cfg.device_down):
            self._last_t = self._last_at = None
            return Reading(device_up=False, at_s=at_s)
        while self._pending_reboots and self._pending_reboots[0] <= t:
            self._boot_at = self._pending_reboots.pop(0)
            self._rx = self._tx = 0.0
            self._last_t = self._boot_at
            self._last_at = None
        down = self.wan_is_down(t)
        clients = self._clients(t)
        rx_bps, tx_bps = self._rates(t, clients, down)
        if self._last_t is not None:
            # The agent divides by the monotonic delta, so integrate over the same clock.
            elapsed = (
                max(0.0, at_s - self._last_at) if self._last_at is not None else t - self._last_t
            )
            self._rx += rx_bps * elapsed / 8
            self._tx += tx_bps * elapsed / 8
        self._last_t = t
        self._last_at = at_s
        rx_bytes, tx_bytes = int(self._rx), int(self._tx)
        return Reading(
            device_up=True,
            at_s=at_s,
            uptime_s=round(t - self._boot_at, 3),
            counters=Counters(
                rx_bytes=rx_bytes,
                tx_bytes=tx_bytes,
                rx_packets=rx_bytes // 1200,
                tx_packets=tx_bytes // 400,
                rx_errors=0,
                tx_errors=0,
            ),
            link_up=True,
            reachability=Reachability(
                wan_up=not down,
                rtt_ms=None if down else cfg.rtt_ms,
                loss_pct=100.0 if down else cfg.loss_pct,
            ),
            clients_assoc=clients,
            clients_hotspot=clients,
            clients_dhcp=clients,
            cpu_pct=round(3 + 20 * day_curve(t), 1),
            mem_used_pct=41.0,
            clock_synced=True,
            facts={"model": "simulated", "version": "sim-1"},
        )

    def close(self) -> None:
        return None

    def _clients(self, t: float) -> int:
        if self.config.fixed_clients is not None:
            return self.config.fixed_clients
        return round(self.config.peak_clients * day_curve(t))

    def _rates(self, t: float, clients: int, down: bool) -> tuple[float, float]:
        cfg = self.config
        if cfg.fixed_rx_bps is not None or cfg.fixed_tx_bps is not None:
            return (cfg.fixed_rx_bps or 0.0, cfg.fixed_tx_bps or 0.0)
        if down:
            return (0.0, 0.0)
        demand = clients * cfg.per_client_kbps * 1000 * self._rng.uniform(0.7, 1.3)
        rx = min(demand, self.capacity_mbps(t) * 1e6 * 0.95)
        return (rx, rx * 0.18)
