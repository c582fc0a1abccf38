"""Network namespaces with a veth pair, made and removed by the tests (needs root).

The agent runs inside the namespace; the broker listens on the host end of the pair. Cutting
the link is `ip link set <host end> down`: a real cut, not a stopped process.
"""

from __future__ import annotations

import os
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
        tag = secrets.token_hex(3)
        ns = cls(
            f"pantau-{tag}", f"pv{tag}h", f"pv{tag}n", f"10.199.{subnet}.1", f"10.199.{subnet}.2"
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
