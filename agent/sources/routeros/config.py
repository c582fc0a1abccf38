"""Settings of one polled RouterOS router, validated once at start-up."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from pantau.agent.sources.routeros import settings, text
from pantau.shared.config import Section
from pantau.shared.secretfiles import SecretValue

if TYPE_CHECKING:
    from pantau.agent.sources.base import Source
    from pantau.agent.sources.clock import Clock

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class RouterOSTlsConfig(Section):
    """api-ssl (port 8729). Verify against a CA, pin the router's certificate, or (documented,
    for self-signed router certificates only) accept any certificate."""

    verify: Literal["ca", "fingerprint", "insecure"] = Field(
        default="ca",
        description="ca: chain and name checked; fingerprint: pinned SHA-256; insecure: none",
    )
    ca_file: str | None = Field(
        default=None, description="PEM CA bundle for verify=ca (system CAs when empty)"
    )
    fingerprint_sha256: str | None = Field(
        default=None, description="SHA-256 of the router certificate, hex, colons allowed"
    )
    server_name: str | None = Field(
        default=None, description="Name the certificate must carry, when it is not the host"
    )

    @field_validator("fingerprint_sha256")
    @classmethod
    def _normalise_fingerprint(cls, value: str | None) -> str | None:
        if value is None:
            return None
        cleaned = value.replace(":", "").replace(" ", "").lower()
        if not _HEX64.match(cleaned):
            raise ValueError("fingerprint_sha256 must be 64 hex digits (colons allowed)")
        return cleaned

    @model_validator(mode="after")
    def _fingerprint_for_pinning(self) -> RouterOSTlsConfig:
        if self.verify == "fingerprint" and self.fingerprint_sha256 is None:
            raise ValueError("verify: fingerprint needs fingerprint_sha256")
        return self


class RouterOSSourceConfig(Section):
    kind: Literal["routeros"]
    host: str = Field(min_length=1, description="Router address")
    port: int | None = Field(default=None, ge=1, le=65535, description="8728, or 8729 with tls")
    username: str = Field(default="pantau", min_length=1, description="A read-only API user")
    password: SecretStr | None = Field(default=None, description="Prefer password_env or _file")
    password_file: str | None = Field(default=None, description="File with the password, mode 600")
    password_env: str | None = Field(
        default=None, description="Name of an environment variable holding the password"
    )
    login: Literal["plain", "challenge"] = Field(
        default="plain", description="plain for RouterOS 6.43 and later; challenge before"
    )
    tls: RouterOSTlsConfig | None = Field(default=None, description="Use api-ssl")
    wan_interface: str = Field(
        default="ether1", min_length=1, description="The router's port facing the provider"
    )
    legacy_encoding: str = Field(
        default=text.DEFAULT_LEGACY,
        description="Code page of router text that is not UTF-8 (names set from an old Winbox)",
    )
    wireless: Literal["auto", "none", "wireless", "wifiwave2", "wifi"] = Field(
        default="auto",
        description="Wireless stack for associated stations; auto detects it per connection",
    )
    ping_targets: list[str] = Field(
        default_factory=list,
        max_length=4,
        description="Addresses the router pings to judge its WAN (IP addresses are best)",
    )
    ping_count: int = Field(default=3, ge=1, le=20, description="Probes per target per poll")
    ping_interval_s: float = Field(
        default=0.2, ge=0.01, le=5.0, description="Gap between probes (RouterOS ping interval)"
    )
    timeout_s: float = Field(
        default=5.0, gt=0, le=60, description="Budget for one whole poll, connecting included"
    )
    reconnect_min_s: float = Field(default=1.0, gt=0, le=600)
    reconnect_max_s: float = Field(default=60.0, gt=0, le=3600)

    @field_validator("legacy_encoding")
    @classmethod
    def _known_code_page(cls, value: str) -> str:
        return text.legacy_codec(value)

    @model_validator(mode="after")
    def _pings_fit_the_budget(self) -> RouterOSSourceConfig:
        ping_s = self.ping_count * self.ping_interval_s  # targets are pinged side by side
        if self.ping_targets and ping_s > 0.6 * self.timeout_s:
            raise ValueError(
                f"{self.ping_count} probes every {self.ping_interval_s}s take {ping_s:.1f}s,"
                f" more than 60% of timeout_s ({self.timeout_s}s); lower ping_count or"
                " ping_interval_s"
            )
        sources = [self.password is not None, bool(self.password_file), bool(self.password_env)]
        if sum(sources) > 1:
            raise ValueError("give only one of password, password_file, password_env")
        return self

    @property
    def api_port(self) -> int:
        return settings.api_port(self)

    def secret(self) -> SecretValue:
        """The API password; an unset environment variable is a config error, not ''."""
        return settings.api_password(self)

    def build(self, point: str, clock: Clock) -> Source:
        from pantau.agent.sources.routeros.source import RouterOSSource

        return RouterOSSource(point, self, clock)
