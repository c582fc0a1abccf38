"""`pantau pki`: the project CA, and credentials for agents, collectors and the NOC.

    pantau pki init --host mqtt.pantau.example --host 203.0.113.10
    pantau pki issue citangkil-03                     # client certificate and key
    pantau pki issue citangkil-04 --method password   # a password entry instead
    pantau pki issue pantau-collector --role collector
    pantau pki revoke citangkil-03                    # CRL, password, rights, its sessions

Every command is safe to re-run. Secrets are written to files of mode 600 and never printed.
"""

from __future__ import annotations

import argparse
import os
import signal
from pathlib import Path

from pantau.collector.admin.broker_config import (
    BrokerFiles,
    remembered_settings,
    rewrite_remembered,
    sync_running_broker,
)
from pantau.collector.admin.dynsec import DynsecError
from pantau.collector.admin.pki import (
    HANDOVER_DAYS,
    LEAF_DAYS,
    MAX_HANDOVER_DAYS,
    ROLES,
    Pki,
    PkiError,
)
from pantau.shared.config import read_secret_file

DEFAULT_DIR = "/etc/pantau/pki"
PKI_DIR_OPTION = "--pki-dir"  # one name for the PKI folder in pki, broker and deploy
RELOAD_HINT = "reload the broker now: systemctl reload pantau-mosquitto (or kill -HUP <pid>)"


def pki_dir_argument(parser: argparse.ArgumentParser) -> None:
    """`--pki-dir` in every command that reads the PKI (`--dir` is its older spelling here)."""
    parser.add_argument(
        PKI_DIR_OPTION,
        "--dir",
        dest="dir",
        type=Path,
        default=Path(os.environ.get("PANTAU_PKI_DIR", DEFAULT_DIR)),
        help=f"PKI directory (default $PANTAU_PKI_DIR or {DEFAULT_DIR})",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    init = actions.add_parser("init", help="create the CA and the broker's certificate")
    pki_dir_argument(init)
    init.add_argument(
        "--host",
        action="append",
        default=[],
        help="a DNS name or IP address agents use to reach the broker (repeat); changing the"
        " list reissues the broker certificate from the same CA",
    )
    issue = actions.add_parser("issue", help="credentials for an agent (point), collector or NOC")
    pki_dir_argument(issue)
    issue.add_argument("name", help="the point id for an agent; any short name otherwise")
    issue.add_argument("--role", choices=ROLES, default="agent")
    issue.add_argument(
        "--method",
        choices=["cert", "password", "both"],
        default="cert",
        help="client certificate and key (port 8883), password (port 8884), or both",
    )
    issue.add_argument(
        "--password-file", help="use the password in this file (mode 600) instead of a new one"
    )
    issue.add_argument("--renew", action="store_true", help="replace existing credentials")
    issue.add_argument(
        "--handover-days",
        type=float,
        default=HANDOVER_DAYS,
        help="with --renew: the old signing key still vouches for messages dated within this"
        f" many days, until the new bundle is on the SBC (default {HANDOVER_DAYS}, at most"
        f" {MAX_HANDOVER_DAYS}; 0: only its backlog from before the renewal)",
    )
    issue.add_argument("--days", type=int, default=LEAF_DAYS, help="certificate lifetime")
    issue.add_argument("--registry", help="refuse an agent whose point is not in this registry")
    revoke = actions.add_parser("revoke", help="revoke every credential of a name")
    pki_dir_argument(revoke)
    revoke.add_argument("name")
    revoke.add_argument(
        "--reload-pid", type=int, help="send SIGHUP to this broker process afterwards"
    )
    listing = actions.add_parser("list", help="identities, roles, methods and status")
    pki_dir_argument(listing)


def run(args: argparse.Namespace) -> int:
    pki = Pki(args.dir)
    if args.action == "init":
        done = pki.init(args.host)
        for line in done or ["nothing to do: CA and broker certificate exist"]:
            print(line)
        print(f"broker certificate names: {', '.join(pki.broker_hosts())}")
        return 0
    if args.action == "issue":
        return _issue(pki, args)
    if args.action == "revoke":
        return _revoke(pki, args)
    for identity in pki.identities():
        methods = "+".join(identity.methods) or "-"
        print(f"{identity.name:<32} {identity.role:<10} {methods:<14} {identity.status}")
    return 0


def _issue(pki: Pki, args: argparse.Namespace) -> int:
    if args.role == "agent" and args.registry:
        from pantau.shared.registry import load_registry

        if args.name not in load_registry(args.registry).by_id():
            raise PkiError(f"{args.name!r} is not a point of the registry {args.registry}")
    password = None
    if args.password_file:
        if args.method == "cert":
            raise PkiError("--password-file needs --method password or both")
        password = read_secret_file(args.password_file).get_secret_value()
    issued = pki.issue(
        args.name, args.role, args.method, args.renew, args.days, password, args.handover_days
    )
    if issued.created:
        print(f"{issued.name} ({issued.role}): made {' and '.join(issued.created)}")
    if issued.kept:
        print(f"{issued.name}: kept the existing {' and '.join(issued.kept)} (--renew replaces)")
    if "certificate" in issued.created:
        print(f"  certificate {issued.cert_file}, key {issued.key_file} (mode 600)")
    if "password" in issued.created and password is None:
        print(f"  password in {issued.password_file} (mode 600); the user name is {issued.name}")
    if issued.handover_until is not None:
        print(
            f"  old signing key {issued.retired_key} retired; it vouches for messages dated"
            f" before {issued.handover_until} (the handover): deploy {issued.signing_key_file}"
            " to the point's agent before then, or what it signs after is refused (retired_key)"
        )
    if issued.created:
        print(f"  CA to verify the broker: {issued.ca_file}")
        files = _refresh_broker(pki)
        if files is not None:
            _sync(pki, files, [])
            print(RELOAD_HINT)
    return 0


def _revoke(pki: Pki, args: argparse.Namespace) -> int:
    if pki.revoke(args.name):
        print(
            f"{args.name}: revoked (certificate in the CRL, password entry removed); its signing"
            " keys, retired ones too, vouch for nothing received from now on"
        )
    else:
        print(f"{args.name}: was already revoked")
    files = _refresh_broker(pki)
    if args.reload_pid:
        os.kill(args.reload_pid, signal.SIGHUP)  # password file and CRL
        print(f"sent SIGHUP to the broker (pid {args.reload_pid})")
    elif files is not None:
        print(RELOAD_HINT)
    if files is not None:
        _sync(pki, files, [args.name])
    return 0


def _sync(pki: Pki, files: BrokerFiles, end_sessions: list[str]) -> None:
    """Rights, sessions and retained messages on the running broker, through its admin
    listener; a broker that is not running loads the rights when it starts."""
    settings = remembered_settings(pki)
    assert settings is not None
    try:
        report = sync_running_broker(files, settings, end_sessions)
    except (DynsecError, OSError) as exc:
        print(f"broker not updated live ({exc}); on the broker host run:")
        print(f"  pantau broker sync --out {files.out}   (or restart it)")
        return
    changed = len(report.commands)
    print(f"broker updated live: {changed} rule change(s)", end="")
    if report.sessions_ended:
        print(f", session(s) ended: {', '.join(report.sessions_ended)}", end="")
    if report.retained_cleared:
        print(f", {len(report.retained_cleared)} retained message(s) cleared", end="")
    print()


def _refresh_broker(pki: Pki) -> BrokerFiles | None:
    """Where `pantau broker config` wrote before, write again: one command does the job."""
    files = rewrite_remembered(pki)
    if files is not None:
        print(f"broker files rewritten in {files.out}")
    return files
