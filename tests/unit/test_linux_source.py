"""The Linux source on this host: what it reads from /proc and /sys agrees with psutil (a test
dependency only: the agent itself no longer imports it, agent/sources/linux_parse.py)."""

from __future__ import annotations

import time

import psutil

from pantau.agent.settings import Settings
from pantau.agent.sources.base import SourceIssue
from pantau.agent.sources.linux import LinuxSource, link_running


def source(interface: str) -> LinuxSource:
    clients = Settings({"kind": "none"})
    return LinuxSource(Settings({"wan_interface": interface, "clients": clients}))  # type: ignore[arg-type]


def test_link_state_agrees_with_psutil_for_every_interface() -> None:
    stats = psutil.net_if_stats()
    assert stats
    assert {name: link_running(name) for name in stats} == {
        name: s.isup for name, s in stats.items()
    }
    assert link_running("nosuch0") is None


def test_a_reading_of_loopback() -> None:
    reading = source("lo").read()
    assert reading.device_up is True
    assert reading.issues == ()
    assert reading.link_up is True
    assert reading.counters.rx_bytes is not None and reading.counters.rx_bytes > 0
    assert reading.cpu_pct is not None and 0.0 <= reading.cpu_pct <= 100.0
    assert reading.mem_used_pct is not None and 0.0 < reading.mem_used_pct < 100.0
    assert reading.uptime_s is not None
    assert abs(reading.uptime_s - (time.time() - psutil.boot_time())) < 5.0
    assert reading.facts["kernel"]


def test_an_interface_the_host_lacks_is_an_issue() -> None:
    reading = source("nosuch0").read()
    assert reading.device_up is True
    assert reading.link_up is None
    assert reading.counters.rx_bytes is None
    assert reading.issues == (SourceIssue("wan", "interface 'nosuch0' not found"),)
