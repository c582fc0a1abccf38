"""The wire contract's numbers and the agent's side of it, in plain Python (no pydantic).

The bounds of every sample field are written here once. `pantau.shared.wire` builds its pydantic
models from them (the collector validates every message with those models); the agent checks a
sample against the same table with `check_sample` and writes the JSON itself, byte for byte what
the models would write (tests/unit/test_contract.py compares them), so a long-running agent never
imports pydantic. A value outside its bounds is nulled by the agent (`agent/sample.py`) and would
be refused by the collector.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pantau.shared.errors import PayloadError

WIRE_VERSION = 2
MAX_MESSAGE_ID_BYTES = 64
MAX_RECEIPT_IDS = 10_000
MAX_PAYLOAD_BYTES = 1_048_576
MAX_SAMPLES_PER_MESSAGE = 2_000
MIN_TS_MS = 1_577_836_800_000  # 2020-01-01T00:00:00Z: anything older is a broken clock.
MAX_TS_MS = 4_102_444_800_000  # 2100-01-01T00:00:00Z
MAX_BOOT_CHARS = 64
MAX_SHORT_TEXT = 200  # a fact's or an event datum's name and text value
MAX_EVENT_MESSAGE = 500
MAX_MAP_ENTRIES = 50  # facts of a state, data of an event

EventKind = Literal[
    "capacity",
    "reboot",
    "source_error",
    "source_recovered",
    "spool_dropped",
    "spool_state",
    "test_deferred",
]


@dataclass(frozen=True)
class Bound:
    """A field's type (int, float, bool or str) and its limits: numbers by value, text by
    length (`min_len`, `max_len`)."""

    kind: type
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    min_len: int | None = None
    max_len: int | None = None


TIMESTAMP_MS = Bound(int, ge=MIN_TS_MS, le=MAX_TS_MS)
SEQ = Bound(int, ge=0, lt=2**63)
BOOT = Bound(str, min_len=1, max_len=MAX_BOOT_CHARS)
INTERVAL_S = Bound(float, gt=0, le=86_400)
FLAG = Bound(bool)
UPTIME_S = Bound(float, ge=0, le=3.2e9)
COUNTER = Bound(int, ge=0, lt=2**64)
RATE = Bound(float, ge=0, le=1e11)  # bits per second; 100 Gbit/s is beyond any point
MILLISECONDS = Bound(float, ge=0, le=60_000)
PERCENT = Bound(float, ge=0, le=100)
CLIENTS = Bound(int, ge=0, le=100_000)
TEMPERATURE_C = Bound(float, ge=-60, le=200)

# Every field of a sample, in the order it is written; the first five are always there.
SAMPLE_FIELDS: dict[str, Bound] = {
    "ts_ms": TIMESTAMP_MS,
    "seq": SEQ,
    "boot": BOOT,
    "interval_s": INTERVAL_S,
    "device_up": FLAG,
    "uptime_s": UPTIME_S,
    "rx_bytes": COUNTER,
    "tx_bytes": COUNTER,
    "rx_packets": COUNTER,
    "tx_packets": COUNTER,
    "rx_errors": COUNTER,
    "tx_errors": COUNTER,
    "rx_bps": RATE,
    "tx_bps": RATE,
    "link_up": FLAG,
    "link_downs": COUNTER,
    "wan_up": FLAG,
    "rtt_ms": MILLISECONDS,
    "loss_pct": PERCENT,
    "jitter_ms": MILLISECONDS,
    "clients_assoc": CLIENTS,
    "clients_hotspot": CLIENTS,
    "clients_dhcp": CLIENTS,
    "cpu_pct": PERCENT,
    "mem_used_pct": PERCENT,
    "temp_c": TEMPERATURE_C,
    "clock_synced": FLAG,
}
REQUIRED = ("ts_ms", "seq", "boot", "interval_s", "device_up")


# Event data: each name has one type, whatever the kind. Every kind is stored in the one
# measurement `event` (as field `data_<name>`), and a capacity result's data also in `capacity`;
# InfluxDB 1.x fixes a field's type at its first write in a shard and refuses every later line
# that gives another, so a name typed one way by one event would make every other point's events
# (and capacity results) with that name unstorable for the rest of the shard. The collector
# refuses a known name with a value of another type (an int where a float belongs is a float,
# an integral float where an int belongs an int), and stores no name outside this table: one
# stored as text would fix its type as text, and a later collector that knows it as a number
# would be refused in that shard; and names an agent may choose would grow the schema without
# bound. The agent's own producers are held to this table by tests/unit/test_event_types.py.
EVENT_DATA: dict[str, type] = {
    # capacity (agent/capacity/result.py Measurement.data, its methods' extra, retest.py)
    "down_mbps": float,
    "up_mbps": float,
    "rtt_ms": float,
    "streams": int,
    "duration_s": float,
    "bytes": int,
    "down_bytes": int,
    "up_bytes": int,
    "method": str,
    "server": str,
    "user_traffic_bps": float,
    "in_peak": bool,
    "trigger": str,
    "server_tests": int,
    "server_cap": int,
    "server_cpu_pct": float,
    "server_busy": bool,
    "error": str,
    "rtt_loaded_ms": float,
    "retransmits": int,
    "lost_packets": int,
    "jitter_ms": float,
    "loss_pct": float,
    "low": bool,
    "low_below_mbps": float,
    "server_loaded": bool,
    "retest": str,
    "retest_reason": str,
    "retest_of_ms": int,
    "retest_outcome": str,
    # test_deferred (agent/capacity/worker.py)
    "reason": str,
    "attempt": int,
    "threshold_bps": float,
    "retry_in_s": float,
    "gave_up": bool,
    "spent_bytes": int,
    "cost_bytes": int,
    # reboot
    "uptime_before_s": float,
    "uptime_after_s": float,
    # source_error, source_recovered: the part of the device that failed (the tag `subject`)
    "path": str,
    # spool_state
    "state": str,
    "previous": str,
    "held_samples": int,
}
# How old a sample the collector takes by default (limits.max_age_s): the agents' spool horizon.
SAMPLE_HORIZON_S = 15 * 86_400
# The `method` tag of a capacity row: the agent's test methods (agent/capacity), and the
# demo's simulated link (collector/lab/demo), no other.
SIMULATED_METHOD = "simulated"
CAPACITY_METHODS = frozenset(
    {"http", "iperf3", "routeros_btest", "routeros_speedtest", SIMULATED_METHOD}
)
# The parts of a device a source reports failing (SourceIssue.path): the `subject` tag of an
# event, so a reader can pick one out (collector/noc/throughput.py asks for `/interface`). Tags
# make series, so only these are tags; any other path is stored as `subject=other` with the path
# in field `data_path`. tests/unit/test_event_tags.py holds the sources' paths to this set.
SUBJECTS = frozenset(
    {
        "device",  # agent/run.py: the source raised
        "login",  # RouterOS: the API refused the login
        "connection",
        "/system/resource",
        "/system/identity",
        "/system/package",
        "/system/health",
        "/interface",
        "/ip/hotspot/active",
        "/ip/dhcp-server/lease",
        "/ping",
        "registration-table",
        "/interface/wireless/registration-table",
        "/caps-man/registration-table",
        "/interface/wifiwave2/registration-table",
        "/interface/wifi/registration-table",
        "wan",  # Linux
        "clients/dnsmasq_leases",
        "clients/neighbours",
    }
)
OTHER_SUBJECT = "other"
_TYPE_NAMES = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}


class ContractError(ValueError):
    """A value the contract refuses, with the reason in the collector's words."""


def _limit(value: float) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def check(value: Any, bound: Bound) -> Any:
    """`value` as the contract types it (an int for an int field, a float for a float field),
    or ContractError with the reason pydantic gives for the same value."""
    if bound.kind is str:
        if not isinstance(value, str):
            raise ContractError("Input should be a valid string")
        if bound.min_len is not None and len(value) < bound.min_len:
            raise ContractError(f"String should have at least {bound.min_len} character")
        if bound.max_len is not None and len(value) > bound.max_len:
            raise ContractError(f"String should have at most {bound.max_len} characters")
        return value
    if bound.kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float) and value in (0, 1):
            return bool(value)
        raise ContractError("Input should be a valid boolean")
    if isinstance(value, bool):
        value = int(value)
    if not isinstance(value, int | float):
        raise ContractError(
            f"Input should be a valid {'integer' if bound.kind is int else 'number'}"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise ContractError("Input should be a finite number")
    if bound.kind is int and isinstance(value, float):
        if not value.is_integer():
            raise ContractError(
                "Input should be a valid integer, got a number with a fractional part"
            )
        if not -(2**63) <= value < 2**63:  # as pydantic: a float this large is no integer
            raise ContractError("Unable to parse input as an integer, exceeded maximum size")
        value = int(value)
    elif bound.kind is float:
        value = float(value)
    if bound.ge is not None and not value >= bound.ge:
        raise ContractError(f"Input should be greater than or equal to {_limit(bound.ge)}")
    if bound.gt is not None and not value > bound.gt:
        raise ContractError(f"Input should be greater than {_limit(bound.gt)}")
    if bound.le is not None and not value <= bound.le:
        raise ContractError(f"Input should be less than or equal to {_limit(bound.le)}")
    if bound.lt is not None and not value < bound.lt:
        raise ContractError(f"Input should be less than {_limit(bound.lt)}")
    return value


def check_sample(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, tuple[Any, str]]]:
    """(the sample, the values refused): every contract field in order, typed, and each value
    outside its bounds null and listed with its reason. A refused required field raises
    ContractError naming it: there is no sample without it."""
    sample: dict[str, Any] = {}
    refused: dict[str, tuple[Any, str]] = {}
    for name, bound in SAMPLE_FIELDS.items():
        value = values.get(name)
        if value is None:
            if name in REQUIRED:
                raise ContractError(f"{name}: Field required")
            sample[name] = None
            continue
        try:
            sample[name] = check(value, bound)
        except ContractError as exc:
            if name in REQUIRED:
                raise ContractError(f"{name}: {exc}") from None
            sample[name] = None
            refused[name] = (value, str(exc))
    return sample, refused


def event_datum(name: str, value: Any) -> Any:
    """`value` as EVENT_DATA types `name`: a float for a float field (an int too), an int for
    an int field (an integral float too); None for null or a name outside the table;
    ContractError for a value of another type (a string for a number, a number for a boolean,
    a boolean for a number)."""
    kind = EVENT_DATA.get(name)
    if kind is None or value is None:
        return None
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number and kind in (int, float):
        if kind is int and not (type(value) is int or value.is_integer()):
            raise ContractError("should be an integer, got a number with a fractional part")
        big = kind is int or type(value) is int  # InfluxDB's integers are signed 64-bit
        if big and not -(2**63) <= value < 2**63:
            raise ContractError("is out of the 64-bit range")
        return kind(value)
    if type(value) is kind:
        return value
    got = _TYPE_NAMES.get(type(value), "another type")
    raise ContractError(f"should be {_TYPE_NAMES[kind]}, got {got}")


def event_subject(data: Mapping[str, Any]) -> str:
    """The event's `subject` tag: its path when a source can report it (SUBJECTS), `other` for
    any other path, empty (no tag) without one."""
    path = data.get("path")
    if not isinstance(path, str) or not path:
        return ""
    return path if path in SUBJECTS else OTHER_SUBJECT


def encode_sample(sample: Mapping[str, Any], seq: int) -> bytes:
    """One checked sample (`check_sample`) as the wire writes it: compact, nulls left out."""
    return _object({**sample, "seq": seq}.items())


def encode_event(
    point: str, ts_ms: int, kind: str, message: str | None, data: Mapping[str, Any]
) -> bytes:
    """An event as the wire writes it; text longer than the contract allows is shortened."""
    fields: list[tuple[str, Any]] = [("v", WIRE_VERSION), ("point", point), ("ts_ms", ts_ms)]
    fields += [("kind", kind), ("message", _short(message, MAX_EVENT_MESSAGE))]
    return _object([*fields, ("data", _map(_typed_data(data)))])


def _typed_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """Event data as the contract types it (`event_datum`): what the collector stores, so an
    agent never sends a value it would refuse; a known name with a value of another type is
    null (as a sample's value out of bounds is), a name outside the table is sent as it is."""
    out: dict[str, Any] = {}
    for name, value in data.items():
        if name in EVENT_DATA:
            try:
                value = event_datum(name, value)
            except ContractError:
                value = None
        out[name] = value
    return out


def encode_state(
    point: str,
    state: str,
    boot: str,
    *,
    ts_ms: int | None,
    agent_version: str | None,
    source: str | None,
    facts: Mapping[str, Any],
    spool: str | None,
) -> bytes:
    """A birth or death message as the wire writes it."""
    fields: list[tuple[str, Any]] = [("v", WIRE_VERSION), ("point", point), ("state", state)]
    fields += [("boot", boot), ("ts_ms", ts_ms), ("agent_version", agent_version)]
    fields += [("source", source), ("facts", _map(facts)), ("spool", spool)]
    return _object(fields)


def _short(text: str | None, limit: int) -> str | None:
    return text if text is None or len(text) <= limit else text[: limit - 1] + "…"


def _map(values: Mapping[str, Any]) -> dict[str, Any]:
    """Facts and event data: at most MAX_MAP_ENTRIES, names and text MAX_SHORT_TEXT long."""
    out: dict[str, Any] = {}
    for name, value in list(values.items())[:MAX_MAP_ENTRIES]:
        if isinstance(value, str):
            value = _short(value, MAX_SHORT_TEXT)
        elif isinstance(value, float) and not math.isfinite(value):
            value = None  # the contract has no NaN: unknown, as for any value
        out[_short(str(name), MAX_SHORT_TEXT) or ""] = value
    return out


def _object(fields: Iterable[tuple[str, Any]]) -> bytes:
    """A JSON object of the non-null fields, written as pydantic writes a model: no spaces,
    UTF-8 as is, floats in its notation; null kept inside maps (facts, data)."""
    parts = [f"{_text(name)}:{_value(value)}" for name, value in fields if value is not None]
    return ("{" + ",".join(parts) + "}").encode()


def _value(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{_text(str(k))}:{_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_value(v) for v in value) + "]"
    raise TypeError(f"{type(value).__name__} is not a wire value")


def _text(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _float(value: float) -> str:
    """Python's shortest repr in pydantic's notation: 1e-05 is 0.00001, 1.5e-07 is 1.5e-7."""
    if not math.isfinite(value):
        raise ValueError(f"{value} is not a wire number")
    text = repr(value)
    if "e-" not in text:
        return text
    mantissa, exponent = text.split("e-")
    places = int(exponent)
    if places >= 6:
        return f"{mantissa}e-{places}"
    sign = "-" if mantissa.startswith("-") else ""
    digits = mantissa.lstrip("-").replace(".", "")
    return f"{sign}0.{'0' * (places - 1)}{digits}"


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        twice = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise PayloadError("invalid", f"key {twice[:40]!r} appears twice in one object")
    return obj


def _not_json(name: str) -> Any:
    raise PayloadError("not_json", f"{name} is not a JSON value")


# Strict JSON (RFC 8259): a key twice in one object, NaN and Infinity are refused.
STRICT_JSON = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_not_json)


def decode_receipt(payload: bytes, point: str) -> tuple[list[str], list[str]]:
    """(stored, refused) message ids of a collector's receipt for `point`, checked as strictly
    as the collector's `Receipt` model would check them; PayloadError for anything else."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadError("oversize", f"{len(payload)} bytes > {MAX_PAYLOAD_BYTES}")
    try:
        data = STRICT_JSON.decode(payload.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PayloadError("not_utf8", f"byte {exc.start} is not UTF-8") from exc
    except json.JSONDecodeError as exc:
        raise PayloadError("not_json", f"Invalid JSON: {exc.msg} at {exc.pos}") from exc
    except RecursionError as exc:
        raise PayloadError("not_json", "nested too deeply") from exc
    if not isinstance(data, dict):
        raise PayloadError("invalid", "expected a JSON object")
    if data.get("v", 2) != 2 or isinstance(data.get("v"), bool):
        raise PayloadError("invalid", "v: Input should be 2")
    if data.get("point") != point:
        raise PayloadError(
            "point_mismatch", f"payload point {data.get('point')!r} is not {point!r}"
        )
    lists = []
    for name in ("stored", "refused"):
        ids = data.get(name, [])
        if not isinstance(ids, list) or len(ids) > MAX_RECEIPT_IDS:
            raise PayloadError("invalid", f"{name}: a list of at most {MAX_RECEIPT_IDS} ids")
        if not all(isinstance(i, str) and 1 <= len(i) <= MAX_MESSAGE_ID_BYTES for i in ids):
            raise PayloadError("invalid", f"{name}: ids are 1 to {MAX_MESSAGE_ID_BYTES} characters")
        lists.append(ids)
    return lists[0], lists[1]
