"""The Linux host the agent runs on (an SBC that is itself the hotspot), read from /proc and
/sys (agent/sources/linux_parse.py: why not psutil)."""

from __future__ import annotations

import ctypes
import fcntl
import functools
import glob
import json
import socket
import struct
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

from pantau.agent.sources.base import Counters, Reading, SourceIssue
from pantau.agent.sources.linux_parse import (
    boot_time,
    count_dnsmasq_leases,
    count_reachable_neighbours,
    cpu_percent,
    cpu_times,
    interface_counters,
    memory_used_pct,
)

if TYPE_CHECKING:
    from pantau.agent.sources.linux_config import LinuxSourceConfig

TIME_ERROR = 5  # adjtimex(2): the clock is not synchronised
SIOCGIFFLAGS = 0x8913  # netdevice(7): an interface's flags
IFF_RUNNING = 0x40  # up, and its link works (what `ip link` shows as LOWER_UP/RUNNING)


class LinuxSource:
    kind = "linux"

    def __init__(self, config: LinuxSourceConfig) -> None:
        self.config = config
        self._cpu = cpu_times(_read("/proc/stat"))  # the first sample's CPU share starts here

    def read(self) -> Reading:
        issues: list[SourceIssue] = []
        at_s = time.monotonic()
        counters, link_up = self._wan(issues)
        clients = self._clients(issues)
        stat = _read("/proc/stat")
        cpu, self._cpu = self._cpu, cpu_times(stat)
        return Reading(
            device_up=True,
            at_s=at_s,
            uptime_s=max(0.0, time.time() - boot_time(stat)),
            counters=counters,
            link_up=link_up,
            clients_dhcp=clients if self.config.clients.kind == "dnsmasq_leases" else None,
            clients_assoc=clients if self.config.clients.kind == "neighbours" else None,
            cpu_pct=cpu_percent(cpu, self._cpu),
            mem_used_pct=memory_used_pct(_read("/proc/meminfo")),
            temp_c=_temperature(),
            clock_synced=clock_synced(),
            facts={"kernel": Path("/proc/sys/kernel/osrelease").read_text().strip()},
            issues=tuple(issues),
        )

    def close(self) -> None:
        return None

    def _wan(self, issues: list[SourceIssue]) -> tuple[Counters, bool | None]:
        name = self.config.wan_interface
        counters = interface_counters(_read("/proc/net/dev"), name)
        if counters is None:
            issues.append(SourceIssue("wan", f"interface {name!r} not found"))
            return Counters(), None
        return counters, link_running(name)

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


def _read(path: str) -> str:
    with open(path, encoding="ascii", errors="replace") as file:
        return file.read()


def link_running(name: str) -> bool | None:
    """Whether the interface is up with a working link (its flags, SIOCGIFFLAGS); None if the
    kernel does not know it."""
    request = struct.pack("16sH22x", name.encode()[:15], 0)  # struct ifreq: 40 bytes
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            answer = fcntl.ioctl(sock.fileno(), SIOCGIFFLAGS, request)
    except OSError:
        return None
    (flags,) = struct.unpack_from("H", answer, 16)
    return bool(flags & IFF_RUNNING)


def _temperature() -> float | None:
    """The hottest sensor: hwmon's temperature inputs, else the thermal zones (millidegrees)."""
    paths = glob.glob("/sys/class/hwmon/hwmon*/temp*_input")
    paths += glob.glob("/sys/class/hwmon/hwmon*/device/temp*_input")
    if not paths:
        paths = glob.glob("/sys/class/thermal/thermal_zone*/temp")
    values: list[float] = []
    for path in paths:
        try:
            values.append(float(_read(path)) / 1000.0)
        except (OSError, ValueError):
            continue  # a sensor that cannot be read now (asleep, gone)
    return max(values) if values else None


class _Timex(ctypes.Structure):
    _fields_ = [("modes", ctypes.c_uint), ("_rest", ctypes.c_byte * 252)]


@functools.cache
def _libc() -> ctypes.CDLL:
    """The C library this process runs on, looked up once (never through ldconfig)."""
    return ctypes.CDLL(None, use_errno=True)


def clock_synced() -> bool | None:
    """Ask the kernel (adjtimex, read-only) whether NTP keeps the clock synchronised."""
    try:
        state = _libc().adjtimex(ctypes.byref(_Timex()))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return state != TIME_ERROR
