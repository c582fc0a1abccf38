"""The `capacity` and `bursts` sections of a point: how to test, when, and at what cost.

Validated once at start-up, in the config check's child process (agent/settings.py); the running
agent reads the result as plain settings, through agent/capacity/settings.py, which is also
what these models' properties are. The defaults are what docs/capacity.md prices in data per
day.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from pantau.agent.capacity import settings
from pantau.shared.config import Section

Direction = Literal["down", "up"]
HTTP_BASE = r"^http://[^/\s]+(:\d+)?/?$"


class _Timed(Section):
    streams: int = Field(default=4, ge=1, le=32, description="Parallel TCP connections")
    duration_s: int = Field(default=10, ge=1, le=60, description="Measured seconds per direction")
    omit_s: int = Field(
        default=2, ge=0, le=10, description="Seconds of TCP slow start run first, not counted"
    )
    directions: list[Direction] = Field(
        default_factory=lambda: ["down", "up"], min_length=1, description="down, up or both"
    )

    @property
    def seconds_per_direction(self) -> int:
        return settings.seconds_per_direction(self)


class Iperf3Method(_Timed):
    """`iperf3 -J` against the NOC's test server (`pantau speedtest-server`)."""

    kind: Literal["iperf3"]
    host: str = Field(min_length=1, description="Test server address")
    ports: list[Annotated[int, Field(ge=1, le=65535)]] = Field(
        default_factory=lambda: [5201],
        min_length=1,
        description="iperf3 serves one test at a time: busy ports are skipped, in random order",
    )
    binary: str = Field(default="iperf3", description="The iperf3 program")
    load_url: str | None = Field(
        default=None,
        pattern=HTTP_BASE,
        description="The same server's HTTP endpoint, asked for its load after each direction",
    )


class HttpMethod(_Timed):
    """Parallel HTTP downloads from and uploads to the test server, for networks that block
    iperf3's port."""

    kind: Literal["http"]
    url: str = Field(pattern=HTTP_BASE, description="Base URL, e.g. http://speed.noc:8080")


class _RouterOSTest(Section):
    server: str = Field(min_length=1, description="Address of the btest server (a MikroTik)")
    user: str = Field(default="btest", min_length=1, description="btest server user")
    password: SecretStr | None = Field(default=None, description="Prefer password_env or _file")
    password_file: str | None = Field(default=None, description="File with it, mode 600")
    password_env: str | None = Field(default=None, description="Environment variable with it")
    streams: int = Field(default=4, ge=1, le=100, description="connection-count")

    def secret(self) -> str:
        return settings.btest_password(self)


class BandwidthTestMethod(_RouterOSTest, _Timed):
    """The router runs `/tool/bandwidth-test` (TCP, both directions at once) through the API."""

    kind: Literal["routeros_btest"]
    protocol: Literal["tcp", "udp"] = "tcp"


class SpeedTestMethod(_RouterOSTest):
    """RouterOS 7 `/tool/speed-test`: ping, jitter, then TCP and UDP down and up in turn."""

    kind: Literal["routeros_speedtest"]
    duration_s: int = Field(
        default=10, ge=1, le=60, description="test-duration of each of its four phases"
    )


MethodConfig = Annotated[
    Iperf3Method | HttpMethod | BandwidthTestMethod | SpeedTestMethod,
    Field(discriminator="kind"),
]


class ScheduleConfig(Section):
    """Random times (so tests sample the whole day fairly) plus forced tests in the peak."""

    mean_interval_h: float = Field(
        default=6.0, gt=0, le=168, description="Mean gap between random tests (exponential)"
    )
    min_interval_h: float = Field(default=1.0, ge=0, description="Shortest gap")
    max_interval_h: float = Field(default=12.0, gt=0, description="Longest gap")
    first_after_s: float | None = Field(
        default=None,
        ge=0,
        description="First test this long after start (default: a random gap like any other)",
    )
    timezone: str = Field(default="Asia/Jakarta", description="For days and the peak window")
    peak_start: dt.time = Field(default=dt.time(19, 0), description="Peak window start (local)")
    peak_end: dt.time = Field(default=dt.time(23, 0), description="Peak window end (local)")
    peak_tests_per_day: int = Field(
        default=1, ge=0, le=12, description="Tests forced into the peak window each day"
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _ordered(self) -> ScheduleConfig:
        if self.min_interval_h > self.max_interval_h:
            raise ValueError("min_interval_h is larger than max_interval_h")
        if self.peak_start == self.peak_end:
            raise ValueError("the peak window is empty (peak_start equals peak_end)")
        return self

    @property
    def zone(self) -> dt.tzinfo:
        return settings.schedule_zone(self)


class RetestConfig(Section):
    """When a result is checked again before it may count against the provider: a low one
    could be the test server's fault rather than the link's."""

    enabled: bool = Field(default=True, description="Retest low results and loaded servers")
    below_pct: float = Field(
        default=80.0,
        gt=0,
        le=100,
        description="A download under this % of committed_mbps is low: retested",
    )
    committed_mbps: float | None = Field(
        default=None, gt=0, description="The point's committed download (default: expected_mbps)"
    )
    server_cpu_pct: float | None = Field(
        default=80.0,
        gt=0,
        le=100,
        description="The server's host CPU at or over this: the server was loaded (null: its"
        " CPU is not considered)",
    )
    server_tests: int | None = Field(
        default=None,
        ge=2,
        description="Tests at once on the server, this one included, at or over this: loaded"
        " (default: only its CPU counts)",
    )
    server: str | None = Field(
        default=None,
        min_length=1,
        description="A second test server for the retest: a base URL (http), a host (iperf3)"
        " or a btest server (RouterOS); without it the same server is asked again later",
    )
    delay_s: float = Field(
        default=900.0, ge=0, le=86_400, description="Wait before a retest on the same server"
    )


class CapacityConfig(Section):
    """Active speed tests of one point. Capacity comes only from these, never from counters."""

    method: MethodConfig
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    defer_above_bps: float = Field(
        default=5_000_000,
        ge=0,
        description="User traffic (WAN rx+tx) above this defers a test: it would only measure"
        " what the users leave over",
    )
    defer_retry_s: float = Field(default=300.0, gt=0, description="Wait before trying again")
    max_deferrals: int = Field(
        default=6, ge=0, le=100, description="Then this test is given up (and recorded)"
    )
    daily_budget_mb: float = Field(
        default=1_000.0, gt=0, description="Data all tests of this point may move per local day"
    )
    expected_mbps: float = Field(
        default=50.0,
        gt=0,
        description="Speed used to price a test before the first one of the day has run",
    )
    uplink: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="Points sharing one uplink name never test at once (default: the point id)",
    )
    retest: RetestConfig = Field(default_factory=RetestConfig)

    @model_validator(mode="after")
    def _retest_server(self) -> CapacityConfig:
        server = self.retest.server
        http = isinstance(self.method, HttpMethod)
        if server is not None and http and not re.match(HTTP_BASE, server):
            raise ValueError(
                f"retest.server {server!r} is not a base URL like http://speed2.noc:8080"
                " (the method is http)"
            )
        return self

    @property
    def committed_mbps(self) -> float:
        return settings.committed_mbps(self)


class BurstConfig(Section):
    """Periodic bursts of pings for loss and jitter; the light per-sample probe stays light.

    The sample taken after a burst carries the burst's rtt, loss and jitter."""

    target: str = Field(min_length=1, description="Address to ping (an IP address is best)")
    count: int = Field(default=20, ge=2, le=200, description="Pings per burst")
    interval_s: float = Field(default=0.2, ge=0.01, le=5, description="Gap between pings")
    size_bytes: int = Field(default=56, ge=16, le=65_000, description="ICMP payload bytes")
    timeout_s: float = Field(default=1.0, gt=0, le=10, description="Wait for each answer")
    every_s: float = Field(default=300.0, ge=10, description="Time between bursts")
    via: Literal["auto", "agent", "router"] = Field(
        default="auto",
        description="Who pings: the agent host, or the router (RouterOS points, auto)",
    )

    @model_validator(mode="after")
    def _fits(self) -> BurstConfig:
        if self.count * self.interval_s >= self.every_s:
            raise ValueError("a burst lasts longer than every_s")
        return self
