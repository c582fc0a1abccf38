"""WAN reachability from the agent host: TCP connect and the system `ping` (no root needed).

A package of its own, below the sampler and the capacity tests, which both probe: so neither
imports the other to reach it.
"""

from __future__ import annotations

import re
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass

from pantau.agent.sources.base import Reachability
from pantau.agent.sources.reachability import reachability

_PING_TIME = re.compile(r"time[=<]([\d.]+)\s*ms")


@dataclass(frozen=True)
class Target:
    kind: str  # "tcp" or "icmp"
    host: str
    port: int | None = None


def probe(targets: Sequence[Target], count: int, timeout_s: float) -> Reachability:
    """`count` probes to each target, judged by `reachability()` (agent/sources/reachability.py)."""
    if not targets:
        return Reachability()
    answers: list[list[float]] = []
    for target in targets:
        if target.kind == "tcp":
            rtts = (tcp_rtt_ms(target, timeout_s) for _ in range(count))
            answers.append([r for r in rtts if r is not None])
        else:
            answers.append(icmp_rtts_ms(target.host, count, timeout_s))
    return reachability(answers, count * len(targets))


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
