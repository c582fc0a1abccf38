"""The collector's configuration, validated once at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from pantau.collector.noc.config import AlertsConfig, MetricsConfig
from pantau.shared.config import Section, load_config, resolve_secret
from pantau.shared.mqtt_client import MqttConfig as BaseMqttConfig


class MqttConfig(BaseMqttConfig):
    """The shared MQTT settings, with the persistent, shareable session the collector holds."""

    client_id: str = Field(
        default="pantau-collector", min_length=1, description="Fixed: the session outlives restarts"
    )
    share_group: str | None = Field(
        default=None, description="Share the load with other collectors ($share/<group>/...)"
    )
    session_expiry_s: int = Field(
        default=7 * 86_400,
        ge=60,
        description="How long the broker keeps our queue while we're away",
    )
    receive_maximum: int = Field(default=5_000, ge=10, le=65_535)


class InfluxConfig(Section):
    api: Literal["v1", "v2"] = Field(
        default="v1", description="v1: InfluxDB 1.x /write; v2: /api/v2/write (2.x, 3.x)"
    )
    url: str = "http://127.0.0.1:8086"
    database: str = Field(default="pantau", description="v1 database; for v2 the DBRP-mapped name")
    retention_policy: str | None = None
    username: str | None = None
    password: SecretStr | None = Field(default=None, description="Prefer PANTAU_INFLUX__PASSWORD")
    password_file: str | None = Field(default=None, description="File with the password, mode 600")
    token: SecretStr | None = Field(
        default=None, description="v2 token; prefer PANTAU_INFLUX__TOKEN"
    )
    token_file: str | None = None
    org: str | None = None
    bucket: str | None = None
    timeout_s: float = Field(default=10.0, gt=0, le=300)

    @model_validator(mode="after")
    def _v2_needs_bucket(self) -> InfluxConfig:
        if self.api == "v2" and not self.bucket:
            raise ValueError("api v2 needs 'bucket' (and 'org' and a token)")
        return self

    def resolved_password(self) -> SecretStr | None:
        return resolve_secret(self.password, self.password_file, "influx password")

    def resolved_token(self) -> SecretStr | None:
        return resolve_secret(self.token, self.token_file, "influx token")


class BatchConfig(Section):
    max_lines: int = Field(default=5_000, ge=1, le=100_000)
    max_delay_s: float = Field(default=0.5, gt=0, le=60)


class RollupConfig(Section):
    every_s: float = Field(
        default=120.0,
        gt=0,
        le=3600,
        description="How often touched hours get their rollup recomputed",
    )
    enabled: bool = True
    drain_on_stop_s: float = Field(
        default=120.0,
        ge=0,
        le=86_400,
        description="How long a clean stop keeps computing waiting rollups (the rest wait on"
        " disk for the next start)",
    )
    behind_after_s: float | None = Field(
        default=None,
        gt=0,
        description="Say rollups are falling behind once a mark waits this long (default: three"
        " rounds, at least 600 s)",
    )


class LimitsConfig(Section):
    """What the collector will believe; anything beyond is refused or nulled, with a reason."""

    max_future_s: float = Field(
        default=300, ge=0, le=86_400, description="Refuse samples this far ahead of our clock"
    )
    max_age_s: float = Field(
        default=15 * 86_400,
        gt=0,
        description="Refuse samples older than this (the agents' spool horizon)",
    )
    max_link_bps: float = Field(
        default=10e9, gt=0, le=1e11, description="Fastest link a point can have (bits/s)"
    )
    max_clients: int = Field(
        default=5_000, ge=1, le=100_000, description="Most clients one point can serve"
    )


class CollectorConfig(Section):
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    influx: InfluxConfig = Field(default_factory=InfluxConfig)
    batch: BatchConfig = Field(default_factory=BatchConfig)
    rollup: RollupConfig = Field(default_factory=RollupConfig)
    registry: Path = Field(description="Site registry YAML (points, kelurahan, providers)")
    state_dir: Path = Field(
        default=Path("/var/lib/pantau-collector"), description="Disk buffer while InfluxDB is away"
    )
    max_payload_bytes: int = Field(default=1_048_576, ge=1024, le=16_777_216)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    # NOC: the collector's /metrics endpoint and the rules of `pantau alerts` (collector/noc/)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)


def load_collector_config(path: str | Path) -> CollectorConfig:
    config = load_config(path, CollectorConfig)
    if not config.registry.is_absolute():
        config = config.model_copy(update={"registry": Path(path).parent / config.registry})
    return config
