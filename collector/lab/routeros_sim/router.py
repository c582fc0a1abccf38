"""One simulated router: its state (uptime, counters, clients, packages) and its faults.

Everything here is plain state behind a lock, so a test thread can script faults while the
server's event loop answers from the same object. Counters advance with simulated traffic in
real (monotonic) time, so an agent polling twice sees exactly the configured rate.
"""

from __future__ import annotations

import codecs
import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from pantau.collector.lab.routeros_sim.dialect import Dialect, load_dialect, row_templates

Row = dict[str, str]
DEFAULT = "default"


class NoSuchPathError(Exception):
    """The router has no such menu (path missing, or its package is not installed)."""


class PathTrapError(Exception):
    """The menu exists but answers with a trap (e.g. a board without health sensors)."""


@dataclass
class RouterSpec:
    """How a simulated router starts. Everything can be changed later through SimRouter."""

    name: str = "r0"
    dialect: str = "7.18"
    username: str = "pantau"
    password: str = "pantau-sim"
    login: Literal["plain", "challenge"] = "plain"  # challenge: a router before 6.43
    identity: str | None = None
    # How its text goes on the wire: "utf-8", or a legacy code page ("cp1252": names set from
    # an old Winbox on Windows).
    encoding: str = "utf-8"
    wan_interface: str = "ether1"  # the name of its WAN port (the dialect's first interface)
    rx_bps: float = 20_000_000.0
    tx_bps: float = 4_000_000.0
    rx_bytes: int = 5_123_456_789_012  # beyond 32 bits, as a router up for weeks has
    tx_bytes: int = 987_654_321_098
    rx_packets: int | None = None  # None: one packet per 1,400 bytes received ...
    tx_packets: int | None = None  # ... and per 600 bytes sent
    rx_errors: int = 0
    tx_errors: int = 0
    link_downs: int = 0  # WAN link losses before the simulation starts
    uptime_s: float = 3 * 86_400 + 4 * 3_600 + 5 * 60 + 6
    hotspot_sessions: int = 25
    associated: int = 18
    capsman_clients: int = 0
    dhcp_bound: int = 30
    dhcp_waiting: int = 2
    ping_rtt_ms: float = 12.412
    # Round trips of successive probes, repeating (None: no answer, while the WAN is up);
    # empty: ping_rtt_ms with small fixed offsets (commands.PING_OFFSETS_MS).
    ping_script: tuple[float | None, ...] = ()
    wireless_package: str | None = DEFAULT  # None: no wireless package installed
    health: Literal["sensors", "none", "trap"] = "sensors"
    durations: Literal["letters", "clock"] = "letters"  # clock: old `2w6d13:21:53` style


@dataclass
class Faults:
    """What can go wrong, changeable at any time."""

    hang: bool = False  # accept and read, never answer (login included)
    reply_delay_s: float = 0.0  # wait before each reply
    split_writes: int | None = None  # send replies in chunks of this many bytes
    drop_replies: int = 0  # cut this many coming replies off halfway and close the connection
    drop_on: str | None = None  # only replies to commands under this path count for drop_replies


COUNTER_WRAP = 2**64  # RouterOS counters are 64-bit and wrap


@dataclass
class Counters:
    """Whole counters as the router shows them; traffic is added exactly (no float rounding),
    so a counter next to its 64-bit wrap reads as set."""

    rx_bytes: int
    tx_bytes: int
    rx_packets: int
    tx_packets: int
    carry: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0, 0.0])  # fractions

    def add(self, rx_bytes: float, tx_bytes: float) -> None:
        moved = (rx_bytes, tx_bytes, rx_bytes / 1_400, tx_bytes / 600)
        totals = [self.rx_bytes, self.tx_bytes, self.rx_packets, self.tx_packets]
        for i, amount in enumerate(moved):
            exact = self.carry[i] + amount
            whole = int(exact)
            self.carry[i] = exact - whole
            totals[i] = (totals[i] + whole) % COUNTER_WRAP
        self.rx_bytes, self.tx_bytes, self.rx_packets, self.tx_packets = totals


@dataclass
class SimRouter:
    spec: RouterSpec
    clock: Callable[[], float] = time.monotonic
    faults: Faults = field(default_factory=Faults)

    def __post_init__(self) -> None:
        try:
            codecs.lookup(self.spec.encoding)
        except LookupError:
            raise ValueError(f"RouterSpec.encoding: unknown {self.spec.encoding!r}") from None
        self.dialect: Dialect = load_dialect(self.spec.dialect)
        self.lock = threading.RLock()
        self.password = self.spec.password
        self.rx_bps = self.spec.rx_bps
        self.tx_bps = self.spec.tx_bps
        self.hotspot_sessions = self.spec.hotspot_sessions
        self.associated = self.spec.associated
        self.capsman_clients = self.spec.capsman_clients
        self.dhcp_bound = self.spec.dhcp_bound
        self.dhcp_waiting = self.spec.dhcp_waiting
        self.health = self.spec.health
        self.wan_up = True
        self.link_downs = self.spec.link_downs
        self.boot_id = 0
        self.requests = 0  # API commands answered, for tests and the benchmark
        self.logins = 0
        self.bytes_sent = 0  # API reply bytes, to show count-only replies stay short
        self.packages = self._initial_packages()
        now = self.clock()
        self._boot_at = now - self.spec.uptime_s
        self._last = now
        spec = self.spec
        self._counters = Counters(
            rx_bytes=spec.rx_bytes,
            tx_bytes=spec.tx_bytes,
            rx_packets=spec.rx_bytes // 1_400 if spec.rx_packets is None else spec.rx_packets,
            tx_packets=spec.tx_bytes // 600 if spec.tx_packets is None else spec.tx_packets,
        )

    # --- scripting -------------------------------------------------------------------------

    def reboot(self) -> None:
        """Uptime and counters start again from zero; open API sessions are cut."""
        with self.lock:
            now = self.clock()
            self._boot_at = now
            self._last = now
            self._counters = Counters(0, 0, 0, 0)
            self.link_downs = 0
            self.boot_id += 1

    def set_wan(self, up: bool) -> None:
        """The WAN port loses (or regains) its link: counters stop, pings time out."""
        with self.lock:
            self._advance()
            if self.wan_up and not up:
                self.link_downs += 1
            self.wan_up = up

    def set_traffic(self, rx_bps: float, tx_bps: float) -> None:
        with self.lock:
            self._advance()
            self.rx_bps, self.tx_bps = rx_bps, tx_bps

    def set_clients(
        self,
        hotspot: int | None = None,
        associated: int | None = None,
        dhcp_bound: int | None = None,
        capsman: int | None = None,
    ) -> None:
        with self.lock:
            if hotspot is not None:
                self.hotspot_sessions = hotspot
            if associated is not None:
                self.associated = associated
            if dhcp_bound is not None:
                self.dhcp_bound = dhcp_bound
            if capsman is not None:
                self.capsman_clients = capsman

    def remove_package(self, name: str) -> None:
        with self.lock:
            self.packages = [p for p in self.packages if p["name"] != name]

    def set_package_disabled(self, name: str, disabled: bool = True) -> None:
        """An installed package switched off: still listed, its menus gone."""
        with self.lock:
            for package in self.packages:
                if package["name"] == name:
                    package["disabled"] = "true" if disabled else "false"

    def add_package(self, name: str) -> None:
        with self.lock:
            if all(p["name"] != name for p in self.packages):
                self.packages.append(self._package(name))

    def set_password(self, password: str) -> None:
        with self.lock:
            self.password = password

    # --- what the API reads --------------------------------------------------------------------

    @property
    def uptime_s(self) -> float:
        return max(0.0, self.clock() - self._boot_at)

    def counters(self) -> Counters:
        with self.lock:
            self._advance()
            c = self._counters
            return Counters(c.rx_bytes, c.tx_bytes, c.rx_packets, c.tx_packets, list(c.carry))

    def has_path(self, path: str) -> bool:
        """False for a menu whose package is missing (the router says `no such command prefix`)."""
        installed = {p["name"] for p in self.packages if p.get("disabled") != "true"}
        providers = [
            pkg
            for pkg, prefixes in self.dialect.package_paths.items()
            if any(path == pre or path.startswith(pre + "/") for pre in prefixes)
        ]
        return not providers or any(pkg in installed for pkg in providers)

    def table(self, path: str) -> list[Row]:
        """Rows a `print` of this menu lists. Raises NoSuchPathError or PathTrapError."""
        reader = TABLES.get(path)
        if reader is None or not self.has_path(path):
            raise NoSuchPathError(path)
        with self.lock:
            return reader(self)

    def format_duration(self, seconds: float) -> str:
        return format_duration(seconds, self.spec.durations)

    # --- internals -----------------------------------------------------------------------------

    def _advance(self) -> None:
        now = self.clock()
        elapsed = max(0.0, now - self._last)
        self._last = now
        if not self.wan_up or elapsed == 0:
            return
        self._counters.add(self.rx_bps * elapsed / 8, self.tx_bps * elapsed / 8)

    def _package(self, name: str) -> dict[str, str]:
        template = dict(self.dialect.packages[0])
        template["name"] = name
        return template

    def _initial_packages(self) -> list[dict[str, str]]:
        """The dialect's packages in its order, its wireless package replaced in place by the
        spec's choice (or left out)."""
        wireless = self.dialect.wireless_package
        chosen = wireless if self.spec.wireless_package == DEFAULT else self.spec.wireless_package
        packages = []
        for package in self.dialect.packages:
            if package["name"] != wireless:
                packages.append(dict(package))
            elif chosen is not None:
                packages.append(self._package(chosen))
        return packages


# --- tables ---------------------------------------------------------------------------------


def _with_ids(rows: list[Row], start: int = 1) -> list[Row]:
    return [{".id": f"*{start + i:X}", **row} for i, row in enumerate(rows)]


def _resource(r: SimRouter) -> list[Row]:
    row = dict(r.dialect.resource)
    row["uptime"] = r.format_duration(int(r.uptime_s))
    return [row]


def _identity(r: SimRouter) -> list[Row]:
    return [{"name": r.spec.identity or r.spec.name}]


def _packages(r: SimRouter) -> list[Row]:
    return _with_ids([dict(p) for p in r.packages])


def _health(r: SimRouter) -> list[Row]:
    if r.health == "trap":
        raise PathTrapError("not supported on this board")
    if r.health == "none":
        return []
    sensors = r.dialect.health_sensors
    if r.dialect.health_style == "row":
        return [dict(sensors)]
    return _with_ids(
        [{"name": n, "value": v[0], "type": v[1]} for n, v in sensors.items()], start=0xD
    )


def _interfaces(r: SimRouter) -> list[Row]:
    rows = _with_ids([dict(i) for i in r.dialect.interfaces])
    rows[0]["name"] = r.spec.wan_interface  # the dialect's first port faces the provider
    c = r.counters()
    for row in rows:
        if row["name"] == r.spec.wan_interface:
            row.update(
                {
                    "rx-byte": str(int(c.rx_bytes)),
                    "tx-byte": str(int(c.tx_bytes)),
                    "rx-packet": str(int(c.rx_packets)),
                    "tx-packet": str(int(c.tx_packets)),
                    "fp-rx-byte": str(int(c.rx_bytes)),
                    "fp-rx-packet": str(int(c.rx_packets)),
                    "rx-error": str(r.spec.rx_errors),
                    "tx-error": str(r.spec.tx_errors),
                    "link-downs": str(r.link_downs),
                    "running": "true" if r.wan_up else "false",
                }
            )
    return rows


def _client_values(i: int) -> dict[str, str]:
    octets = [(i * 2_654_435_761 >> shift) & 0xFF for shift in (24, 16, 8, 0)]
    mac = ":".join(["02", "5A"] + [f"{o:02X}" for o in octets])
    return {
        "n": f"{i + 1:X}",
        "mac": mac,
        "macl": mac.lower(),
        "hex": "".join(f"{o:02x}" for o in octets),
        "ip": f"10.5.{50 + i // 250}.{i % 250 + 2}",
        "uptime": format_duration(60 + (i * 37) % 7_200),
        "left": format_duration(3_600 - (i * 13) % 3_000),
        "expires": format_duration(600 - (i * 7) % 500),
        "seen": format_duration((i * 3) % 50),
        "status": "bound",
    }


@functools.lru_cache(maxsize=256)
def client_rows(kind: str, count: int, bound: int | None = None) -> tuple[Row, ...]:
    """Rows of a client table (sessions, leases, stations). They are the same for every router
    with the same counts, so a fleet of hundreds builds each list once."""
    templates = row_templates()
    template = templates["registration_tables"].get(kind) or templates[kind]
    rows = []
    for i in range(count):
        values = _client_values(i)
        if bound is not None and i >= bound:
            values["status"] = "waiting"
        rows.append({k: v.format_map(values) for k, v in template.items()})
    return tuple(rows)


def _hotspot(r: SimRouter) -> list[Row]:
    return list(client_rows("hotspot_session", r.hotspot_sessions))


def _leases(r: SimRouter) -> list[Row]:
    return list(client_rows("lease", r.dhcp_bound + r.dhcp_waiting, r.dhcp_bound))


def _registration(path: str) -> Callable[[SimRouter], list[Row]]:
    def read(r: SimRouter) -> list[Row]:
        count = r.capsman_clients if path.startswith("/caps-man") else r.associated
        return list(client_rows(path, count))

    return read


TABLES: dict[str, Callable[[SimRouter], list[Row]]] = {
    "/system/resource": _resource,
    "/system/identity": _identity,
    "/system/package": _packages,
    "/system/health": _health,
    "/interface": _interfaces,
    "/ip/hotspot/active": _hotspot,
    "/ip/dhcp-server/lease": _leases,
    **{
        path: _registration(path)
        for path in (
            "/interface/wireless/registration-table",
            "/caps-man/registration-table",
            "/interface/wifiwave2/registration-table",
            "/interface/wifi/registration-table",
        )
    },
}


@functools.lru_cache(maxsize=65_536)
def format_duration(seconds: float, style: str = "letters") -> str:
    """RouterOS durations: `3d4h5m6s` (zero units left out), or the old `3d04:05:06`."""
    whole = int(seconds)
    weeks, rest = divmod(whole, 604_800)
    days, rest = divmod(rest, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if style == "clock":
        head = (f"{weeks}w" if weeks else "") + (f"{days}d" if days else "")
        return f"{head}{hours:02d}:{minutes:02d}:{secs:02d}"
    parts = [(weeks, "w"), (days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    text = "".join(f"{v}{u}" for v, u in parts if v)
    return text or "0s"


def format_ping_time(ms: float, style: str) -> str:
    """ROS 7 gives `12ms412us`, ROS 6 whole milliseconds `12ms`."""
    if style == "ms":
        return f"{int(ms)}ms"
    whole_ms, us = divmod(round(ms * 1000), 1000)
    text = (f"{whole_ms}ms" if whole_ms else "") + (f"{us}us" if us else "")
    return text or "0us"
