"""`pantau routeros-sim`: run simulated RouterOS routers, so an agent config can be tried
without a router. Prints one line per router with its ports, then `ready`."""

from __future__ import annotations

import argparse
import codecs
import json
import os
import resource
import signal
import sys
import threading
from pathlib import Path

from pantau.collector.lab.routeros_sim.certs import CertFiles, make_certs
from pantau.collector.lab.routeros_sim.dialect import DIALECTS
from pantau.collector.lab.routeros_sim.router import DEFAULT, RouterSpec
from pantau.collector.lab.routeros_sim.server import SimFleet
from pantau.shared.config import read_secret_file
from pantau.shared.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dialect",
        action="append",
        choices=sorted(DIALECTS),
        help="RouterOS release to speak (repeat to mix; default 7.18)",
    )
    parser.add_argument(
        "--encoding",
        action="append",
        help="How router text goes on the wire: utf-8 (default) or a legacy code page such as"
        " cp1252, as an old Winbox leaves names (repeat to mix, router by router)",
    )
    parser.add_argument("--identity", help="System identity of every router (default its name)")
    parser.add_argument("--routers", type=int, default=1, help="How many routers (default 1)")
    parser.add_argument("--host", default="127.0.0.1", help="Address to listen on")
    parser.add_argument(
        "--port",
        type=int,
        default=8728,
        help="api port of the first router, the next get +1, ... (0: any free)",
    )
    parser.add_argument(
        "--tls-port",
        type=int,
        default=None,
        help="api-ssl port of the first router (0: any free); enables api-ssl",
    )
    parser.add_argument("--tls-cert", type=Path, help="Router certificate (PEM) for api-ssl")
    parser.add_argument("--tls-key", type=Path, help="Its key (PEM), mode 600")
    parser.add_argument(
        "--tls-dir",
        type=Path,
        help="Make a CA and router certificate here when no --tls-cert is given",
    )
    parser.add_argument("--username", default="pantau", help="API user (default pantau)")
    secret = parser.add_mutually_exclusive_group()
    secret.add_argument("--password-file", help="File with the API password (mode 600)")
    secret.add_argument("--password-env", help="Environment variable with the API password")
    parser.add_argument(
        "--login",
        choices=["plain", "challenge"],
        default="plain",
        help="challenge: answer like a router before 6.43",
    )
    parser.add_argument("--rx-mbps", type=float, default=20.0, help="WAN download traffic")
    parser.add_argument("--tx-mbps", type=float, default=4.0, help="WAN upload traffic")
    parser.add_argument("--hotspot", type=int, default=25, help="Hotspot sessions per router")
    parser.add_argument("--associated", type=int, default=18, help="Associated stations")
    parser.add_argument("--dhcp", type=int, default=30, help="Bound DHCP leases")
    parser.add_argument(
        "--wireless-package",
        default=DEFAULT,
        help="wireless, wifiwave2, wifi-qcom, wifi-qcom-ac, or none",
    )
    parser.add_argument(
        "--control-port",
        type=int,
        default=None,
        help="Line-based fault control on this port (see `list`, `wan r001 down`)",
    )
    parser.add_argument("--ports-file", type=Path, help="Also write the routers and ports as JSON")


def _password(args: argparse.Namespace) -> str:
    if args.password_env:
        value = os.environ.get(args.password_env)
        if value is None:
            raise ConfigError(f"--password-env: environment variable {args.password_env!r} not set")
        return value
    if args.password_file:
        return read_secret_file(args.password_file).get_secret_value()
    raise ConfigError("give the API password with --password-file or --password-env")


def _tls(args: argparse.Namespace) -> CertFiles | None:
    if args.tls_port is None:
        return None
    if args.tls_cert is not None:
        if args.tls_key is None:
            raise ConfigError("--tls-cert needs --tls-key")
        return CertFiles(ca_cert=args.tls_cert, cert=args.tls_cert, key=args.tls_key)
    if args.tls_dir is None:
        raise ConfigError("api-ssl needs --tls-cert/--tls-key, or --tls-dir to make them")
    return make_certs(args.tls_dir)


def specs_from(args: argparse.Namespace, password: str) -> list[RouterSpec]:
    if not 1 <= args.routers <= 5000:
        raise ConfigError("--routers must be between 1 and 5000")
    ranges = [p for p in (args.port, args.tls_port) if p]
    if len(ranges) == 2 and abs(ranges[0] - ranges[1]) < args.routers:
        raise ConfigError(
            f"--port {args.port} and --tls-port {args.tls_port} ranges overlap for"
            f" {args.routers} routers; keep them at least {args.routers} apart"
        )
    if any(p + args.routers - 1 > 65535 for p in ranges):
        raise ConfigError(f"{args.routers} routers from port {max(ranges)} run past 65535")
    dialects = args.dialect or ["7.18"]
    encodings = args.encoding or ["utf-8"]
    for encoding in encodings:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ConfigError(f"--encoding: unknown encoding {encoding!r} (e.g. cp1252)") from None
    wireless = None if args.wireless_package == "none" else args.wireless_package
    width = max(3, len(str(args.routers)))
    return [
        RouterSpec(
            name=f"r{i + 1:0{width}d}",
            dialect=dialects[i % len(dialects)],
            encoding=encodings[i % len(encodings)],
            identity=args.identity,
            username=args.username,
            password=password,
            login=args.login,
            rx_bps=args.rx_mbps * 1e6,
            tx_bps=args.tx_mbps * 1e6,
            hotspot_sessions=args.hotspot,
            associated=args.associated,
            dhcp_bound=args.dhcp,
            wireless_package=wireless,
        )
        for i in range(args.routers)
    ]


def raise_file_limit() -> None:
    """Each router needs a listening socket and a connection or two: lift the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def run(args: argparse.Namespace) -> int:
    password = _password(args)
    specs = specs_from(args, password)
    certs = _tls(args)
    raise_file_limit()
    fleet = SimFleet(
        specs,
        host=args.host,
        base_port=args.port,
        tls=certs.server_context() if certs else None,
        tls_base_port=args.tls_port or 0,
        control_port=args.control_port,
    )
    ready = threading.Event()
    failure: list[BaseException] = []

    def serve() -> None:
        try:
            fleet.run_forever(ready)
        except BaseException as exc:
            failure.append(exc)
            ready.set()

    thread = threading.Thread(target=serve, name="routeros-sim", daemon=True)
    thread.start()
    ready.wait()
    if failure:
        raise ConfigError(f"cannot listen: {failure[0]}")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):  # before `ready`: a stop right after is clean
        signal.signal(sig, lambda *_: stop.set())
    _announce(fleet, certs, args)
    stop.wait()
    fleet.stop()
    return 0


def _announce(fleet: SimFleet, certs: CertFiles | None, args: argparse.Namespace) -> None:
    listing = []
    for router, server in zip(fleet.routers, fleet.servers, strict=True):
        line = f"{router.spec.name} {router.dialect.name} api {fleet.host}:{server.port}"
        if server.tls_port is not None:
            line += f" api-ssl {fleet.host}:{server.tls_port}"
        print(line)
        listing.append(
            {
                "name": router.spec.name,
                "dialect": router.dialect.name,
                "encoding": router.spec.encoding,
                "port": server.port,
                "tls_port": server.tls_port,
            }
        )
    if certs is not None:
        print(f"api-ssl CA {certs.ca_cert} certificate sha256 {certs.fingerprint_sha256()}")
    if fleet.control_port is not None:
        print(f"control {fleet.host}:{fleet.control_port}")
    if args.ports_file is not None:
        args.ports_file.write_text(json.dumps({"host": fleet.host, "routers": listing}))
    print(f"ready: {len(fleet.routers)} router(s)", flush=True)
    sys.stdout.flush()
