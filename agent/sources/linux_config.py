"""Settings of the Linux host source (agent/sources/linux.py), validated once at start-up."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from pantau.shared.config import Section

if TYPE_CHECKING:
    from pantau.agent.sources.base import Source
    from pantau.agent.sources.clock import Clock


class ClientsConfig(Section):
    kind: Literal["none", "dnsmasq_leases", "neighbours"] = Field(
        default="none", description="Where client counts come from"
    )
    path: str = Field(default="/var/lib/misc/dnsmasq.leases", description="dnsmasq leases file")
    interface: str | None = Field(default=None, description="LAN interface for 'neighbours'")


class LinuxSourceConfig(Section):
    kind: Literal["linux"]
    wan_interface: str = Field(min_length=1, description="Interface facing the provider")
    clients: ClientsConfig = Field(default_factory=ClientsConfig)

    def build(self, point: str, clock: Clock) -> Source:
        from pantau.agent.sources.linux import LinuxSource

        return LinuxSource(self)
