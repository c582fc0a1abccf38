"""The collector's configuration, validated once at start-up."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, StrictInt

from pantau.collector.influxdb.config import InfluxConfig
from pantau.collector.noc.config import AlertsConfig, MetricsConfig, StatusConfig
from pantau.shared.config import Section, load_config
from pantau.shared.contract import SAMPLE_HORIZON_S
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
        default=SAMPLE_HORIZON_S,
        gt=0,
        le=100 * 365 * 86_400,  # a century: room to replay old data, never infinity
        description="Refuse samples older than this (the agents' spool horizon)",
    )
    max_link_bps: float = Field(
        default=10e9, gt=0, le=1e11, description="Fastest link a point can have (bits/s)"
    )
    max_clients: int = Field(
        default=5_000, ge=1, le=100_000, description="Most clients one point can serve"
    )


class EvidenceConfig(Section):
    """Signed measurements and the archive anyone can verify (docs/evidence.md)."""

    keys_file: Path | None = Field(
        default=None,
        description="The PKI's signing-keys.json: set, every telemetry and event message must be"
        " signed by its point's key (except unsigned_points)",
    )
    unsigned_points: list[str] = Field(
        default_factory=list,
        description="Points whose unsigned messages are still taken during a migration, stored"
        " marked unsigned; '*' for every point",
    )
    archive_dir: Path | None = Field(
        default=None,
        description="Append-only archive of every message taken in, byte for byte (daily"
        " segments, fsync'd before the message is acknowledged)",
    )
    signing_key_file: Path | None = Field(
        default=None, description="The collector's own Ed25519 key, for daily checkpoints"
    )
    chain_check: bool = Field(
        default=True,
        description="Record a break in a point's hash chain as it arrives (off by itself with a"
        " share group, where each collector sees part of a chain; `pantau evidence verify`"
        " checks whole chains)",
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
    workers: StrictInt | None = Field(  # strict: YAML's `true` is not one worker
        default=None,
        ge=1,
        le=64,
        description="Ingest processes on one shared subscription, each with its own MQTT"
        " identity and state_dir subfolder (collector/workers.py); default: the number of cores;"
        " 1: one process, as before",
    )
    append_only: bool = Field(
        default=True,
        description="Never rewrite a stored row (collector/evidence.py); needs InfluxQL reads."
        " Off only for a store that cannot answer them",
    )
    log_every_s: float = Field(
        default=300,
        gt=0,
        le=86_400,
        description="A recurring refusal is logged the first time, then once per this with a count",
    )
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    # NOC: the collector's /metrics endpoint and the rules of `pantau alerts` (collector/noc/)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    status: StatusConfig = Field(default_factory=StatusConfig)
    evidence: EvidenceConfig = Field(default_factory=EvidenceConfig)


def load_collector_config(path: str | Path) -> CollectorConfig:
    config = load_config(path, CollectorConfig)
    if not config.registry.is_absolute():
        config = config.model_copy(update={"registry": Path(path).parent / config.registry})
    return config
