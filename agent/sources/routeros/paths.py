"""The table of what one poll reads from a router: one registration per RouterOS path, here only.

Each entry says which API commands it needs (`ask`) and turns their replies into Reading fields
with the pure parsers in parse.py (`read`). The source sends the commands of all entries at
once, tagged, and hands each entry its own replies; an entry whose command fails costs only its
own fields and becomes one issue under that command's path.

Entries of the `connect` stage run once per connection, before the others: the version and the
wireless stack they find decide what the `poll` stage asks (a reconnect may meet an upgraded
router).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from pantau.agent.sources.routeros import parse

if TYPE_CHECKING:
    from pantau.agent.sources.routeros.config import RouterOSSourceConfig

Rows = list[parse.Row]
Fields = dict[str, object]
Stage = Literal["connect", "poll"]


@dataclass(frozen=True)
class Command:
    """One API command. `path` names it in issues (e.g. `/ip/hotspot/active`)."""

    path: str
    words: tuple[str, ...]


@dataclass(frozen=True)
class Reply:
    rows: Rows
    at_s: float  # monotonic time its !done arrived


@dataclass
class Context:
    """What one connection has learned; facts go to the state message."""

    config: RouterOSSourceConfig
    version: tuple[int, int, int] | None = None
    wireless: str | None = None
    interfaces: tuple[str, ...] | None = None  # every interface name, in the router's order
    facts: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PathSpec:
    path: str
    stage: Stage
    ask: Callable[[Context], list[Command]]
    read: Callable[[Context, list[Reply]], Fields]


PATHS: list[PathSpec] = []
Reader = Callable[[Context, list[Reply]], Fields]


def register(
    path: str, ask: Callable[[Context], list[Command]], stage: Stage = "poll"
) -> Callable[[Reader], Reader]:
    def add(read: Reader) -> Reader:
        PATHS.append(PathSpec(path=path, stage=stage, ask=ask, read=read))
        return read

    return add


def print_(path: str, *words: str) -> Command:
    return Command(path, (f"{path}/print", *words))


def proplist(*keys: str) -> str:
    return "=.proplist=" + ",".join(keys)


COUNT_ONLY = "=count-only="
RESOURCE_KEYS = ("uptime", "cpu-load", "free-memory", "total-memory", "version", "board-name")
RESOURCE_KEYS += ("architecture-name",)
INTERFACE_KEYS = ("name", "rx-byte", "tx-byte", "rx-packet", "tx-packet", "rx-error", "tx-error")
INTERFACE_KEYS += ("running", "link-downs")


def _resource(ctx: Context, replies: list[Reply]) -> parse.Resource:
    res = parse.parse_resource(replies[0].rows)
    ctx.version = parse.parse_version(res.version)
    ctx.facts["version"] = res.version
    if res.board:
        ctx.facts["model"] = res.board
    if res.architecture:
        ctx.facts["architecture"] = res.architecture
    return res


@register("/system/resource", lambda ctx: [print_("/system/resource")], stage="connect")
def detect_version(ctx: Context, replies: list[Reply]) -> Fields:
    _resource(ctx, replies)
    return {}


@register("/system/identity", lambda ctx: [print_("/system/identity")], stage="connect")
def system_identity(ctx: Context, replies: list[Reply]) -> Fields:
    row = parse.only_row(replies[0].rows, "/system/identity")
    ctx.facts["identity"] = str(row.get("name", ""))
    return {}


def _ask_packages(ctx: Context) -> list[Command]:
    if ctx.config.wireless != "auto":
        return []
    return [print_("/system/package", proplist("name", "disabled"))]


@register("/system/package", _ask_packages, stage="connect")
def wireless_stack(ctx: Context, replies: list[Reply]) -> Fields:
    """Which registration tables count associated stations on this router."""
    choice = ctx.config.wireless
    if choice == "none":
        ctx.wireless = None
        return {}
    if choice == "auto":
        ctx.wireless = parse.wireless_stack(ctx.version or (0, 0, 0), replies[0].rows)
    else:
        ctx.wireless = choice
    ctx.facts["wireless"] = ctx.wireless
    return {}


@register("/system/resource", lambda ctx: [print_("/system/resource", proplist(*RESOURCE_KEYS))])
def system_resource(ctx: Context, replies: list[Reply]) -> Fields:
    res = _resource(ctx, replies)
    return {"uptime_s": res.uptime_s, "cpu_pct": res.cpu_pct, "mem_used_pct": res.mem_used_pct}


@register("/interface", lambda ctx: [print_("/interface", proplist("name"))], stage="connect")
def interface_names(ctx: Context, replies: list[Reply]) -> Fields:
    """Every port's name, once per connection: a wan_interface the router does not have is
    reported with the names it does have, so the technician sees the fix in the first event."""
    ctx.interfaces = tuple(str(row["name"]) for row in replies[0].rows if "name" in row)
    ctx.facts["wan_interface"] = ctx.config.wan_interface
    return {}


def _ask_interface(ctx: Context) -> list[Command]:
    name = ctx.config.wan_interface
    return [print_("/interface", proplist(*INTERFACE_KEYS), f"?name={name}")]


@register("/interface", _ask_interface)
def wan_interface(ctx: Context, replies: list[Reply]) -> Fields:
    iface = parse.parse_interface(replies[0].rows, ctx.config.wan_interface, ctx.interfaces)
    return {
        "at_s": replies[0].at_s,  # rates divide by the time between counter readings
        "counters": iface.counters,
        "link_up": iface.running,
        "link_downs": iface.link_downs,
    }


@register("/system/health", lambda ctx: [print_("/system/health")])
def system_health(ctx: Context, replies: list[Reply]) -> Fields:
    return {"temp_c": parse.parse_health(replies[0].rows)}


@register("/ip/hotspot/active", lambda ctx: [print_("/ip/hotspot/active", COUNT_ONLY)])
def hotspot_sessions(ctx: Context, replies: list[Reply]) -> Fields:
    """count-only: one short `!done =ret=N` however many sessions the hotspot holds."""
    return {"clients_hotspot": parse.parse_count(replies[0].rows)}


@register(
    "/ip/dhcp-server/lease",
    lambda ctx: [print_("/ip/dhcp-server/lease", COUNT_ONLY, "?status=bound")],
)
def dhcp_bound(ctx: Context, replies: list[Reply]) -> Fields:
    return {"clients_dhcp": parse.parse_count(replies[0].rows)}


def _ask_stations(ctx: Context) -> list[Command]:
    if ctx.wireless is None:
        return []
    return [print_(table, COUNT_ONLY) for table in parse.WIRELESS_TABLES[ctx.wireless]]


@register("registration-table", _ask_stations)
def associated_stations(ctx: Context, replies: list[Reply]) -> Fields:
    """Stations on the router's own radios plus (legacy stack) those of its CAPsMAN APs."""
    if not replies:
        return {}
    return {"clients_assoc": sum(parse.parse_count(r.rows) for r in replies)}


def _ask_pings(ctx: Context) -> list[Command]:
    cfg = ctx.config
    interval_ms = max(10, round(cfg.ping_interval_s * 1000))
    return [
        Command(
            "/ping",
            (
                "/ping",
                f"=address={target}",
                f"=count={cfg.ping_count}",
                f"=interval={interval_ms}ms",
            ),
        )
        for target in cfg.ping_targets
    ]


@register("/ping", _ask_pings)
def router_ping(ctx: Context, replies: list[Reply]) -> Fields:
    """The router's own view of its WAN: it pings the targets (all at once), the agent never
    sends a packet beyond the LAN."""
    if not replies:
        return {}
    targets = ctx.config.ping_targets
    results = [parse.parse_ping(r.rows, t) for r, t in zip(replies, targets, strict=True)]
    return {"reachability": parse.summarize_pings(results)}
