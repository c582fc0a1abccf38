from __future__ import annotations

import json
from pathlib import Path

from pantau.agent.sources.linux_parse import count_dnsmasq_leases, count_reachable_neighbours

DATA = Path(__file__).parent.parent / "testdata" / "linux"


def test_dnsmasq_counts_bound_unexpired_leases() -> None:
    text = (DATA / "dnsmasq.leases").read_text()
    # two future expiries, one infinite (0), one IPv6 lease; the expired one and the duid line don't count
    assert count_dnsmasq_leases(text, now_s=1_700_000_000) == 4
    assert count_dnsmasq_leases(text, now_s=1_900_000_000) == 1  # only the infinite lease is left
    assert count_dnsmasq_leases("", now_s=0) == 0


def test_neighbours_counts_reachable_entries() -> None:
    entries = json.loads((DATA / "ip-neigh.json").read_text())
    assert count_reachable_neighbours(entries) == 3  # REACHABLE, DELAY, PROBE with a MAC
