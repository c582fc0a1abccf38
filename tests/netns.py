"""Network namespaces with a veth pair, made and removed by the tests (needs root).

The agent runs inside the namespace; the broker listens on the host end of the pair. Cutting
the link is `ip link set <host end> down`: a real cut, not a stopped process.
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
import shutil
import subprocess
from dataclasses import dataclass

import pytest


def available() -> bool:
    return os.geteuid() == 0 and shutil.which("ip") is not None


needs_netns = pytest.mark.skipif(
    not available(), reason="network namespaces need root and iproute2"
)


LOCK = "/tmp/pantau-netns.lock"


def _free_subnet(preferred: int) -> int:
    """The preferred third octet if no host interface uses it, else the next free one."""
    shown = subprocess.run(
        ["ip", "-o", "-4", "addr", "show"], check=True, capture_output=True, text=True, timeout=10
    ).stdout
    used = {int(m) for m in re.findall(r"inet 10\.199\.(\d+)\.", shown)}
    for offset in range(254):
        candidate = (preferred - 1 + offset) % 254 + 1
        if candidate not in used:
            return candidate
    raise RuntimeError("no free 10.199.x.0/30 subnet for a test namespace")


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@dataclass
class Netns:
    name: str
    host_if: str
    ns_if: str
    host_ip: str
    ns_ip: str

    @classmethod
    def create(cls, subnet: int) -> Netns:
        """A namespace on 10.199.<subnet>.0/30, or on the next free /30 when another test run
        on this machine holds that one (two suites side by side must not share an address)."""
        tag = secrets.token_hex(3)
        with open(LOCK, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # choose and claim the subnet as one step
            subnet = _free_subnet(subnet)
            ns = cls(
                f"pantau-{tag}",
                f"pv{tag}h",
                f"pv{tag}n",
                f"10.199.{subnet}.1",
                f"10.199.{subnet}.2",
            )
            ip("netns", "add", ns.name)
            ip("link", "add", ns.host_if, "type", "veth", "peer", "name", ns.ns_if)
            ip("link", "set", ns.ns_if, "netns", ns.name)
            ip("addr", "add", f"{ns.host_ip}/30", "dev", ns.host_if)
        ip("link", "set", ns.host_if, "up")
        ip("netns", "exec", ns.name, "ip", "addr", "add", f"{ns.ns_ip}/30", "dev", ns.ns_if)
        ip("netns", "exec", ns.name, "ip", "link", "set", ns.ns_if, "up")
        ip("netns", "exec", ns.name, "ip", "link", "set", "lo", "up")
        return ns

    def prefix(self) -> list[str]:
        """Run a command inside the namespace."""
        return ["ip", "netns", "exec", self.name]

    def cut(self) -> None:
        ip("link", "set", self.host_if, "down")

    def restore(self) -> None:
        ip("link", "set", self.host_if, "up")

    def remove(self) -> None:
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True, timeout=10)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=10)
