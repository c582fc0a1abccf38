"""The `alerts` and `metrics` sections of the collector's YAML: the NOC's settings live beside
the collector's, so one file describes one installation."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator

from pantau.shared.config import Section, read_secret_file
from pantau.shared.errors import ConfigError
from pantau.shared.mqtt_client import MqttConfig

RULE_NAMES = (
    "provider_down",
    "unreachable",
    "silent",
    "kelurahan_down",
    "capacity_low",
    "collector_behind",
    "collector_buffer",
    "collector_down",
    "influx_unreachable",
    "evidence_rewrite",
)


class NocMqttConfig(MqttConfig):
    """The broker as one NOC command sees it: its own identity (`pantau pki issue noc-alerts
    --role noc`), never the collector's, whose persistent session it would take over."""

    client_id: str | None = Field(
        default=None, description="Default pantau-<command>-<pid>; the secure broker uses the user"
    )


class StatusConfig(Section):
    """`pantau status`."""

    mqtt: NocMqttConfig | None = Field(
        default=None,
        description="Its own broker identity (a NOC one; reads agent states only). Without it,"
        " the collector's broker address and CA, and no credentials",
    )


class MetricsConfig(Section):
    """The collector's Prometheus endpoint."""

    listen: str = Field(default="127.0.0.1", description="Address to serve /metrics on")
    port: int = Field(default=9108, ge=0, le=65535, description="0 turns the endpoint off")

    def url(self) -> str | None:
        if self.port == 0:
            return None
        host = "127.0.0.1" if self.listen in ("0.0.0.0", "::", "") else self.listen
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}/metrics"


class PointRule(Section):
    after_s: float = Field(gt=0, le=7 * 86_400, description="How long before it is an alert")
    clear_s: float | None = Field(
        default=None, ge=0, le=86_400, description="Clear this long before recovery (default)"
    )
    enabled: bool = True


def _rule(after_s: float, clear_s: float | None = None) -> PointRule:
    return PointRule(after_s=after_s, clear_s=clear_s)


class KelurahanRule(Section):
    share_pct: float = Field(default=30, gt=0, le=100, description="Share of points down at once")
    min_points: int = Field(default=2, ge=1, description="...and at least this many")
    after_s: float = Field(default=300, ge=0, le=7 * 86_400)
    clear_s: float | None = Field(default=None, ge=0, le=86_400)
    enabled: bool = True


class CapacityRule(Section):
    below_pct: float = Field(default=80, gt=0, le=1000, description="Of the committed Mbps")
    consecutive: int = Field(default=3, ge=1, le=100, description="Tests in a row below it")
    lookback_days: int = Field(default=30, ge=1, le=366, description="Oldest test considered")
    enabled: bool = True


class CollectorRules(Section):
    behind_after_s: float = Field(
        default=180, gt=0, description="Newest stored sample this old while agents are online"
    )
    buffer_after_s: float = Field(
        default=300, gt=0, description="Disk buffer not empty (InfluxDB away) for this long"
    )
    down_after_s: float = Field(
        default=120, gt=0, description="/metrics of the collector unreachable for this long"
    )
    metrics_url: str | None = Field(
        default=None, description="Collector /metrics to watch; default: from the metrics section"
    )
    enabled: bool = True


class RewriteRule(Section):
    window_s: float = Field(
        default=3600,
        gt=0,
        le=30 * 86_400,
        description="Firing while the collector refused a rewrite of the point's stored rows"
        " this recently (measurement integrity)",
    )
    enabled: bool = True


class Rules(Section):
    provider_down: PointRule = Field(default_factory=lambda: _rule(300))
    unreachable: PointRule = Field(
        default_factory=lambda: _rule(600), description="Router unreachable, agent alive"
    )
    silent: PointRule = Field(default_factory=lambda: _rule(600), description="Agent silent")
    no_throughput: PointRule = Field(
        default_factory=lambda: _rule(3600),
        description="Router answers, WAN rates missing (a wan_interface it lacks)",
    )
    kelurahan_down: KelurahanRule = Field(default_factory=KelurahanRule)
    capacity_low: CapacityRule = Field(default_factory=CapacityRule)
    collector: CollectorRules = Field(default_factory=CollectorRules)
    evidence_rewrite: RewriteRule = Field(default_factory=RewriteRule)


class Target(Section):
    """An apprise URL (tgram://, mailtos://, json://, ...), optionally for some alerts only."""

    url: SecretStr = Field(description="Apprise URL; it holds tokens, so it is never logged")
    rules: list[str] = Field(default_factory=list, description="Only these rules (empty: all)")
    kelurahan: list[str] = Field(
        default_factory=list, description="Only these kelurahan (empty: all, city-wide included)"
    )


class AlertsConfig(Section):
    evaluate_every_s: float = Field(default=30, gt=0, le=3600)
    silent_after_s: float = Field(
        default=180, gt=0, description="No sample for this long: the agent counts as silent"
    )
    lookback_s: float = Field(
        default=6 * 3600, ge=60, le=7 * 86_400, description="History read to find when it began"
    )
    clear_s: float = Field(
        default=120, ge=0, le=86_400, description="Flap suppression: clear this long to recover"
    )
    status_every_s: float = Field(
        default=60, ge=0, description="Write point_status rows for Grafana this often (0: never)"
    )
    retry_for_s: float = Field(default=3600, ge=0, description="Keep retrying a failed delivery")
    targets: list[Target] = Field(default_factory=list)
    targets_file: Path | None = Field(
        default=None, description="One apprise URL per line, mode 600 (keeps tokens out of YAML)"
    )
    rules: Rules = Field(default_factory=Rules)
    mqtt: NocMqttConfig | None = Field(
        default=None,
        description="Its own broker identity (a NOC one; reads agent states only). Without it,"
        " the collector's broker address and CA, and no credentials",
    )

    @field_validator("targets", mode="before")
    @classmethod
    def _plain_urls(cls, value: object) -> object:
        """A target may be written as just its URL."""
        if isinstance(value, list):
            return [{"url": v} if isinstance(v, str) else v for v in value]
        return value

    @model_validator(mode="after")
    def _known_rules(self) -> AlertsConfig:
        known = set(RULE_NAMES)
        for target in self.targets:
            unknown = sorted(set(target.rules) - known)
            if unknown:
                raise ValueError(f"target names unknown rule(s) {', '.join(unknown)}")
        return self

    def all_targets(self) -> list[Target]:
        """Targets from the YAML plus those in targets_file."""
        targets = list(self.targets)
        if self.targets_file is not None:
            text = read_secret_file(self.targets_file).get_secret_value()
            for number, line in enumerate(text.splitlines(), 1):
                line = line.split(" #", 1)[0].strip()
                if not line or line.startswith("#"):
                    continue
                if "://" not in line:
                    raise ConfigError(f"{self.targets_file}: line {number} is not an apprise URL")
                targets.append(Target(url=SecretStr(line)))
        return targets
