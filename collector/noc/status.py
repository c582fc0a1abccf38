"""`pantau status`: the city at a glance, per kelurahan, and one kelurahan point by point.

Reads the agents' retained states from the broker and recent samples and capacity tests from
InfluxDB, with the collector's own config file. `--watch` redraws in place.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from pantau.collector.config import CollectorConfig, load_collector_config
from pantau.collector.influxdb.client import Influx
from pantau.collector.noc.gather import CityView, gather
from pantau.collector.noc.messages import duration, wib
from pantau.collector.noc.observe import KelurahanView, PointState, PointView
from pantau.collector.noc.reader import StateWatcher, noc_mqtt
from pantau.shared.errors import ConfigError
from pantau.shared.registry import Registry, did_you_mean, load_registry

STYLES = {
    PointState.UP: "green",
    PointState.PROVIDER_DOWN: "bold red",
    PointState.UNREACHABLE: "red",
    PointState.SILENT: "yellow",
    PointState.UNKNOWN: "dim",
}
LABELS = {
    PointState.UP: "up",
    PointState.PROVIDER_DOWN: "provider down",
    PointState.UNREACHABLE: "unreachable",
    PointState.SILENT: "silent",
    PointState.UNKNOWN: "unknown",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="collector YAML file")
    parser.add_argument("--kelurahan", metavar="NAME", help="one kelurahan, point by point")
    parser.add_argument("--watch", action="store_true", help="redraw in place until Ctrl-C")
    parser.add_argument(
        "--every", type=float, default=5.0, help="seconds between redraws with --watch"
    )
    parser.add_argument("--format", choices=["table", "json"], default="table")
    parser.add_argument(
        "--broker-wait", type=float, default=5.0, help="seconds to wait for the agents' states"
    )


def run(args: argparse.Namespace) -> int:
    config = load_collector_config(args.config)
    registry = load_registry(config.registry)
    if args.every <= 0:
        raise ConfigError(f"--every must be positive, got {args.every}")
    names = {p.kelurahan for p in registry.points}
    if args.kelurahan and args.kelurahan.strip().casefold() not in {n.casefold() for n in names}:
        raise ConfigError(
            f"{config.registry}: no kelurahan {args.kelurahan!r} in the registry"
            + did_you_mean(args.kelurahan, names)
        )
    influx = Influx(config.influx)
    watcher = StateWatcher(noc_mqtt(config.mqtt, config.status.mqtt, "status"), "status").start()
    broker_ok = watcher.settle(args.broker_wait)
    try:
        if not args.watch:
            city = look(config, registry, influx, watcher)
            _print(city, args, broker_ok)
            return 0
        console = Console()
        stop = threading.Event()
        with Live(console=console, auto_refresh=False, screen=False) as live:
            while not stop.is_set():
                city = look(config, registry, influx, watcher)
                live.update(render(city, args.kelurahan, watcher.connected), refresh=True)
                try:
                    time.sleep(args.every)
                except KeyboardInterrupt:
                    break
        return 0
    finally:
        watcher.stop()
        influx.close()


def look(
    config: CollectorConfig, registry: Registry, influx: Influx, watcher: StateWatcher
) -> CityView:
    return gather(
        registry,
        influx,
        watcher.states(),
        config.alerts,
        int(time.time() * 1000),
        tests_per_direction=1,
    )


def _print(city: CityView, args: argparse.Namespace, broker_ok: bool) -> None:
    if args.format == "json":
        json.dump(as_json(city, args.kelurahan, broker_ok), sys.stdout, indent=1)
        sys.stdout.write("\n")
        return
    Console(width=max(Console().width, 140)).print(render(city, args.kelurahan, broker_ok))


# -- rendering ---------------------------------------------------------------------------------
def render(city: CityView, kelurahan: str | None, broker_ok: bool) -> Group:
    parts: list[Any] = [_headline(city, broker_ok)]
    if kelurahan:
        kel = city.kelurahan_named(kelurahan)
        parts.append(_points_table(city, kel) if kel else Text(f"no points in {kelurahan}"))
    else:
        parts.append(_city_table(city))
    return Group(*parts)


def _headline(city: CityView, broker_ok: bool) -> Text:
    counts = {s: 0 for s in PointState}
    for view in city.points:
        counts[view.state] += 1
    text = Text(f"Pantau · {wib(city.now_ms)} · {len(city.points)} points: ")
    shown = [s for s in PointState if counts[s] or s is PointState.UP]
    for index, state in enumerate(shown):
        if index:
            text.append(", ")
        text.append(f"{counts[state]} {LABELS[state]}", style=STYLES[state])
    if not broker_ok:
        text.append("  (broker unreachable: agent states unknown)", style="yellow")
    return text


def _city_table(city: CityView) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for name, justify in (
        ("Kelurahan", "left"),
        ("Kecamatan", "left"),
        ("Points", "right"),
        ("Up", "right"),
        ("Prov. down", "right"),
        ("Unreach.", "right"),
        ("Silent", "right"),
        ("Newest sample", "right"),
        ("Clients", "right"),
        ("Mbps", "right"),
        ("Last capacity test", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for kel in city.kelurahan:
        style = "red" if kel.down else None
        table.add_row(
            kel.name,
            kel.kecamatan,
            str(len(kel.points)),
            str(kel.counts[PointState.UP]),
            _count(kel.counts[PointState.PROVIDER_DOWN]),
            _count(kel.counts[PointState.UNREACHABLE]),
            _count(kel.counts[PointState.SILENT]),
            _age(city.now_ms, kel.newest_sample_ms()),
            _num(kel.clients()),
            _mbps(kel.throughput_bps()),
            _kel_test(city.now_ms, kel),
            style=style,
        )
    return table


def _points_table(city: CityView, kel: KelurahanView) -> Table:
    table = Table(
        title=f"{kel.name} ({kel.kecamatan}): {len(kel.points) - kel.down} of {len(kel.points)} up",
        box=None,
        pad_edge=False,
        header_style="bold",
        title_justify="left",
    )
    for name, justify in (
        ("Point", "left"),
        ("State", "left"),
        ("Since", "right"),
        ("Last sample", "right"),
        ("Clients", "right"),
        ("Rx Mbps", "right"),
        ("Tx Mbps", "right"),
        ("RTT ms", "right"),
        ("Loss %", "right"),
        ("Last test (down/up Mbps)", "left"),
        ("Agent", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for view in kel.points:
        latest = view.latest if view.state not in (PointState.SILENT, PointState.UNKNOWN) else None
        table.add_row(
            view.id,
            Text(LABELS[view.state], style=STYLES[view.state]),
            _ago(city.now_ms, view.since_ms),
            _age(city.now_ms, view.last_seen_ms),
            _num(latest.clients if latest else None),
            _mbps(latest.rx_bps if latest else None),
            _mbps(latest.tx_bps if latest else None),
            _fmt(latest.rtt_ms if latest else None, "{:.0f}"),
            _fmt(latest.loss_pct if latest else None, "{:.0f}"),
            _point_test(city.now_ms, view),
            _agent(view),
        )
    return table


def _count(n: int) -> Text:
    return Text(str(n), style="bold" if n else "dim")


def _age(now_ms: int, ms: int | None) -> str:
    return "—" if ms is None else f"{duration(now_ms - ms)} ago"


def _ago(now_ms: int, ms: int | None) -> str:
    return "—" if ms is None else duration(now_ms - ms)


def _num(value: int | None) -> str:
    return "—" if value is None else str(value)


def _mbps(bps: float | None) -> str:
    return "—" if bps is None else f"{bps / 1e6:.1f}"


def _fmt(value: float | None, pattern: str) -> str:
    return "—" if value is None else pattern.format(value)


def _kel_test(now_ms: int, kel: KelurahanView) -> str:
    found = kel.last_test()
    if found is None:
        return "—"
    view, test = found
    committed = view.committed(test.direction)
    share = f" ({test.mbps / committed:.0%})" if committed else ""
    return f"{view.id} {test.direction} {test.mbps:.1f}{share}, {duration(now_ms - test.ts_ms)} ago"


def _point_test(now_ms: int, view: PointView) -> str:
    down, up = view.last_test("down"), view.last_test("up")
    if down is None and up is None:
        return "—"
    newest = max((t for t in (down, up) if t is not None), key=lambda t: t.ts_ms)
    figures = "/".join("—" if t is None else f"{t.mbps:.1f}" for t in (down, up))
    committed = view.committed_down_mbps
    of = f" of {committed:g}" if committed else ""
    return f"{figures}{of}, {duration(now_ms - newest.ts_ms)} ago"


def _agent(view: PointView) -> str:
    if view.agent is None:
        return "—"
    word = "online" if view.agent.online else "offline"
    text = f"{word} {view.agent.version}" if view.agent.version else word
    spool = view.agent.spool
    return text if spool in (None, "ok") else f"{text}, spool {spool.replace('_', ' ')}"


# -- JSON --------------------------------------------------------------------------------------
def as_json(city: CityView, kelurahan: str | None, broker_ok: bool) -> dict[str, Any]:
    kels = city.kelurahan
    if kelurahan:
        kel = city.kelurahan_named(kelurahan)
        kels = [kel] if kel else []
    out: dict[str, Any] = {
        "generated_ms": city.now_ms,
        "broker_ok": broker_ok,
        "points": len(city.points),
        "states": {str(s): sum(1 for v in city.points if v.state is s) for s in PointState},
        "kelurahan": [_kel_json(city.now_ms, k) for k in kels],
    }
    if kelurahan:
        out["point_detail"] = [_point_json(city.now_ms, v) for k in kels for v in k.points]
    return out


def _kel_json(now_ms: int, kel: KelurahanView) -> dict[str, Any]:
    newest = kel.newest_sample_ms()
    throughput = kel.throughput_bps()
    found = kel.last_test()
    return {
        "name": kel.name,
        "kecamatan": kel.kecamatan,
        "points": len(kel.points),
        **{str(s): kel.counts[s] for s in PointState},
        "newest_sample_age_s": None if newest is None else (now_ms - newest) / 1000,
        "clients": kel.clients(),
        "throughput_mbps": None if throughput is None else round(throughput / 1e6, 3),
        "last_test": None
        if found is None
        else {
            "point": found[0].id,
            "direction": found[1].direction,
            "mbps": found[1].mbps,
            "ts_ms": found[1].ts_ms,
        },
    }


def _point_json(now_ms: int, view: PointView) -> dict[str, Any]:
    latest = view.latest if view.state not in (PointState.SILENT, PointState.UNKNOWN) else None
    return {
        "point": view.id,
        "state": str(view.state),
        "since_ms": view.since_ms,
        "last_seen_ms": view.last_seen_ms,
        "clients": latest.clients if latest else None,
        "rx_bps": latest.rx_bps if latest else None,
        "tx_bps": latest.tx_bps if latest else None,
        "rtt_ms": latest.rtt_ms if latest else None,
        "loss_pct": latest.loss_pct if latest else None,
        "agent": None
        if view.agent is None
        else {
            "online": view.agent.online,
            "version": view.agent.version,
            "spool": view.agent.spool,
        },
        "tests": [
            {"direction": t.direction, "mbps": t.mbps, "ts_ms": t.ts_ms}
            for t in (view.last_test("down"), view.last_test("up"))
            if t is not None
        ],
        "committed_down_mbps": view.committed_down_mbps,
        "committed_up_mbps": view.committed_up_mbps,
    }
