"""What each point is doing now, from what the readers gathered. Pure.

A point is in one of five states:
- `up`: its latest sample says the router answers and the WAN is up (or not probed);
- `provider_down`: the router answers but its WAN probes fail;
- `unreachable`: the agent lives but cannot read its router (power cut at the router, a fault);
- `silent`: the agent is offline (its Will fired) or no sample arrived for `silent_after_s`;
- `unknown`: never heard of in the lookback window (not installed yet, or long gone).

`since_ms` is taken from the stored samples, not from when someone looked, so an outage's
start and end are the same whether the NOC watched it live or learned of it later.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from pantau.shared.registry import WIB, Point, Registry


class PointState(StrEnum):
    UP = "up"
    PROVIDER_DOWN = "provider_down"
    UNREACHABLE = "unreachable"
    SILENT = "silent"
    UNKNOWN = "unknown"


STATE_CODES = {
    PointState.UP: 0,
    PointState.PROVIDER_DOWN: 1,
    PointState.UNREACHABLE: 2,
    PointState.SILENT: 3,
    PointState.UNKNOWN: 4,
}
DOWN_STATES = frozenset({PointState.PROVIDER_DOWN, PointState.UNREACHABLE, PointState.SILENT})


@dataclass(frozen=True, slots=True)
class Latest:
    """The newest stored sample of a point."""

    ts_ms: int
    device_up: bool = True
    wan_up: bool | None = None
    clients: int | None = None
    rx_bps: float | None = None
    tx_bps: float | None = None
    rtt_ms: float | None = None
    loss_pct: float | None = None

    @property
    def state(self) -> PointState:
        if not self.device_up:
            return PointState.UNREACHABLE
        if self.wan_up is False:
            return PointState.PROVIDER_DOWN
        return PointState.UP

    @classmethod
    def from_row(cls, row: dict[str, object]) -> Latest:
        clients = next(
            (
                row[k]
                for k in ("clients_hotspot", "clients_assoc", "clients_dhcp")
                if row.get(k) is not None
            ),
            None,
        )
        return cls(
            ts_ms=int(row["time"]),  # type: ignore[call-overload]
            device_up=row.get("device_up") is not False,
            wan_up=row.get("wan_up"),  # type: ignore[arg-type]
            clients=int(clients) if clients is not None else None,  # type: ignore[call-overload]
            rx_bps=_float(row.get("rx_bps")),
            tx_bps=_float(row.get("tx_bps")),
            rtt_ms=_float(row.get("rtt_ms")),
            loss_pct=_float(row.get("loss_pct")),
        )


@dataclass(frozen=True, slots=True)
class AgentState:
    """The retained `state` message of a point (birth or Will)."""

    online: bool
    boot: str
    ts_ms: int | None = None
    version: str | None = None
    spool: str | None = None  # ok, disk_full, degraded (wire v2); None from older agents


@dataclass(frozen=True, slots=True)
class CapacityTest:
    ts_ms: int
    direction: str
    mbps: float


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything read about one point; None where nothing is known."""

    latest: Latest | None = None
    last_seen_ms: int | None = None  # newest sample in the lookback window
    run_start_ms: int | None = None  # first sample of the latest sample's state, this run
    agent: AgentState | None = None
    tests: tuple[CapacityTest, ...] = ()  # newest first


@dataclass(frozen=True, slots=True)
class PointView:
    point: Point
    state: PointState
    since_ms: int | None
    last_seen_ms: int | None
    latest: Latest | None
    agent: AgentState | None
    tests: tuple[CapacityTest, ...]
    committed_down_mbps: float | None
    committed_up_mbps: float | None

    @property
    def id(self) -> str:
        return self.point.id

    def last_test(self, direction: str) -> CapacityTest | None:
        return next((t for t in self.tests if t.direction == direction), None)

    def committed(self, direction: str) -> float | None:
        return self.committed_down_mbps if direction == "down" else self.committed_up_mbps


def classify(
    point: Point,
    facts: Facts,
    now_ms: int,
    silent_after_s: float,
    committed: tuple[float | None, float | None] = (None, None),
) -> PointView:
    latest = facts.latest
    last_seen = facts.last_seen_ms
    if last_seen is None and latest is not None:
        last_seen = latest.ts_ms
    agent = facts.agent
    if agent is not None and not agent.online:
        state, since = PointState.SILENT, last_seen if last_seen is not None else agent.ts_ms
    elif last_seen is None:
        state, since = PointState.UNKNOWN, agent.ts_ms if agent is not None else None
    elif latest is None or now_ms - last_seen > silent_after_s * 1000:
        state, since = PointState.SILENT, last_seen
    else:
        state, since = latest.state, facts.run_start_ms
    return PointView(
        point=point,
        state=state,
        since_ms=since,
        last_seen_ms=last_seen,
        latest=latest,
        agent=facts.agent,
        tests=facts.tests,
        committed_down_mbps=committed[0],
        committed_up_mbps=committed[1],
    )


def committed_mbps(registry: Registry, point: Point, now_ms: int) -> tuple[float, float] | None:
    """The committed (down, up) Mbps of the point's contract today (WIB), if one covers it."""
    day = dt.datetime.fromtimestamp(now_ms / 1000, WIB).date()
    contract = registry.contract_on(point.provider, day)
    if contract is None:
        return None
    terms = contract.terms_for(point.kelurahan)
    return terms.down_mbps, terms.up_mbps


def in_service(point: Point, now_ms: int) -> bool:
    day = dt.datetime.fromtimestamp(now_ms / 1000, WIB).date()
    if point.installed is not None and day < point.installed:
        return False
    return point.removed is None or day < point.removed


@dataclass(frozen=True)
class KelurahanView:
    name: str
    kecamatan: str
    points: tuple[PointView, ...]
    counts: dict[PointState, int] = field(default_factory=dict)

    @classmethod
    def of(cls, name: str, kecamatan: str, points: Iterable[PointView]) -> KelurahanView:
        ordered = tuple(sorted(points, key=lambda v: v.id))
        counts = {s: 0 for s in PointState}
        for view in ordered:
            counts[view.state] += 1
        return cls(name, kecamatan, ordered, counts)

    @property
    def down(self) -> int:
        return sum(self.counts[s] for s in DOWN_STATES)

    def newest_sample_ms(self) -> int | None:
        seen = [v.last_seen_ms for v in self.points if v.last_seen_ms is not None]
        return max(seen) if seen else None

    def clients(self) -> int | None:
        values = [
            v.latest.clients
            for v in self.points
            if v.state not in (PointState.SILENT, PointState.UNKNOWN)
            and v.latest is not None
            and v.latest.clients is not None
        ]
        return sum(values) if values else None

    def throughput_bps(self) -> float | None:
        """Current rx + tx of every point that reports, summed."""
        values = [
            (v.latest.rx_bps or 0.0) + (v.latest.tx_bps or 0.0)
            for v in self.points
            if v.state not in (PointState.SILENT, PointState.UNKNOWN)
            and v.latest is not None
            and (v.latest.rx_bps is not None or v.latest.tx_bps is not None)
        ]
        return sum(values) if values else None

    def last_test(self) -> tuple[PointView, CapacityTest] | None:
        """The newest download test in the kelurahan (upload when no download was measured)."""
        best: tuple[PointView, CapacityTest] | None = None
        for view in self.points:
            for test in view.tests:
                if best is None or (test.ts_ms, test.direction == "down") > (
                    best[1].ts_ms,
                    best[1].direction == "down",
                ):
                    best = (view, test)
        return best


def group_by_kelurahan(views: Iterable[PointView]) -> list[KelurahanView]:
    groups: dict[str, list[PointView]] = {}
    kecamatan: dict[str, str] = {}
    for view in views:
        groups.setdefault(view.point.kelurahan, []).append(view)
        kecamatan[view.point.kelurahan] = view.point.kecamatan
    return [KelurahanView.of(name, kecamatan[name], groups[name]) for name in sorted(groups)]


def _float(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
