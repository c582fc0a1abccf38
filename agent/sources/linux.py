"""The Linux host the agent runs on (an SBC that is itself the hotspot), read with psutil."""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

from pantau.agent.sources.base import Counters, Reading, SourceIssue
from pantau.agent.sources.linux_parse import count_dnsmasq_leases, count_reachable_neighbours

if TYPE_CHECKING:
    from pantau.agent.sources.linux_config import LinuxSourceConfig

TIME_ERROR = 5  # adjtimex(2): the clock is not synchronised


class LinuxSource:
    kind = "linux"

    def __init__(self, config: LinuxSourceConfig) -> None:
        self.config = config
        psutil.cpu_percent(interval=None)  # prime: the first call has nothing to compare with

    def read(self) -> Reading:
        issues: list[SourceIssue] = []
        at_s = time.monotonic()
        counters, link_up = self._wan(issues)
        clients = self._clients(issues)
        memory = psutil.virtual_memory()
        return Reading(
            device_up=True,
            at_s=at_s,
            uptime_s=max(0.0, time.time() - psutil.boot_time()),
            counters=counters,
            link_up=link_up,
            clients_dhcp=clients if self.config.clients.kind == "dnsmasq_leases" else None,
            clients_assoc=clients if self.config.clients.kind == "neighbours" else None,
            cpu_pct=psutil.cpu_percent(interval=None),
            mem_used_pct=memory.percent,
            temp_c=_temperature(),
            clock_synced=clock_synced(),
            facts={"kernel": Path("/proc/sys/kernel/osrelease").read_text().strip()},
            issues=tuple(issues),
        )

    def close(self) -> None:
        return None

    def _wan(self, issues: list[SourceIssue]) -> tuple[Counters, bool | None]:
        name = self.config.wan_interface
        stats = psutil.net_io_counters(pernic=True).get(name)
        if stats is None:
            issues.append(SourceIssue("wan", f"interface {name!r} not found"))
            return Counters(), None
        counters = Counters(
            rx_bytes=stats.bytes_recv,
            tx_bytes=stats.bytes_sent,
            rx_packets=stats.packets_recv,
            tx_packets=stats.packets_sent,
            rx_errors=stats.errin,
            tx_errors=stats.errout,
        )
        link = psutil.net_if_stats().get(name)
        return counters, (link.isup if link is not None else None)

    def _clients(self, issues: list[SourceIssue]) -> int | None:
        cfg = self.config.clients
        try:
            if cfg.kind == "dnsmasq_leases":
                text = Path(cfg.path).read_text(encoding="utf-8", errors="replace")
                return count_dnsmasq_leases(text, now_s=time.time())
            if cfg.kind == "neighbours":
                args = ["ip", "-j", "neigh", "show"]
                if cfg.interface:
                    args += ["dev", cfg.interface]
                out = subprocess.run(args, capture_output=True, text=True, timeout=5, check=True)
                return count_reachable_neighbours(json.loads(out.stdout or "[]"))
        except (OSError, subprocess.SubprocessError, json.JSONDecodeError) as exc:
            issues.append(SourceIssue(f"clients/{cfg.kind}", str(exc)))
        return None


def _temperature() -> float | None:
    read = getattr(psutil, "sensors_temperatures", None)
    if read is None:
        return None
    try:
        sensors = read()
    except OSError:
        return None
    values = [t.current for entries in sensors.values() for t in entries if t.current is not None]
    return max(values) if values else None


class _Timex(ctypes.Structure):
    _fields_ = [("modes", ctypes.c_uint), ("_rest", ctypes.c_byte * 252)]


def clock_synced() -> bool | None:
    """Ask the kernel (adjtimex, read-only) whether NTP keeps the clock synchronised."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        state = libc.adjtimex(ctypes.byref(_Timex()))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return state != TIME_ERROR
