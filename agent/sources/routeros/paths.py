"""The table of what one poll reads from a router: one registration per RouterOS path, here only.

Each entry asks through `call` (the device I/O lives in source.py) and hands the reply to the
pure parsers in parse.py. An entry returns the Reading fields it fills; if its path fails, only
those fields stay null and the source reports one issue under the entry's path. Entries run in
the order registered; `once` entries run once per connection (facts, stack detection).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pantau.agent.sources.routeros import parse

if TYPE_CHECKING:
    from pantau.agent.clock import Clock
    from pantau.agent.sources.routeros.config import RouterOSSourceConfig

Rows = list[parse.Row]
Call = Callable[..., Rows]  # call(path, command, *words) -> rows of !re (or the !done =ret=)
Fields = dict[str, object]


@dataclass
class Context:
    """What one connection has learned: version and wireless stack are detected once per
    connection (a reconnect may meet an upgraded router), facts go to the state message."""

    config: RouterOSSourceConfig
    clock: Clock
    version: tuple[int, int, int] | None = None
    wireless: str | None = None
    facts: dict[str, str] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class PathSpec:
    path: str
    read: Reader
    once: bool


PATHS: list[PathSpec] = []


Reader = Callable[[Context, Call], Fields]


def register(path: str, *, once: bool = False) -> Callable[[Reader], Reader]:
    def add(read: Reader) -> Reader:
        PATHS.append(PathSpec(path=path, read=read, once=once))
        return read

    return add


def proplist(*keys: str) -> str:
    return "=.proplist=" + ",".join(keys)


COUNT_ONLY = "=count-only="
RESOURCE_KEYS = ("uptime", "cpu-load", "free-memory", "total-memory", "version", "board-name")
RESOURCE_KEYS += ("architecture-name",)
INTERFACE_KEYS = ("name", "rx-byte", "tx-byte", "rx-packet", "tx-packet", "rx-error", "tx-error")
INTERFACE_KEYS += ("running", "link-downs")


@register("/system/resource")
def system_resource(ctx: Context, call: Call) -> Fields:
    rows = call(
        "/system/resource",
        "print",
        proplist(*RESOURCE_KEYS),
    )
    res = parse.parse_resource(rows)
    ctx.version = parse.parse_version(res.version)
    ctx.facts["version"] = res.version
    if res.board:
        ctx.facts["model"] = res.board
    if res.architecture:
        ctx.facts["architecture"] = res.architecture
    return {"uptime_s": res.uptime_s, "cpu_pct": res.cpu_pct, "mem_used_pct": res.mem_used_pct}


@register("/system/identity", once=True)
def system_identity(ctx: Context, call: Call) -> Fields:
    row = parse.only_row(call("/system/identity", "print"), "/system/identity")
    ctx.facts["identity"] = str(row.get("name", ""))
    return {}


@register("/system/package", once=True)
def system_package(ctx: Context, call: Call) -> Fields:
    """Wireless stack detection. Runs after /system/resource, which set the version."""
    choice = ctx.config.wireless
    if choice == "none":
        ctx.wireless = None
        return {}
    if choice != "auto":
        ctx.wireless = choice
    else:
        rows = call("/system/package", "print", proplist("name", "disabled"))
        ctx.wireless = parse.wireless_stack(ctx.version or (0, 0, 0), rows)
    ctx.facts["wireless"] = ctx.wireless
    return {}


@register("/interface")
def wan_interface(ctx: Context, call: Call) -> Fields:
    name = ctx.config.wan_interface
    rows = call(
        "/interface",
        "print",
        proplist(*INTERFACE_KEYS),
        f"?name={name}",
    )
    at_s = ctx.clock.monotonic()
    iface = parse.parse_interface(rows, name)
    return {
        "at_s": at_s,
        "counters": iface.counters,
        "link_up": iface.running,
        "link_downs": iface.link_downs,
    }


@register("/system/health")
def system_health(ctx: Context, call: Call) -> Fields:
    return {"temp_c": parse.parse_health(call("/system/health", "print"))}


@register("/ip/hotspot/active")
def hotspot_sessions(ctx: Context, call: Call) -> Fields:
    """count-only: one short `!done =ret=N` however many sessions the hotspot holds."""
    return {"clients_hotspot": parse.parse_count(call("/ip/hotspot/active", "print", COUNT_ONLY))}


@register("/ip/dhcp-server/lease")
def dhcp_bound(ctx: Context, call: Call) -> Fields:
    rows = call("/ip/dhcp-server/lease", "print", COUNT_ONLY, "?status=bound")
    return {"clients_dhcp": parse.parse_count(rows)}


@register("registration-table")
def associated_stations(ctx: Context, call: Call) -> Fields:
    """Stations on the router's own radios plus (legacy stack) those of its CAPsMAN APs.

    A failing table raises with its own path (e.g. /interface/wifi/registration-table)."""
    if ctx.wireless is None:
        return {}
    total = 0
    for table in parse.WIRELESS_TABLES[ctx.wireless]:
        total += parse.parse_count(call(table, "print", COUNT_ONLY))
    return {"clients_assoc": total}


@register("/ping")
def router_ping(ctx: Context, call: Call) -> Fields:
    """The router's own view of its WAN: it pings the targets, we never leave the LAN."""
    cfg = ctx.config
    if not cfg.ping_targets:
        return {}
    interval_ms = max(10, round(cfg.ping_interval_s * 1000))
    results = []
    for target in cfg.ping_targets:
        rows = call(
            "/ping",
            "",
            f"=address={target}",
            f"=count={cfg.ping_count}",
            f"=interval={interval_ms}ms",
        )
        results.append(parse.parse_ping(rows, target))
    return {"reachability": parse.summarize_pings(results)}
