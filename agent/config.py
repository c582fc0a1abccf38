"""The agent's configuration: one model, validated at start-up, documented field by field."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from pantau.agent.capacity.config import BurstConfig, CapacityConfig
from pantau.agent.settings import point_mqtt
from pantau.agent.sources.linux_config import LinuxSourceConfig
from pantau.agent.sources.routeros.config import RouterOSSourceConfig
from pantau.agent.sources.simulated_config import SimulatedSourceConfig
from pantau.shared.config import Section, load_config
from pantau.shared.mqtt_client import MqttConfig as BaseMqttConfig
from pantau.shared.mqtt_client import TlsConfig as TlsConfig  # agent configs name it here
from pantau.shared.wire import PointId


class MqttConfig(BaseMqttConfig):
    """The shared MQTT settings, with one session per point and a gentle reconnect."""

    username: str | None = Field(default=None, description="Defaults to the point id")
    password_file: str | None = Field(
        default=None, description="File with the password, mode 600; {point} allowed"
    )
    reconnect_min_s: float = Field(default=1.0, gt=0, le=60)
    reconnect_max_s: float = Field(default=120.0, gt=0, le=3600)

    def for_point(self, point: str) -> MqttConfig:
        """One point's session settings. `{point}` in a file name becomes the point id, so an
        agent of several points holds one credential per point (the broker lets each speak only
        for itself). A client key others could read is refused here, at start-up."""

        return point_mqtt(self, point)


class SpoolConfig(Section):
    max_samples_per_point: int = Field(
        default=14 * 8640,
        ge=100,
        description="Oldest samples are dropped (and counted) beyond this",
    )
    max_bytes: int | None = Field(
        default=None, ge=1_000_000, description="Optional cap on the spool file size"
    )
    sync: Literal["full", "normal"] = Field(
        default="full",
        description="full: every sample is on disk before the next step (survives power cuts); "
        "normal: survives a crashed agent, not a power cut (demos, very slow storage)",
    )


class PublishConfig(Section):
    batch_max: int = Field(
        default=250, ge=1, le=2000, description="Samples per message when behind"
    )
    inflight_max: int = Field(
        default=4, ge=1, le=100, description="Messages awaiting PUBACK at once"
    )
    drain_msgs_per_s: float = Field(
        default=20.0,
        gt=0,
        description="Pace of a backlog drain, so reconnecting agents stay gentle",
    )
    linger_s: float = Field(
        default=0.0,
        ge=0,
        le=600,
        description="Wait this long to gather samples into one message (0: send each at once)",
    )
    receipts: bool = Field(
        default=True,
        description="Forget a sample only when a collector's receipt says it is stored (wire v2); "
        "false: forget it on the broker's PUBACK, for collectors older than v2",
    )
    receipt_timeout_s: float = Field(
        default=120.0,
        ge=5,
        le=3600,
        description="Send a message again when no receipt came this long after it was sent "
        "(doubling per attempt, up to 30 minutes)",
    )
    signing_key_file: str | None = Field(
        default=None,
        description="The point's Ed25519 key (`pantau pki issue` makes signing.key): every "
        "message is signed and hash-chained; `{point}` in the path stands for the point id",
    )
    receipt_window: int = Field(
        default=64, ge=1, le=10_000, description="Messages sent and awaiting a receipt at once"
    )
    goodbye_drain_s: float = Field(
        default=6.0,
        ge=0,
        le=6.0,  # the network loop gives the whole goodbye 10 s (agent/netloop.py)
        description="On a clean stop, wait at most this long to send what is spooled and get "
        "its receipts (what is left stays in the spool for the next start)",
    )


class ProbeTarget(Section):
    kind: Literal["tcp", "icmp"]
    host: str = Field(min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535)

    @model_validator(mode="after")
    def _port_for_tcp(self) -> ProbeTarget:
        if self.kind == "tcp" and self.port is None:
            raise ValueError("a tcp probe target needs a port")
        return self


class ProbeConfig(Section):
    targets: list[ProbeTarget] = Field(default_factory=list)
    timeout_s: float = Field(default=2.0, gt=0, le=30)
    count: int = Field(default=3, ge=1, le=20, description="Probes per target per sample")


SourceConfig = Annotated[
    LinuxSourceConfig | RouterOSSourceConfig | SimulatedSourceConfig,
    Field(discriminator="kind"),
]


class PointConfig(Section):
    id: PointId
    source: SourceConfig
    probes: ProbeConfig | None = Field(
        default=None, description="Agent-side WAN probes; RouterOS points ping from the router"
    )
    capacity: CapacityConfig | None = Field(default=None, description="Active speed tests")
    bursts: BurstConfig | None = Field(default=None, description="Ping bursts for loss, jitter")


class ClockConfig(Section):
    """Compressed virtual time, for demos that play a month in minutes. Never in production."""

    start: dt.datetime = Field(description="Virtual time at agent start (with timezone)")
    speed: float = Field(gt=0, le=1e7, description="Virtual seconds per real second")


class AgentConfig(Section):
    interval_s: float = Field(default=10.0, gt=0, le=3600, description="Aligned to the wall clock")
    state_dir: Path = Field(
        default=Path("/var/lib/pantau-agent"), description="Spool and seq; persistent storage"
    )
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    spool: SpoolConfig = Field(default_factory=SpoolConfig)
    publish: PublishConfig = Field(default_factory=PublishConfig)
    points: list[PointConfig] = Field(min_length=1)
    clock: ClockConfig | None = Field(default=None, description="Demos only: virtual time")

    @model_validator(mode="after")
    def _unique_points(self) -> AgentConfig:
        ids = [p.id for p in self.points]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"point ids listed twice: {', '.join(duplicates)}")
        return self


def load_agent_config(path: str | Path) -> AgentConfig:
    return load_config(path, AgentConfig)
