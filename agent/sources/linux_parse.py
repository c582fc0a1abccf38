"""Pure parsers for the Linux host's /proc files and client tables, tested with captured files.

The agent reads /proc itself rather than through psutil: the few numbers a sample needs are a
line or two of text each, and psutil's modules and extension cost a running agent about 0.8 MB.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pantau.agent.sources.base import Counters

REACHABLE_STATES = frozenset({"REACHABLE", "DELAY", "PROBE"})


def count_dnsmasq_leases(text: str, now_s: float) -> int:
    """Bound, unexpired leases: `<expiry> <mac> <ip> <name> <client-id>`, expiry 0 = infinite."""
    count = 0
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 3 or not fields[0].isdigit():
            continue
        expiry = int(fields[0])
        if expiry == 0 or expiry > now_s:
            count += 1
    return count


def count_reachable_neighbours(entries: Iterable[Mapping[str, Any]]) -> int:
    """Entries of `ip -j neigh` that are currently answering (not STALE, FAILED or INCOMPLETE)."""
    count = 0
    for entry in entries:
        states = entry.get("state") or []
        if entry.get("lladdr") and any(s in REACHABLE_STATES for s in states):
            count += 1
    return count


@dataclass(frozen=True)
class CpuTimes:
    """The host's CPU time so far (all CPUs, in clock ticks): busy and in all."""

    busy: float
    total: float


def cpu_times(stat_text: str) -> CpuTimes:
    """The aggregate `cpu` line of /proc/stat: user nice system idle iowait irq softirq steal
    guest guest_nice. Guest time is already inside user and nice, so it is not counted twice;
    idle and iowait are not busy (as psutil and htop count them)."""
    for line in stat_text.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            values = [float(v) for v in fields[1:9]]  # up to steal; guest is inside user
            values += [0.0] * (8 - len(values))
            idle, iowait = values[3], values[4]
            total = sum(values)
            return CpuTimes(busy=total - idle - iowait, total=total)
    raise ValueError("no cpu line in /proc/stat")


def cpu_percent(before: CpuTimes, after: CpuTimes) -> float:
    """Busy share of the CPU time between two readings, in percent (0.1 steps)."""
    total = after.total - before.total
    if total <= 0:
        return 0.0
    busy = max(0.0, after.busy - before.busy)
    return round(min(100.0, busy / total * 100), 1)


def boot_time(stat_text: str) -> float:
    """When the host booted (`btime` of /proc/stat, seconds since the epoch)."""
    for line in stat_text.splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise ValueError("no btime line in /proc/stat")


def memory_used_pct(meminfo_text: str) -> float:
    """Memory in use, in percent: what is not available (MemAvailable, else free, buffers and
    page cache on kernels before 3.14) of MemTotal, as `free` and psutil count it."""
    kb: dict[str, int] = {}
    for line in meminfo_text.splitlines():
        name, _, rest = line.partition(":")
        value = rest.split()
        if value and value[0].isdigit():
            kb[name] = int(value[0])
    total = kb["MemTotal"]
    available = kb.get("MemAvailable")
    if available is None:
        available = kb.get("MemFree", 0) + kb.get("Buffers", 0) + kb.get("Cached", 0)
    return round((total - available) / total * 100, 1) if total else 0.0


def interface_counters(net_dev_text: str, name: str) -> Counters | None:
    """One interface's counters from /proc/net/dev; None if it is not listed. Each line is
    `name: rx bytes packets errs drop fifo frame compressed multicast, tx bytes packets errs`."""
    for line in net_dev_text.splitlines()[2:]:
        label, sep, rest = line.partition(":")
        if not sep or label.strip() != name:
            continue
        fields = [int(v) for v in rest.split()]
        return Counters(
            rx_bytes=fields[0],
            rx_packets=fields[1],
            rx_errors=fields[2],
            tx_bytes=fields[8],
            tx_packets=fields[9],
            tx_errors=fields[10],
        )
    return None
