"""`pantau broker config`: mosquitto.conf, password file, ACL and TLS files from the registry.

    pantau broker config --registry registry.yaml --out /etc/pantau/mosquitto

Re-running is safe: the files are rewritten from the registry and the PKI index each time.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pantau.collector.admin.broker_config import BrokerSettings, write_broker_files
from pantau.collector.admin.pki import Pki
from pantau.collector.admin.pki_cli import RELOAD_HINT, pki_dir_argument
from pantau.shared.registry import load_registry


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    config = actions.add_parser("config", help="write the broker's configuration")
    pki_dir_argument(config)
    config.add_argument("--registry", required=True, help="site registry YAML (the points)")
    config.add_argument("--out", required=True, type=Path, help="folder for the broker's files")
    config.add_argument(
        "--cert-port", type=int, default=8883, help="TLS + client certificate (0: off)"
    )
    config.add_argument("--password-port", type=int, default=8884, help="TLS + password (0: off)")
    config.add_argument(
        "--plain-port", type=int, default=0, help="plaintext on 127.0.0.1 only (default off)"
    )
    config.add_argument("--bind", help="address of the TLS listeners (default: every interface)")
    config.add_argument("--data-dir", type=Path, default=Path("/var/lib/mosquitto"))
    config.add_argument("--log-file", type=Path, help="log to this file (default: syslog)")
    config.add_argument("--run-as", default="mosquitto", help="user the broker runs as")


def run(args: argparse.Namespace) -> int:
    registry = load_registry(args.registry)
    settings = BrokerSettings(
        cert_port=args.cert_port or None,
        password_port=args.password_port or None,
        plain_port=args.plain_port or None,
        bind=args.bind,
        data_dir=args.data_dir,
        log_file=args.log_file,
        run_as=args.run_as,
    )
    files = write_broker_files(Pki(args.dir), [p.id for p in registry.points], args.out, settings)
    print(f"wrote {files.conf}, {files.passwd.name}, {files.acl.name} and tls/ in {files.out}")
    print(f"{len(files.agents)} of {len(registry.points)} point(s) have credentials")
    if files.unregistered:
        shown = ", ".join(files.unregistered[:10])
        print(f"warning: agent identities not in the registry get no rights: {shown}")
    if not files.collectors:
        print("warning: no collector identity; run: pantau pki issue <name> --role collector")
    print(f"run the broker with: mosquitto -c {files.conf}")
    print(RELOAD_HINT.replace("now", "after a change"))
    return 0
