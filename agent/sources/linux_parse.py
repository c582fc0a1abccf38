"""Pure parsers for the Linux host's client tables, tested with captured files."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

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
