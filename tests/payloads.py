"""Hypothesis strategies for what could arrive on the collector's topics: near-valid messages
with one thing wrong, wrong types, huge numbers, deep nesting, odd Unicode, truncated and
mangled JSON, plain garbage. And a strict reader of InfluxDB line protocol to judge the output.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from hypothesis import strategies as st

from pantau.shared.registry import Point
from pantau.shared.wire import Sample

NOW_MS = 1_790_000_000_000
DAY_MS = 86_400_000
# Registry values that need escaping in line protocol: spaces, commas, '=', quotes, non-ASCII.
REGISTRY = {
    "cit-01": Point(
        id="cit-01", kelurahan="Kebon Dalem", kecamatan="Purwakarta", provider="Awinet"
    ),
    "cit-02": Point(
        id="cit-02", kelurahan='Lebak "Denok"', kecamatan="Citangkil, Kota", provider="PT A=B ü"
    ),
}
KINDS = ("telemetry", "state", "event")

# Strings that have broken parsers before: escapes, quotes, separators, control characters,
# lone surrogates (as JSON escapes), right-to-left marks, line separators, very long ones.
NASTY = st.sampled_from(
    [
        "",
        " ",
        "\\",
        "a\\",
        '"',
        "\\n",
        "\n",
        "\r\n",
        "\t",
        ",",
        "=",
        "a=b,c d",
        "\x00",
        "\u2028",
        "\u202e",
        "\ufeff",
        "🙂",
        "time",
        "x" * 300,
    ]
)
TEXT = st.one_of(NASTY, st.text(max_size=20))
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e308, -1e308, 5e-324, 0.0, -0.0, 1e11, 1e11 + 1]),
    TEXT,
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)),
    max_leaves=6,
)
TS = st.one_of(
    st.integers(min_value=NOW_MS - 600_000, max_value=NOW_MS + 600_000),
    st.integers(min_value=NOW_MS - 600_000, max_value=NOW_MS + 600_000),
    st.integers(min_value=NOW_MS - 20 * DAY_MS, max_value=NOW_MS + DAY_MS),
)
# Mostly what the wire accepts, often beyond what the collector believes (limits), seldom
# beyond the wire's own bounds (mutations below take care of plainly wrong values).
COUNTER = st.one_of(
    st.integers(min_value=0, max_value=2**40),
    st.integers(min_value=2**63 - 2, max_value=2**64 - 1),
    st.integers(min_value=0, max_value=2**64 + 1),
)
RATE = st.one_of(
    st.floats(min_value=0, max_value=1e9),
    st.floats(min_value=9.9e9, max_value=1e11),
    st.floats(min_value=0, max_value=2e11),
)
CLIENTS = st.one_of(
    st.integers(min_value=0, max_value=300),
    st.integers(min_value=4999, max_value=100_000),
    st.integers(min_value=0, max_value=200_000),
)
PERCENT = st.one_of(st.floats(min_value=0, max_value=100), st.floats(min_value=0, max_value=110))
OPTIONAL: dict[str, st.SearchStrategy[Any]] = {
    "uptime_s": st.floats(min_value=0, max_value=3.2e9),
    "rtt_ms": st.floats(min_value=0, max_value=60_000),
    "jitter_ms": st.floats(min_value=0, max_value=60_000),
    "loss_pct": PERCENT,
    "cpu_pct": PERCENT,
    "mem_used_pct": PERCENT,
    "temp_c": st.floats(min_value=-60, max_value=200),
    "rx_bps": RATE,
    "tx_bps": RATE,
    "clients_assoc": CLIENTS,
    "clients_hotspot": CLIENTS,
    "clients_dhcp": CLIENTS,
    "rx_bytes": COUNTER,
    "tx_bytes": COUNTER,
    "rx_packets": COUNTER,
    "tx_packets": COUNTER,
    "rx_errors": COUNTER,
    "tx_errors": COUNTER,
    "link_downs": COUNTER,
    "link_up": st.booleans(),
    "wan_up": st.booleans(),
    "clock_synced": st.booleans(),
}
REQUIRED: dict[str, st.SearchStrategy[Any]] = {
    "ts_ms": TS,
    "seq": st.integers(min_value=0, max_value=2**63),
    "boot": st.just("b1"),
    "interval_s": st.floats(min_value=0.5, max_value=3600),
    "device_up": st.booleans(),
}
assert set(REQUIRED) | set(OPTIONAL) == set(Sample.model_fields)
SAMPLE = st.fixed_dictionaries(REQUIRED, optional=OPTIONAL)


def telemetry(point: str) -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries(
        {
            "v": st.just(1),
            "point": st.just(point),
            "samples": st.lists(SAMPLE, min_size=1, max_size=4),
        },
        optional={"dropped": st.integers(min_value=0, max_value=2**64)},
    )


def state(point: str) -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries(
        {
            "v": st.just(1),
            "point": st.just(point),
            "state": st.sampled_from(["online", "offline"]),
            "boot": st.just("b1"),
        },
        optional={
            "ts_ms": TS,
            "agent_version": TEXT,
            "facts": st.dictionaries(TEXT, SCALARS, max_size=3),
        },
    )


EVENT_DATA = st.fixed_dictionaries(
    {},
    optional={
        "method": st.one_of(st.sampled_from(["http", "iperf3"]), TEXT),
        "down_mbps": st.floats(min_value=0, max_value=20_000),
        "up_mbps": st.floats(min_value=0, max_value=20_000),
        "path": st.one_of(st.just("/interface"), TEXT),
    },
).flatmap(lambda known: st.dictionaries(TEXT, SCALARS, max_size=3).map(known.__or__))


def event(point: str) -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries(
        {
            "v": st.just(1),
            "point": st.just(point),
            "ts_ms": TS,
            "kind": st.sampled_from(["capacity", "capacity", "reboot", "source_error"]),
        },
        optional={"message": TEXT, "data": EVENT_DATA},
    )


@st.composite
def mutated(draw: st.DrawFn, body: dict[str, Any]) -> Any:
    """Up to two places in the message replaced by anything, or removed."""
    for _ in range(draw(st.integers(min_value=0, max_value=2))):
        target: Any = body
        samples, data = body.get("samples"), body.get("data")
        if isinstance(samples, list) and samples and draw(st.booleans()):
            target = samples[draw(st.integers(min_value=0, max_value=len(samples) - 1))]
        elif isinstance(data, dict) and data and draw(st.booleans()):
            target = data
        if not isinstance(target, dict) or not target:
            continue
        keys = sorted(target)
        key = keys[draw(st.integers(min_value=0, max_value=len(keys) - 1))]
        if draw(st.integers(min_value=0, max_value=4)) == 0:
            del target[key]
        else:
            target[key] = draw(JSON)
    return body


def _encode(body: Any, ascii_only: bool) -> bytes:
    return json.dumps(body, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


@st.composite
def mangled(draw: st.DrawFn, raw: bytes) -> bytes:
    """Cut short, or a few bytes overwritten, inserted or removed."""
    how = draw(st.sampled_from(["cut", "flip", "insert", "drop", "surrogate"]))
    at = draw(st.integers(min_value=0, max_value=max(0, len(raw) - 1)))
    if how == "cut":
        return raw[:at]
    if how == "flip":
        return raw[:at] + bytes([draw(st.integers(0, 255))]) + raw[at + 1 :]
    if how == "insert":
        return raw[:at] + draw(st.binary(min_size=1, max_size=4)) + raw[at:]
    if how == "drop":
        return raw[:at] + raw[at + 1 :]
    return raw.replace(b'"b1"', b'"\\ud800"', 1)


DEEP = st.integers(min_value=1, max_value=60_000).flatmap(
    lambda n: st.sampled_from([b"[" * n + b"]" * n, b'{"a":' * n + b"1" + b"}" * n, b"[" * n])
)
OVERSIZE = b'{"v": 1, "pad": "' + b"x" * 1_048_576 + b'"}'
BODIES = {
    (kind, point): make(point)
    for kind, make in (("telemetry", telemetry), ("state", state), ("event", event))
    for point in [*REGISTRY, "cit-99"]
}


@st.composite
def messages(draw: st.DrawFn) -> tuple[str, list[bytes], bool]:
    """(topic, payloads, retained) as the broker could hand them to the collector: a message,
    and the same message cut short at three places (a broken connection, a truncated file)."""
    point = draw(st.sampled_from([*REGISTRY, *REGISTRY, *REGISTRY, "cit-99"]))
    kind = draw(st.sampled_from(KINDS))
    topic = f"pantau/v1/{point}/{kind}"
    if draw(st.integers(min_value=0, max_value=19)) == 0:
        topic = draw(st.one_of(st.sampled_from(["pantau/v1//event", f"{topic}/x"]), TEXT))
    said = draw(
        st.sampled_from([point, point, point, point, "cit-02" if point == "cit-01" else "cit-01"])
    )
    body = draw(mutated(draw(BODIES[kind, said])))
    raw = _encode(body, draw(st.booleans()))
    shape = draw(st.integers(min_value=0, max_value=9))
    if shape == 7:
        raw = draw(mangled(raw))
    elif shape == 8:
        raw = draw(st.one_of(st.binary(max_size=64), DEEP, st.just(OVERSIZE)))
    elif shape == 9:
        raw = _encode(draw(JSON), False)
    cuts = [raw[: len(raw) * k // 4] for k in (1, 2, 3)]
    return topic, [raw, *cuts], draw(st.integers(min_value=0, max_value=9)) == 0


# -- line protocol, read the way InfluxDB 1.x reads it --------------------------------------------
_FLOAT = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_INT = re.compile(r"-?\d+i")
_BOOLS = {"t", "T", "true", "True", "TRUE", "f", "F", "false", "False", "FALSE"}
_UNESCAPE = {"\\,": ",", "\\ ": " ", "\\=": "="}


class LineError(AssertionError):
    pass


def parse_line(line: str) -> tuple[str, dict[str, str], dict[str, Any], int]:
    """measurement, tags, fields, timestamp; LineError where InfluxDB would refuse the line."""
    pos = 0

    def name(stops: str) -> str:
        nonlocal pos
        out = []
        while pos < len(line) and line[pos] not in stops:
            if line[pos] == "\n":
                raise LineError(f"raw newline at {pos}")
            if line[pos] == "\\":
                if pos + 1 >= len(line):
                    raise LineError("dangling backslash")
                pair = line[pos : pos + 2]
                out.append(_UNESCAPE.get(pair, pair))
                pos += 2
            else:
                out.append(line[pos])
                pos += 1
        text = "".join(out)
        if not text:
            raise LineError(f"empty name at {pos}")
        return text

    def expect(char: str) -> None:
        nonlocal pos
        if pos >= len(line) or line[pos] != char:
            raise LineError(f"expected {char!r} at {pos}")
        pos += 1

    measurement = name(", ")
    tags: dict[str, str] = {}
    while pos < len(line) and line[pos] == ",":
        pos += 1
        key = name("=, ")
        expect("=")
        if key in tags:
            raise LineError(f"tag {key!r} twice")
        tags[key] = name(", ")
    expect(" ")
    fields: dict[str, Any] = {}
    while True:
        key = name("=, ")
        expect("=")
        if key in fields or key == "time":
            raise LineError(f"field {key!r} twice or reserved")
        fields[key] = _field_value(line, pos)
        pos = fields[key][1]
        fields[key] = fields[key][0]
        if pos < len(line) and line[pos] == ",":
            pos += 1
            continue
        break
    expect(" ")
    stamp = line[pos:]
    if not re.fullmatch(r"-?\d+", stamp):
        raise LineError(f"bad timestamp {stamp[:30]!r}")
    return measurement, tags, fields, int(stamp)


def _field_value(line: str, pos: int) -> tuple[Any, int]:
    if pos < len(line) and line[pos] == '"':
        out = []
        pos += 1
        while pos < len(line):
            char = line[pos]
            if char == "\\" and pos + 1 < len(line) and line[pos + 1] in '"\\':
                out.append(line[pos + 1])
                pos += 2
            elif char == '"':
                return "".join(out), pos + 1
            else:
                out.append(char)
                pos += 1
        raise LineError("unbalanced quotes")
    end = pos
    while end < len(line) and line[end] not in ", ":
        end += 1
    text = line[pos:end]
    if _INT.fullmatch(text):
        value = int(text[:-1])
        if not -(2**63) <= value < 2**63:
            raise LineError(f"integer out of range {text[:30]}")
        return value, end
    if text in _BOOLS:
        return text.lower().startswith("t"), end
    if _FLOAT.fullmatch(text) and math.isfinite(float(text)):
        return float(text), end
    raise LineError(f"bad field value {text[:30]!r}")
