"""A tiny line-based control channel, so faults can be scripted against a running
`pantau routeros-sim` (e.g. `echo "wan r001 down" | nc 127.0.0.1 9000`). Loopback only.

Commands (ROUTER is a name or `all`):
  list | reboot R | power R off|on | wan R down|up | hang R on|off | delay R SECONDS
  split R BYTES|off | drop R COUNT [PATH] | package R add|remove NAME
  clients R [hotspot=N] [associated=N] [dhcp=N] [capsman=N] | traffic R RX_MBPS TX_MBPS
  health R sensors|none|trap
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pantau.collector.lab.routeros_sim.server import SimFleet


class ControlError(ValueError):
    pass


def apply(fleet: SimFleet, line: str) -> str:
    """Run one control command; returns `ok`, a listing, or `error: ...`."""
    try:
        return _apply(fleet, line.split())
    except (ControlError, KeyError, ValueError, IndexError) as exc:
        return f"error: {exc}"


def _targets(fleet: SimFleet, name: str) -> list[int]:
    if name == "all":
        return list(range(len(fleet.routers)))
    try:
        return [fleet.index(name)]
    except KeyError:
        raise ControlError(f"no router named {name!r}") from None


def _onoff(word: str, on: str, off: str) -> bool:
    if word not in (on, off):
        raise ControlError(f"expected {on} or {off}, got {word!r}")
    return word == on


def _apply(fleet: SimFleet, words: list[str]) -> str:
    if not words:
        raise ControlError("empty command")
    verb = words[0]
    if verb == "list":
        return "\n".join(
            f"{r.spec.name} dialect={r.dialect.name} encoding={r.spec.encoding}"
            f" api={s.port} api-ssl={s.tls_port or '-'}"
            f" wan={'up' if r.wan_up else 'down'} uptime={int(r.uptime_s)}s"
            for r, s in zip(fleet.routers, fleet.servers, strict=True)
        )
    if len(words) < 2:
        raise ControlError(f"{verb}: which router?")
    args = words[2:]
    for i in _targets(fleet, words[1]):
        router = fleet.routers[i]
        if verb == "reboot":
            router.reboot()
        elif verb == "power":
            if _onoff(args[0], "on", "off"):
                fleet.power_on(i)
            else:
                fleet.power_off(i)
        elif verb == "wan":
            router.set_wan(_onoff(args[0], "up", "down"))
        elif verb == "hang":
            router.faults.hang = _onoff(args[0], "on", "off")
        elif verb == "delay":
            router.faults.reply_delay_s = max(0.0, float(args[0]))
        elif verb == "split":
            router.faults.split_writes = None if args[0] == "off" else max(1, int(args[0]))
        elif verb == "drop":
            router.faults.drop_replies = int(args[0])
            router.faults.drop_on = args[1] if len(args) > 1 else None
        elif verb == "package":
            if _onoff(args[0], "add", "remove"):
                router.add_package(args[1])
            else:
                router.remove_package(args[1])
        elif verb == "clients":
            values = dict(a.split("=", 1) for a in args)
            unknown = set(values) - {"hotspot", "associated", "dhcp", "capsman"}
            if unknown:
                raise ControlError(f"clients: unknown {', '.join(sorted(unknown))}")
            router.set_clients(
                hotspot=int(values["hotspot"]) if "hotspot" in values else None,
                associated=int(values["associated"]) if "associated" in values else None,
                dhcp_bound=int(values["dhcp"]) if "dhcp" in values else None,
                capsman=int(values["capsman"]) if "capsman" in values else None,
            )
        elif verb == "traffic":
            router.set_traffic(float(args[0]) * 1e6, float(args[1]) * 1e6)
        elif verb == "health":
            if args[0] not in ("sensors", "none", "trap"):
                raise ControlError("health: sensors, none or trap")
            router.health = args[0]  # type: ignore[assignment]
        else:
            raise ControlError(f"unknown command {verb!r}")
    return "ok"


async def serve_control(fleet: SimFleet, host: str, port: int) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                text = line.decode("utf-8", errors="replace").strip()
                if text:
                    writer.write((apply(fleet, text) + "\n").encode())
                    await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port)
