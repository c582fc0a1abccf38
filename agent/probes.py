"""WAN reachability from the agent host: TCP connect and the system `ping` (no root needed)."""

from __future__ import annotations

import itertools
import re
import socket
import statistics
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass

from pantau.agent.sources.base import Reachability

_PING_TIME = re.compile(r"time[=<]([\d.]+)\s*ms")


@dataclass(frozen=True)
class Target:
    kind: str  # "tcp" or "icmp"
    host: str
    port: int | None = None


def probe(targets: Sequence[Target], count: int, timeout_s: float) -> Reachability:
    """Up when any target answered; rtt is the median answer, loss the share of probes lost."""
    if not targets:
        return Reachability()
    rtts: list[float] = []
    sent = 0
    for target in targets:
        sent += count
        if target.kind == "tcp":
            rtts += [r for r in (tcp_rtt_ms(target, timeout_s) for _ in range(count)) if r]
        else:
            rtts += icmp_rtts_ms(target.host, count, timeout_s)
    return summarise(rtts, sent)


def summarise(rtts_ms: Sequence[float], sent: int) -> Reachability:
    """Pure: answered round trips and probes sent → wan_up, median rtt, loss, jitter."""
    if sent <= 0:
        return Reachability()
    answered = len(rtts_ms)
    loss = round(100.0 * (sent - answered) / sent, 2)
    if not answered:
        return Reachability(wan_up=False, rtt_ms=None, loss_pct=loss)
    jitter = None
    if answered > 1:
        jitter = round(statistics.fmean(abs(a - b) for a, b in itertools.pairwise(rtts_ms)), 3)
    return Reachability(
        wan_up=True, rtt_ms=round(statistics.median(rtts_ms), 3), loss_pct=loss, jitter_ms=jitter
    )


def tcp_rtt_ms(target: Target, timeout_s: float) -> float | None:
    """Time to complete a TCP handshake; a refusal also proves the path works."""
    started = time.perf_counter()
    try:
        with socket.create_connection((target.host, target.port or 443), timeout=timeout_s):
            pass
    except ConnectionRefusedError:
        pass
    except OSError:
        return None
    return (time.perf_counter() - started) * 1000


def icmp_rtts_ms(host: str, count: int, timeout_s: float) -> list[float]:
    args = ["ping", "-n", "-c", str(count), "-W", str(max(1, round(timeout_s)))]
    args += ["-i", "0.2", host]
    try:
        out = subprocess.run(
            args, capture_output=True, text=True, timeout=count * (timeout_s + 0.5) + 2
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return parse_ping_times(out.stdout)


def parse_ping_times(output: str) -> list[float]:
    return [float(m.group(1)) for m in _PING_TIME.finditer(output)]
