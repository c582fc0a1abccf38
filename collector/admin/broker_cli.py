"""`pantau broker config`: mosquitto.conf, password file, access rules and TLS files from the
registry; `pantau broker sync`: the same rules onto the running broker.

    pantau broker config --registry registry.yaml --out /etc/pantau/mosquitto
    pantau broker sync --out /etc/pantau/mosquitto     # on the broker host, after a change

Re-running is safe: the files are rewritten from the registry and the PKI index each time.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pantau.collector.admin.broker_config import (
    DEFAULT_MAX_PAYLOAD_BYTES,
    DEFAULT_MAX_QUEUED_BYTES,
    DEFAULT_MAX_QUEUED_MESSAGES,
    BrokerSettings,
    write_broker_files,
)
from pantau.collector.admin.dynsec import read_rules, sync
from pantau.collector.admin.pki import Pki, PkiError
from pantau.collector.admin.pki_cli import RELOAD_HINT, pki_dir_argument
from pantau.shared.config import read_secret_file
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
    config.add_argument(
        "--admin-port",
        type=int,
        default=8885,
        help="loopback listener for `pantau pki` and `pantau broker sync` (0: off)",
    )
    config.add_argument(
        "--dynsec-plugin", help="path of mosquitto_dynamic_security.so on the broker host"
    )
    config.add_argument(
        "--max-payload-bytes",
        type=int,
        default=DEFAULT_MAX_PAYLOAD_BYTES,
        help="the collectors' max_payload_bytes; the broker refuses larger messages",
    )
    config.add_argument(
        "--max-queued-messages",
        type=int,
        default=DEFAULT_MAX_QUEUED_MESSAGES,
        help="messages the broker holds for one client that is away",
    )
    config.add_argument(
        "--max-queued-bytes",
        type=int,
        default=DEFAULT_MAX_QUEUED_BYTES,
        help="bytes the broker holds for one client that is away",
    )
    apply = actions.add_parser(
        "sync", help="apply the rules `config` wrote to the running broker, end revoked sessions"
    )
    apply.add_argument("--out", required=True, type=Path, help="the folder `config` wrote")
    apply.add_argument(
        "--admin-port", type=int, help="the broker's admin listener (default: from mosquitto.conf)"
    )


def run(args: argparse.Namespace) -> int:
    if args.action == "sync":
        return _sync(args)
    registry = load_registry(args.registry)
    settings = BrokerSettings(
        cert_port=args.cert_port or None,
        password_port=args.password_port or None,
        plain_port=args.plain_port or None,
        bind=args.bind,
        data_dir=args.data_dir,
        log_file=args.log_file,
        run_as=args.run_as,
        admin_port=args.admin_port or None,
        dynsec_plugin=args.dynsec_plugin,
        max_payload_bytes=args.max_payload_bytes,
        max_queued_messages=args.max_queued_messages,
        max_queued_bytes=args.max_queued_bytes,
    )
    files = write_broker_files(Pki(args.dir), [p.id for p in registry.points], args.out, settings)
    print(
        f"wrote {files.conf.name}, {files.passwd.name}, {files.dynsec.name}, {files.rules.name},"
        f" {files.admin_password.name} and tls/ in {files.out}"
    )
    print(f"{len(files.agents)} of {len(registry.points)} point(s) have credentials")
    if files.unregistered:
        shown = ", ".join(files.unregistered[:10])
        print(f"warning: agent identities not in the registry get no rights: {shown}")
    if not files.collectors:
        print("warning: no collector identity; run: pantau pki issue <name> --role collector")
    print(f"run the broker with: mosquitto -c {files.conf}")
    print(RELOAD_HINT.replace("now", "after a change"))
    print(f"and give a running broker the new rights: pantau broker sync --out {files.out}")
    return 0


def _sync(args: argparse.Namespace) -> int:
    out = args.out.resolve()
    password = read_secret_file(out / "admin.password").get_secret_value()
    port = args.admin_port or admin_port(out / "mosquitto.conf")
    report = sync("127.0.0.1", port, password, read_rules(out / "rules.json"))
    for line in report.commands:
        print(f"  {line}")
    print(f"{len(report.commands)} rule change(s) applied")
    if report.sessions_ended:
        print(f"ended the session(s) of {', '.join(report.sessions_ended)}")
    if report.retained_cleared:
        print(f"cleared {len(report.retained_cleared)} retained message(s)")
    return 0


def admin_port(conf: Path) -> int:
    """The loopback admin listener of a mosquitto.conf written by `config` (or Ansible)."""
    lines = conf.read_text(encoding="utf-8").splitlines() if conf.exists() else []
    after = [i for i, line in enumerate(lines) if line.startswith("# Administration on loopback")]
    for line in lines[after[-1] :] if after else []:
        parts = line.split()
        if len(parts) == 3 and parts[0] == "listener" and parts[2] == "127.0.0.1":
            return int(parts[1])
    raise PkiError(f"{conf}: no admin listener; give --admin-port")
