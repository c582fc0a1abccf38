"""Ping bursts for loss and jitter. The per-sample probe stays light (a few probes); every few
minutes a burst of 20 or so pings measures loss and jitter properly, and the next sample
carries its rtt, loss and jitter (the sample's `wan_up` stays the light probe's verdict; see
`merge_burst` in agent/sources/reachability.py)."""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

from pantau.agent.probes import parse_ping_times
from pantau.agent.sources.base import Reachability
from pantau.agent.sources.reachability import reachability

if TYPE_CHECKING:
    from pantau.agent.capacity.config import BurstConfig
    from pantau.agent.capacity.routeros import RouterSession


def ping_args(cfg: BurstConfig) -> list[str]:
    return [
        "ping",
        "-n",
        "-c",
        str(cfg.count),
        "-i",
        f"{cfg.interval_s:g}",
        "-s",
        str(cfg.size_bytes),
        "-W",
        f"{cfg.timeout_s:g}",
        cfg.target,
    ]


def agent_burst(cfg: BurstConfig) -> Reachability:
    """The system ping from the agent host (intervals under 0.2 s need root)."""
    budget = cfg.count * cfg.interval_s + cfg.timeout_s + 5
    try:
        done = subprocess.run(ping_args(cfg), capture_output=True, text=True, timeout=budget)
    except (OSError, subprocess.SubprocessError):
        return Reachability()
    if done.returncode not in (0, 1):  # 1: some or all lost; anything else: ping failed
        return Reachability()
    return reachability([parse_ping_times(done.stdout)[: cfg.count]], cfg.count)


def router_burst(cfg: BurstConfig, session: RouterSession) -> Reachability:
    """The router pings, through its own API session."""
    # only a router's bursts read RouterOS replies: a Linux point's agent never loads the parser
    from pantau.agent.sources.routeros.parse import parse_ping, summarize_pings

    interval_ms = max(10, round(cfg.interval_s * 1000))

    def job(api):  # type: ignore[no-untyped-def]
        return list(
            api.rawCmd(
                "/ping",
                f"=address={cfg.target}",
                f"=count={cfg.count}",
                f"=interval={interval_ms}ms",
                f"=size={cfg.size_bytes + 28}",  # RouterOS counts the IP and ICMP headers
            )
        )

    rows = session.run(cfg.count * cfg.interval_s + cfg.timeout_s + 10, job)
    return summarize_pings([parse_ping(rows, cfg.target)])
