"""Settings of one polled RouterOS router."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, SecretStr

from pantau.shared.config import Section

if TYPE_CHECKING:
    from pantau.agent.clock import Clock
    from pantau.agent.sources.base import Source


class RouterOSSourceConfig(Section):
    kind: Literal["routeros"]
    host: str = Field(min_length=1, description="Router address")
    port: int | None = Field(default=None, ge=1, le=65535, description="8728, or 8729 with tls")
    username: str = Field(default="pantau", description="A read-only API user")
    password: SecretStr | None = Field(default=None, description="Prefer an environment variable")
    password_file: str | None = Field(default=None, description="File with the password, mode 600")
    wan_interface: str = Field(default="ether1", min_length=1)
    timeout_s: float = Field(default=5.0, gt=0, le=60, description="Per API call")

    def build(self, point: str, clock: Clock) -> Source:
        from pantau.agent.sources.routeros.source import RouterOSSource

        return RouterOSSource(point, self, clock)
