from __future__ import annotations

import json
from pathlib import Path

import pytest

from pantau.agent.sources.base import Counters
from pantau.agent.sources.linux_parse import (
    CpuTimes,
    boot_time,
    count_dnsmasq_leases,
    count_reachable_neighbours,
    cpu_percent,
    cpu_times,
    interface_counters,
    memory_used_pct,
)

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


def test_cpu_times_leave_out_guest_time_and_count_iowait_as_idle() -> None:
    times = cpu_times((DATA / "proc-stat").read_text())
    # user nice system idle iowait irq softirq steal (guest and guest_nice are inside user, nice)
    total = 3526754 + 26335 + 583760 + 2583403 + 55940 + 0 + 48491 + 81062
    assert times == CpuTimes(busy=total - 2583403 - 55940, total=total)


def test_cpu_percent_is_the_busy_share_between_two_readings() -> None:
    assert cpu_percent(CpuTimes(100, 400), CpuTimes(130, 500)) == 30.0
    assert cpu_percent(CpuTimes(100, 400), CpuTimes(100, 700)) == 0.0
    assert cpu_percent(CpuTimes(100, 400), CpuTimes(101, 403)) == 33.3
    assert cpu_percent(CpuTimes(100, 400), CpuTimes(100, 400)) == 0.0  # no tick between
    assert cpu_percent(CpuTimes(100, 400), CpuTimes(90, 410)) == 0.0  # never below 0


def test_boot_time_is_btime() -> None:
    assert boot_time((DATA / "proc-stat").read_text()) == 1796039149.0
    with pytest.raises(ValueError, match="btime"):
        boot_time("cpu  1 2 3 4\n")


def test_memory_used_is_what_is_not_available() -> None:
    text = (DATA / "proc-meminfo").read_text()
    assert memory_used_pct(text) == round((506024 - 303612) / 506024 * 100, 1) == 40.0
    before_3_14 = "\n".join(ln for ln in text.splitlines() if "MemAvailable" not in ln)
    free = 61220 + 20480 + 198944
    assert memory_used_pct(before_3_14) == round((506024 - free) / 506024 * 100, 1) == 44.5


def test_interface_counters_from_proc_net_dev() -> None:
    text = (DATA / "proc-net-dev").read_text()
    assert interface_counters(text, "eth0") == Counters(
        rx_bytes=1234567890123,
        tx_bytes=987654321098,
        rx_packets=98765432,
        tx_packets=7654321,
        rx_errors=17,
        tx_errors=2,
    )
    assert interface_counters(text, "wlan0") == Counters(554433, 665544, 2211, 3322, 0, 0)
    assert interface_counters(text, "eth1") is None
    assert interface_counters(text, "face") is None  # the header is not an interface
