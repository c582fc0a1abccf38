"""Pure parsing of RouterOS API replies: no sockets here, so every format is tested with fixtures.

Rows arrive as librouteros gives them: dicts of str → str | int | bool (it casts `5` to 5 and
`true`/`yes` to True). Every parser takes those values as they come and raises ValueError on
anything it cannot read, so the caller turns one bad field into one null and one issue.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pantau.agent.sources.base import Counters, Reachability
from pantau.agent.sources.reachability import reachability

Row = Mapping[str, object]

_UNIT_S = {"w": 604_800.0, "d": 86_400.0, "h": 3_600.0, "m": 60.0, "s": 1.0, "ms": 1e-3}
_UNIT_S |= {"us": 1e-6, "ns": 1e-9}
_LETTERS = re.compile(r"(\d+(?:\.\d+)?)(ms|us|ns|w|d|h|m|s)")
_CLOCK = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(\d+):(\d{1,2}):(\d{1,2}(?:\.\d+)?)$")
_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?")


def parse_duration(value: object) -> float:
    """Seconds from `1w2d3h4m5s`, `10ms164us`, `2w6d13:21:53` or `00:00:00.060`.

    RouterOS 6 printed some durations as a clock (`13:21:53`, after weeks and days); newer
    releases spell every unit. A bare number is seconds.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    if not text:
        raise ValueError("empty duration")
    clock = _CLOCK.match(text)
    if clock:
        weeks, days, hours, minutes, seconds = clock.groups()
        return (
            int(weeks or 0) * 604_800
            + int(days or 0) * 86_400
            + int(hours) * 3_600
            + int(minutes) * 60
            + float(seconds)
        )
    total = 0.0
    position = 0
    for match in _LETTERS.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNIT_S[match.group(2)]
        position = match.end()
    if position != len(text) or position == 0:
        raise ValueError(f"not a duration: {text!r}")
    return total


def parse_version(text: object) -> tuple[int, int, int]:
    """`7.14.3 (stable)` → (7, 14, 3); `7.18beta2 (testing)` → (7, 18, 0)."""
    match = _VERSION.match(str(text).strip())
    if not match:
        raise ValueError(f"not a RouterOS version: {text!r}")
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


def as_int(value: object, what: str) -> int:
    """An integer field; librouteros already casts most of them, text digits are accepted too."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{what}: expected a number, got {value!r}")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not text.isdigit():
        raise ValueError(f"{what}: expected a number, got {value!r}")
    return int(text)


def as_float(value: object, what: str) -> float:
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{what}: expected a number, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).strip().rstrip("%"))
    except ValueError:
        raise ValueError(f"{what}: expected a number, got {value!r}") from None


def as_bool(value: object, what: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes"):
        return True
    if text in ("false", "no"):
        return False
    raise ValueError(f"{what}: expected true/false, got {value!r}")


def only_row(rows: list[Row], what: str) -> Row:
    if len(rows) != 1:
        raise ValueError(f"{what}: expected one row, got {len(rows)}")
    return rows[0]


def parse_count(rows: list[Row]) -> int:
    """A `count-only` print answers `!done =ret=N`, which librouteros returns as [{'ret': N}]."""
    row = only_row(rows, "count-only reply")
    if "ret" not in row:
        raise ValueError("count-only reply without =ret=")
    return as_int(row["ret"], "ret")


@dataclass(frozen=True)
class Interface:
    counters: Counters
    running: bool | None
    link_downs: int | None


class NotFoundError(ValueError):
    """What the config names is not on the router; the message says what is."""


NAMES_SHOWN_CHARS = 300  # an event message holds 500 characters at most


def missing_interface(name: str, known: Sequence[str] | None) -> str:
    """`interface 'ether1' not found on the router; did you mean 'ether1-wan'? ...`: the
    router's own names, so the fix can be read off the first event."""
    text = f"interface {name!r} not found on the router"
    if known is None:
        return f"{text}; set wan_interface to its port facing the provider"
    if not known:
        return f"{text}, which lists no interfaces"
    wanted = name.casefold()
    close = [k for k in known if wanted in k.casefold() or k.casefold() in wanted][:3]
    shown: list[str] = []
    for candidate in known:
        if len(", ".join([*shown, candidate])) > NAMES_SHOWN_CHARS:
            break
        shown.append(candidate)
    names = ", ".join(shown)
    if len(shown) < len(known):
        names += f" and {len(known) - len(shown)} more"
    hint = f"; did you mean {' or '.join(repr(k) for k in close)}?" if close else "."
    return f"{text}{hint} It has: {names}. Set wan_interface to its port facing the provider."


def parse_interface(rows: list[Row], name: str, known: Sequence[str] | None = None) -> Interface:
    """One interface row from `/interface/print ?name=...`; no row means the name is wrong
    (`known`: every name the router has, for the message)."""
    if not rows:
        raise NotFoundError(missing_interface(name, known))
    row = only_row(rows, f"interface {name!r}")

    def counter(key: str) -> int | None:
        return as_int(row[key], key) if key in row else None

    running = as_bool(row["running"], "running") if "running" in row else None
    return Interface(
        counters=Counters(
            rx_bytes=counter("rx-byte"),
            tx_bytes=counter("tx-byte"),
            rx_packets=counter("rx-packet"),
            tx_packets=counter("tx-packet"),
            rx_errors=counter("rx-error"),
            tx_errors=counter("tx-error"),
        ),
        running=running,
        link_downs=counter("link-downs"),
    )


@dataclass(frozen=True)
class Resource:
    uptime_s: float
    cpu_pct: float | None
    mem_used_pct: float | None
    version: str
    board: str | None
    architecture: str | None


def parse_resource(rows: list[Row]) -> Resource:
    """`/system/resource/print`: the one row both ROS 6 and ROS 7 give, with the same keys."""
    row = only_row(rows, "/system/resource")
    if "uptime" not in row or "version" not in row:
        raise ValueError("/system/resource: uptime or version missing")
    mem_used: float | None = None
    if "total-memory" in row and "free-memory" in row:
        total = as_int(row["total-memory"], "total-memory")
        free = as_int(row["free-memory"], "free-memory")
        if total > 0 and 0 <= free <= total:
            mem_used = round((total - free) * 100.0 / total, 2)
    cpu = as_float(row["cpu-load"], "cpu-load") if "cpu-load" in row else None
    return Resource(
        uptime_s=parse_duration(row["uptime"]),
        cpu_pct=cpu,
        mem_used_pct=mem_used,
        version=str(row["version"]),
        board=str(row["board-name"]) if "board-name" in row else None,
        architecture=str(row["architecture-name"]) if "architecture-name" in row else None,
    )


# Sensors in order of preference: the CPU's own, then the board's.
TEMPERATURE_SENSORS = ("cpu-temperature", "temperature", "board-temperature1", "switch-temperature")


def parse_health(rows: list[Row]) -> float | None:
    """Temperature in °C from `/system/health/print`, or None for a board without a sensor.

    ROS 6 answers one row of keys (`temperature=37`, `voltage=24.1`); ROS 7 one row per sensor
    (`name=temperature value=37 type=C`). Boards without sensors answer no rows at all.
    """
    readings: dict[str, object] = {}
    for row in rows:
        if "name" in row and "value" in row:
            unit = str(row.get("type", "C")).strip()
            if unit in ("C", "°C", ""):
                readings[str(row["name"])] = row["value"]
        else:
            readings.update({k: v for k, v in row.items() if "temperature" in k})
    for sensor in TEMPERATURE_SENSORS:
        if sensor in readings:
            return as_float(readings[sensor], sensor)
    return None


def parse_ping_time_ms(value: object) -> float:
    """`1ms164us` (ROS 7), `1ms` (ROS 6), `0ms`, `00:00:00.060` → milliseconds."""
    return round(parse_duration(value) * 1000.0, 3)


@dataclass(frozen=True)
class PingResult:
    target: str
    sent: int
    received: int
    rtts_ms: tuple[float, ...]


def parse_ping(rows: list[Row], target: str) -> PingResult:
    """One `/ping address=... count=N` reply: one row per probe.

    A probe that got no answer carries `status=timeout` (or `host unreachable`) and no time.
    Rows are keyed by `seq`; a repeated seq (RouterOS prints a late reply again) counts once.
    """
    by_seq: dict[object, Row] = {}
    for index, row in enumerate(rows):
        key = row.get("seq", index)
        if key not in by_seq or ("time" in row and "status" not in row):
            by_seq[key] = row
    rtts: list[float] = []
    for row in by_seq.values():
        if "time" in row and "status" not in row:
            rtts.append(parse_ping_time_ms(row["time"]))
    return PingResult(target=target, sent=len(by_seq), received=len(rtts), rtts_ms=tuple(rtts))


def summarize_pings(results: Iterable[PingResult]) -> Reachability:
    """The router's pings, judged like every other probe (agent/sources/reachability.py)."""
    results = list(results)
    return reachability([r.rtts_ms for r in results], sum(r.sent for r in results))


# Wireless stacks: each names the registration tables that list its associated stations.
WIRELESS_TABLES = {
    "wireless": ("/interface/wireless/registration-table", "/caps-man/registration-table"),
    "wifiwave2": ("/interface/wifiwave2/registration-table",),
    "wifi": ("/interface/wifi/registration-table",),
}
_PACKAGE_STACK = {
    "wireless": "wireless",
    "wifiwave2": "wifiwave2",
    "wifi-qcom": "wifi",
    "wifi-qcom-ac": "wifi",
    "wifi-mediatek": "wifi",
}


def wireless_stack(version: tuple[int, int, int], packages: Iterable[Row] | None) -> str:
    """Which wireless stack a router runs, from its version and enabled packages.

    ROS 6 has only `wireless` (with legacy CAPsMAN). ROS 7 before 7.13 may add `wifiwave2`;
    from 7.13 the new stack is `/interface/wifi` (package wifi-qcom, wifi-qcom-ac, ...), which
    also lists CAPsMAN clients. The legacy `wireless` package still exists on ROS 7. With no
    package list (or none that matches) the version's usual stack is assumed, so a missing
    package shows as the router's own `no such command prefix` on that table.
    """
    found: list[str] = []
    for row in packages or ():
        name = str(row.get("name", ""))
        disabled = row.get("disabled", False)
        if name in _PACKAGE_STACK and not (disabled is True or str(disabled) == "true"):
            found.append(_PACKAGE_STACK[name])
    for stack in ("wifi", "wifiwave2", "wireless"):
        if stack in found:
            return stack
    if version >= (7, 13, 0):
        return "wifi"
    return "wireless"
