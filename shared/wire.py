"""The wire contract: what an agent publishes, what the collector accepts, and its receipts.

Version 2 adds end-to-end receipts: an agent that wants one gives each telemetry or event
message an id in the MQTT v5 Correlation Data property, and a collector, once the message is
durable, names that id in a `Receipt` on the point's receipt topic. The agent forgets a sample
only then. Version 1 messages (older agents) are accepted as before and get no receipt.

Every value a device could not give is null, never 0. Bounds here are physical limits, so an
absurd value is refused at the edge of the collector instead of poisoning a month's report.
Unknown fields are ignored so that newer agents can add fields without breaking older collectors.

The JSON is read strictly (RFC 8259 and the types as declared): `NaN` and `Infinity` anywhere, a
key twice in one object, a string where a number belongs ("5e6") and a number where a boolean
belongs (1 for true) are all refused, never guessed at.
"""

from __future__ import annotations

import json
from operator import attrgetter
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from pantau.shared.contract import (
    BOOT,
    CLIENTS,
    COUNTER,
    INTERVAL_S,
    MAX_EVENT_MESSAGE,
    MAX_MAP_ENTRIES,
    MAX_MESSAGE_ID_BYTES,
    MAX_PAYLOAD_BYTES,
    MAX_RECEIPT_IDS,
    MAX_SAMPLES_PER_MESSAGE,
    MAX_SHORT_TEXT,
    MILLISECONDS,
    PERCENT,
    RATE,
    SEQ,
    STRICT_JSON,
    TEMPERATURE_C,
    TIMESTAMP_MS,
    UPTIME_S,
    WIRE_VERSION,
    Bound,
    EventKind,
)
from pantau.shared.contract import MAX_TS_MS as MAX_TS_MS  # re-exported
from pantau.shared.contract import MIN_TS_MS as MIN_TS_MS
from pantau.shared.errors import PayloadError
from pantau.shared.topics import POINT_ID_PATTERN

WireVersion = Literal[1, 2]


def _limits(bound: Bound) -> Any:
    """The pydantic constraint of one of the contract's bounds (pantau.shared.contract)."""
    if bound.kind is str:
        return StringConstraints(min_length=bound.min_len, max_length=bound.max_len)
    return Field(ge=bound.ge, gt=bound.gt, le=bound.le, lt=bound.lt)


PointId = Annotated[str, StringConstraints(pattern=POINT_ID_PATTERN)]
Counter = Annotated[int, _limits(COUNTER)]
Rate = Annotated[float, _limits(RATE)]
Clients = Annotated[int, _limits(CLIENTS)]
Percent = Annotated[float, _limits(PERCENT)]
Milliseconds = Annotated[float, _limits(MILLISECONDS)]
TimestampMs = Annotated[int, _limits(TIMESTAMP_MS)]
ShortText = Annotated[str, StringConstraints(max_length=MAX_SHORT_TEXT)]
Boot = Annotated[str, _limits(BOOT)]


SpoolState = Literal["ok", "disk_full", "degraded"]
MessageId = Annotated[str, StringConstraints(min_length=1, max_length=MAX_MESSAGE_ID_BYTES)]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False, frozen=True)


class Sample(_Wire):
    """One reading of one point at one moment."""

    ts_ms: TimestampMs = Field(description="UTC time of the reading, milliseconds since epoch")
    seq: Annotated[int, _limits(SEQ)] = Field(
        description="Per point, monotonic, survives agent restarts"
    )
    boot: Boot = Field(description="Id of the agent run that took the sample")
    interval_s: Annotated[float, _limits(INTERVAL_S)] = Field(
        description="Sampling interval the agent ran at"
    )
    device_up: bool = Field(description="The agent could read the device (router or host)")
    uptime_s: Annotated[float, _limits(UPTIME_S)] | None = None
    rx_bytes: Counter | None = None
    tx_bytes: Counter | None = None
    rx_packets: Counter | None = None
    tx_packets: Counter | None = None
    rx_errors: Counter | None = None
    tx_errors: Counter | None = None
    rx_bps: Rate | None = None
    tx_bps: Rate | None = None
    link_up: bool | None = None
    link_downs: Counter | None = None
    wan_up: bool | None = None
    rtt_ms: Milliseconds | None = None
    loss_pct: Percent | None = None
    jitter_ms: Milliseconds | None = None
    clients_assoc: Clients | None = None
    clients_hotspot: Clients | None = None
    clients_dhcp: Clients | None = None
    cpu_pct: Percent | None = None
    mem_used_pct: Percent | None = None
    temp_c: Annotated[float, _limits(TEMPERATURE_C)] | None = None
    clock_synced: bool | None = None


class Telemetry(_Wire):
    """A batch of samples of one point, oldest first."""

    v: WireVersion = WIRE_VERSION
    point: PointId
    samples: list[Sample] = Field(min_length=1, max_length=MAX_SAMPLES_PER_MESSAGE)
    dropped: int = Field(
        default=0, ge=0, description="Samples the spool discarded (full) since the last message"
    )


class State(_Wire):
    """Birth (retained, on connect) and death (the MQTT Will) of a point's agent."""

    v: WireVersion = WIRE_VERSION
    point: PointId
    state: Literal["online", "offline"]
    boot: Boot
    ts_ms: TimestampMs | None = None
    agent_version: ShortText | None = None
    source: ShortText | None = None
    facts: dict[ShortText, ShortText | int | float | bool | None] = Field(
        default_factory=dict, max_length=MAX_MAP_ENTRIES
    )
    spool: SpoolState | None = Field(
        default=None, description="Whether the agent's spool can store what it samples"
    )


class Event(_Wire):
    """Something that happened once: a capacity test, a reboot, a path that failed."""

    v: WireVersion = WIRE_VERSION
    point: PointId
    ts_ms: TimestampMs
    kind: EventKind
    message: Annotated[str, StringConstraints(max_length=MAX_EVENT_MESSAGE)] | None = None
    data: dict[ShortText, ShortText | int | float | bool | None] = Field(
        default_factory=dict, max_length=MAX_MAP_ENTRIES
    )


class Receipt(_Wire):
    """From a collector to one point: these messages are durable (`stored`) or will never be
    (`refused`: invalid, resending cannot help). Either way the agent may forget them."""

    v: Literal[2] = 2
    point: PointId
    stored: list[MessageId] = Field(default_factory=list, max_length=MAX_RECEIPT_IDS)
    refused: list[MessageId] = Field(default_factory=list, max_length=MAX_RECEIPT_IDS)


Message = Telemetry | State | Event
_MODELS: dict[str, type[Telemetry] | type[State] | type[Event] | type[Receipt]] = {
    "telemetry": Telemetry,
    "state": State,
    "event": Event,
    "receipt": Receipt,
}


def encode(message: BaseModel) -> bytes:
    """Compact JSON without nulls: a null field and an absent one mean the same."""
    return message.model_dump_json(exclude_none=True).encode()


_JSON = STRICT_JSON


def decode(
    kind: str, payload: bytes, topic_point: str, max_bytes: int = MAX_PAYLOAD_BYTES
) -> Message | Receipt:
    """Validate one payload for the topic it came on; raise PayloadError with a countable reason."""
    if len(payload) > max_bytes:
        raise PayloadError("oversize", f"{len(payload)} bytes > {max_bytes}")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError("not_utf8", f"byte {exc.start} is not UTF-8") from exc
    model = _MODELS.get(kind)
    if model is None:
        raise PayloadError("unknown_topic", f"no message kind {kind!r}")
    if model is Telemetry:
        fast = _telemetry_fast(payload)
        if fast is not None:
            if fast.point != topic_point:
                raise PayloadError(
                    "point_mismatch", f"payload point {fast.point!r} on topic of {topic_point!r}"
                )
            return fast
    try:
        data = _JSON.decode(text)
        message = model.model_validate(data, strict=True)
    except json.JSONDecodeError as exc:
        raise PayloadError("not_json", f"Invalid JSON: {exc.msg} at {exc.pos}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "model_type" and not first["loc"]:
            raise PayloadError("invalid", "expected a JSON object") from exc
        raise PayloadError("invalid", _first_error(exc)) from exc
    except RecursionError as exc:
        raise PayloadError("not_json", "nested too deeply") from exc
    if message.point != topic_point:
        raise PayloadError(
            "point_mismatch", f"payload point {message.point!r} on topic of {topic_point!r}"
        )
    return message


_fields_set = attrgetter("__pydantic_fields_set__")  # model_fields_set, without its call
_boot = attrgetter("boot")


def _telemetry_fast(payload: bytes) -> Telemetry | None:
    """The common telemetry message, parsed and validated in one pass by pydantic-core; None
    for anything else, which then takes the strict path above and gets its exact reason.

    pydantic-core's parser keeps the last of a key given twice, so the fast result is trusted
    only when the payload's colons are exactly the keys it took: outside strings a colon ends a
    key, so a key twice, an unknown key (ignored by the model) or a colon inside another string
    makes more colons than that. `\\u` escapes (which could hide a colon) take the strict path.
    """
    if b"\\u" in payload:
        return None
    try:
        message = Telemetry.model_validate_json(payload, strict=True)
    except ValueError:  # ValidationError among them: the strict path says what is wrong
        return None
    samples = message.samples
    keys = len(_fields_set(message)) + sum(map(len, map(_fields_set, samples)))
    keys += "".join(map(_boot, samples)).count(":")  # in C: a batch is 100s of samples
    return message if payload.count(b":") == keys else None


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(root)"
        extra = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        return f"{where}: {err['msg']}{extra}"
    return "nested too deeply"
