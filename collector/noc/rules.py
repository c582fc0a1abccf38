"""From what each point is doing to the conditions the alert engine judges. Pure.

Every in-service point yields one condition per point rule (active, inactive, or "cannot say"),
so a firing alert always hears when its subject is well again.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pantau.collector.noc import alerts as a
from pantau.collector.noc.config import AlertsConfig
from pantau.collector.noc.observe import DOWN_STATES, KelurahanView, PointState, PointView
from pantau.collector.noc.throughput import NullThroughput, WatchedPoint, lacks_rates

# An hour of samples with the router answering and no WAN rates: long past a restart's first
# sample (which has no rate yet), short of a day's lost evidence.

STATE_WORDS = {
    PointState.UP: "up",
    PointState.PROVIDER_DOWN: "provider down",
    PointState.UNREACHABLE: "router unreachable",
    PointState.SILENT: "agent silent",
    PointState.UNKNOWN: "unknown",
}


@dataclass(frozen=True, slots=True)
class CentralFacts:
    """The health of the centre: InfluxDB, the collector's own metrics, the agents' states."""

    influx_ok: bool
    influx_error: str = ""
    newest_sample_ms: int | None = None
    agents_online: int = 0
    metrics_ok: bool | None = None  # None: not watched
    metrics_error: str = ""
    buffer_lines: int | None = None
    buffer_batches: int | None = None
    # point -> (rewrites refused within the rule's window, when the first of them was refused)
    rewrites: Mapping[str, tuple[int, int]] | None = None


def timings(config: AlertsConfig) -> dict[str, a.Timing]:
    """Rule name → timing; rules switched off are left out."""
    rules = config.rules
    default = config.clear_s
    out: dict[str, a.Timing] = {}
    for name, rule in (
        (a.PROVIDER_DOWN, rules.provider_down),
        (a.UNREACHABLE, rules.unreachable),
        (a.SILENT, rules.silent),
        (a.NO_THROUGHPUT, rules.no_throughput),
    ):
        if rule.enabled:
            out[name] = a.Timing(rule.after_s, default if rule.clear_s is None else rule.clear_s)
    kel = rules.kelurahan_down
    if kel.enabled:
        out[a.KELURAHAN_DOWN] = a.Timing(
            kel.after_s, default if kel.clear_s is None else kel.clear_s
        )
    if rules.capacity_low.enabled:
        out[a.CAPACITY_LOW] = a.Timing(0, 0)  # a good test ends it; three bad ones start it
    if rules.evidence_rewrite.enabled:
        out[a.EVIDENCE_REWRITE] = a.Timing(0, 0)  # at once; over when the window has none
    central = rules.collector
    if central.enabled:
        out[a.COLLECTOR_BEHIND] = a.Timing(central.behind_after_s, 0)
        out[a.COLLECTOR_BUFFER] = a.Timing(central.buffer_after_s, 0)
        out[a.COLLECTOR_DOWN] = a.Timing(central.down_after_s, 0)
        out[a.INFLUX_UNREACHABLE] = a.Timing(central.down_after_s, 0)
    return out


def point_conditions(
    view: PointView, resumed: tuple[int | None, int] | None, config: AlertsConfig
) -> list[a.Condition]:
    """provider_down, unreachable and silent for one point.

    `resumed`: (last sample before, first sample after) the silence, when the agent is back;
    only needed while a silent alert is open. The first is None when the data holds no gap.
    """
    p = view.point
    where = f"{p.id} ({p.kelurahan})"
    known = view.state is not PointState.UNKNOWN
    out = []
    for rule, state, title in (
        (a.PROVIDER_DOWN, PointState.PROVIDER_DOWN, f"Provider down: {where}"),
        (a.UNREACHABLE, PointState.UNREACHABLE, f"Router unreachable: {where}"),
        (a.SILENT, PointState.SILENT, f"Agent silent: {where}"),
    ):
        began = None
        if view.state is state:
            active: bool | None = True
            since = view.since_ms
        elif not known or (rule != a.SILENT and view.state is PointState.SILENT):
            active, since = None, None  # no evidence either way
        elif rule == a.SILENT:
            active = False
            began, since = resumed if resumed is not None else (None, None)
        else:
            active, since = False, view.since_ms
        out.append(
            a.Condition(
                rule,
                p.id,
                active,
                since,
                title,
                _point_detail(view, state),
                kelurahan=p.kelurahan,
                point=p.id,
                began_ms=began,
            )
        )
    return out


def _point_detail(view: PointView, state: PointState) -> str:
    p = view.point
    text = f"Point {p.id}, kelurahan {p.kelurahan} ({p.kecamatan}), provider {p.provider}."
    if state is PointState.PROVIDER_DOWN:
        text += " The router answers but its WAN probes fail."
    elif state is PointState.UNREACHABLE:
        text += " The agent runs but cannot read the router (power or router fault)."
    elif state is PointState.SILENT:
        gone = view.agent is not None and not view.agent.online
        text += " The agent went offline." if gone else " No sample arrives from the agent."
    return text


def kelurahan_condition(kel: KelurahanView, config: AlertsConfig) -> a.Condition:
    """One alert when a large share of a kelurahan's points are down at once."""
    rule = config.rules.kelurahan_down
    n = len(kel.points)
    need = max(rule.min_points, math.ceil(n * rule.share_pct / 100 - 1e-9))
    down = [v for v in kel.points if v.state in DOWN_STATES]
    known = [v for v in kel.points if v.state is not PointState.UNKNOWN]
    title = f"Kelurahan {kel.name}: {len(down)} of {n} points down"
    detail = "\n".join(
        f"- {v.id}: {STATE_WORDS[v.state]}" for v in sorted(down, key=lambda v: v.id)
    )
    if n < need or not known:
        active: bool | None = None if not known else False
        return a.Condition(a.KELURAHAN_DOWN, kel.name, active, None, title, detail, kel.name)
    if len(down) >= need:
        starts = sorted(v.since_ms for v in down if v.since_ms is not None)
        since = starts[need - 1] if len(starts) >= need else None
        return a.Condition(a.KELURAHAN_DOWN, kel.name, True, since, title, detail, kel.name)
    # Cleared when enough points came back: the (need - down)-th latest return.
    returns = sorted(
        (v.since_ms for v in kel.points if v.state is PointState.UP and v.since_ms is not None),
        reverse=True,
    )
    back = need - len(down)
    since = returns[back - 1] if len(returns) >= back else None
    return a.Condition(a.KELURAHAN_DOWN, kel.name, False, since, title, detail, kel.name)


def capacity_conditions(view: PointView, config: AlertsConfig) -> list[a.Condition]:
    """Below `below_pct` of committed on the last `consecutive` tests, per direction."""
    rule = config.rules.capacity_low
    p = view.point
    out = []
    for direction in ("down", "up"):
        tests = [t for t in view.tests if t.direction == direction]
        committed = view.committed(direction)
        if not tests or committed is None:
            continue
        floor = committed * rule.below_pct / 100
        recent = tests[: rule.consecutive]
        word = "download" if direction == "down" else "upload"
        title = f"Capacity below {rule.below_pct:g} %: {p.id} ({p.kelurahan}) {word}"
        figures = ", ".join(f"{t.mbps:.1f}" for t in reversed(recent))
        detail = (
            f"Point {p.id}, provider {p.provider}: the last {len(recent)} {word} test(s)"
            f" measured {figures} Mbps; committed {committed:g} Mbps, floor {floor:g} Mbps."
        )
        subject = f"{p.id}/{direction}"
        if len(recent) >= rule.consecutive and all(t.mbps < floor for t in recent):
            since = recent[-1].ts_ms
            out.append(
                a.Condition(a.CAPACITY_LOW, subject, True, since, title, detail, p.kelurahan, p.id)
            )
        else:
            good = next((t for t in tests if t.mbps >= floor), None)
            since = good.ts_ms if good is not None else tests[0].ts_ms
            out.append(
                a.Condition(a.CAPACITY_LOW, subject, False, since, title, detail, p.kelurahan, p.id)
            )
    return out


def central_conditions(facts: CentralFacts, config: AlertsConfig, now_ms: int) -> list[a.Condition]:
    rule = config.rules.collector
    out = [
        a.Condition(
            a.INFLUX_UNREACHABLE,
            "influxdb",
            not facts.influx_ok,
            None,
            "The NOC cannot read InfluxDB",
            f"Queries fail: {facts.influx_error}" if facts.influx_error else "",
        )
    ]
    if facts.influx_ok:
        newest = facts.newest_sample_ms
        behind = facts.agents_online > 0 and (
            newest is None or now_ms - newest > rule.behind_after_s * 1000
        )
        age = "no sample at all" if newest is None else f"newest sample {_age(now_ms - newest)} old"
        out.append(
            a.Condition(
                a.COLLECTOR_BEHIND,
                "collector",
                behind,
                newest if behind else None,
                "The collector is falling behind",
                f"{facts.agents_online} agent(s) online, but InfluxDB's {age}.",
            )
        )
    if facts.metrics_ok is not None:
        out.append(
            a.Condition(
                a.COLLECTOR_DOWN,
                "collector",
                not facts.metrics_ok,
                None,
                "The collector does not answer",
                f"Its /metrics endpoint fails: {facts.metrics_error}"
                if facts.metrics_error
                else "",
            )
        )
        if facts.metrics_ok and facts.buffer_lines is not None:
            out.append(
                a.Condition(
                    a.COLLECTOR_BUFFER,
                    "collector",
                    facts.buffer_lines > 0,
                    None,
                    "The collector's disk buffer is growing",
                    f"{facts.buffer_lines} line(s) in {facts.buffer_batches or 0} batch(es) wait"
                    " on disk for InfluxDB.",
                )
            )
    return out


def rewrite_condition(
    view: PointView, rewrites: Mapping[str, tuple[int, int]], config: AlertsConfig
) -> a.Condition:
    """Someone sent other content for rows of this point already stored: its credential may
    be in the wrong hands, or its agent is broken."""
    p = view.point
    count, first_ms = rewrites.get(p.id, (0, None))
    window = _age(int(config.rules.evidence_rewrite.window_s * 1000))
    title = f"Refused rewrite of stored evidence: {p.id} ({p.kelurahan})"
    detail = (
        f"The collector refused {count} write(s) that would have changed rows of point {p.id}"
        f" already stored (last {window}; measurement integrity). Check who holds its"
        " credential; `pantau pki revoke` ends it."
    )
    return a.Condition(
        a.EVIDENCE_REWRITE, p.id, count > 0, first_ms, title, detail, p.kelurahan, p.id
    )


def throughput_condition(view: PointView, now_ms: int) -> a.Condition:
    """The router answers, yet no WAN rate arrives: most likely the agent reads a
    wan_interface the router does not have, and the point loses all its throughput evidence."""
    p = view.point
    title = f"No throughput: {p.id} ({p.kelurahan})"
    latest = view.latest
    answering = view.state in (PointState.UP, PointState.PROVIDER_DOWN)
    if not answering or latest is None or not latest.device_up:
        return a.Condition(a.NO_THROUGHPUT, p.id, None, None, title, "", p.kelurahan, p.id)
    if not lacks_rates(view):
        return a.Condition(a.NO_THROUGHPUT, p.id, False, None, title, "", p.kelurahan, p.id)
    found = view.null_throughput if isinstance(view, WatchedPoint) else None
    found = found or NullThroughput(since_ms=None)
    detail = _throughput_detail(view, found, now_ms)
    return a.Condition(
        a.NO_THROUGHPUT, p.id, True, found.since_ms, title, detail, p.kelurahan, p.id
    )


def _throughput_detail(view: PointView, found: NullThroughput, now_ms: int) -> str:
    p = view.point
    text = (
        f"Point {p.id}, kelurahan {p.kelurahan} ({p.kecamatan}), provider {p.provider}. The"
        " router answers, but no WAN throughput (rx_bps, tx_bps) has been measured"
    )
    if found.since_ms is not None:
        text += f" for {_age(now_ms - found.since_ms)}"
    named = f" {found.interface!r}" if found.interface else ""
    text += f". Likely cause: the agent's wan_interface{named} is not found on the router."
    if found.reported:
        text += f" The agent reported: {found.reported}"
    else:
        text += " Set wan_interface in the agent's config to the router's port facing the provider."
    return text


def all_conditions(
    views: Iterable[PointView],
    kelurahan: Iterable[KelurahanView],
    resumed: Mapping[str, tuple[int | None, int]],
    central: CentralFacts,
    config: AlertsConfig,
    now_ms: int,
) -> list[a.Condition]:
    out = central_conditions(central, config, now_ms)
    if not central.influx_ok:
        return out  # nothing about the points can be said: hold every point alert
    for kel in kelurahan:
        out.append(kelurahan_condition(kel, config))
    rewrites = central.rewrites if config.rules.evidence_rewrite.enabled else None
    for view in views:
        out += point_conditions(view, resumed.get(view.id), config)
        out += capacity_conditions(view, config)
        if rewrites is not None:
            out.append(rewrite_condition(view, rewrites, config))
        out.append(throughput_condition(view, now_ms))
    return out


def _age(ms: int) -> str:
    seconds = max(0, ms // 1000)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
