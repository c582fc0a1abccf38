"""The one console script, `pantau`. Each subcommand imports only what it needs, so an agent
install never touches collector dependencies.

A subcommand module provides `add_arguments(parser)` and `run(args) -> int`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys

from pantau.shared import __version__
from pantau.shared.errors import PantauError

COMMANDS: dict[str, tuple[str, str]] = {
    "agent": ("pantau.agent.cli", "sample devices, spool on disk, publish over MQTT"),
    "collector": ("pantau.collector.cli", "validate, enrich and store what agents publish"),
    "demo": ("pantau.collector.lab.demo", "run broker, database, collector and agents locally"),
    "routeros-sim": (
        "pantau.collector.lab.routeros_sim.cli",
        "a RouterOS API simulator to try agents",
    ),
    "speedtest-server": ("pantau.shared.speedtest.server", "the NOC's iperf3 and HTTP test server"),
    "report": ("pantau.collector.report.cli", "the monthly SLA report"),
    "publish": ("pantau.collector.publish.cli", "the public page for residents, a static site"),
    "rollup": ("pantau.collector.rollup_cli", "rebuild a month's hourly rollups from raw data"),
    "evidence": (
        "pantau.collector.evidence_cli",
        "checkpoint, verify, prove and replay the archive",
    ),
    "registry": ("pantau.collector.admin.registry_cli", "generate or check a site registry"),
    "pki": ("pantau.collector.admin.pki_cli", "the project CA and per-agent credentials"),
    "broker": ("pantau.collector.admin.broker_cli", "write mosquitto's config, passwords, ACL"),
    "deploy": (
        "pantau.collector.admin.deploy_inventory",
        "write an Ansible inventory from the registry",
    ),
    "status": ("pantau.collector.noc.status", "live status of every kelurahan and point"),
    "alerts": ("pantau.collector.noc.alerts_cli", "evaluate alert rules, notify, keep history"),
}


EXIT_CLOSED_PIPE = 128 + signal.SIGPIPE  # what a shell reports for `yes | head -1`'s `yes`


def main(argv: list[str] | None = None) -> int:
    """Run one command. Output into a closed pipe (`pantau --help | head -1`) ends it quietly:
    the reader wanted no more, so no traceback, and the status of a tool SIGPIPE stopped."""
    try:
        try:
            return _command(sys.argv[1:] if argv is None else argv)
        finally:
            sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # what is still buffered goes nowhere, quietly
        os.close(devnull)
        return EXIT_CLOSED_PIPE


def _command(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        _usage(sys.stdout)
        return 0
    if argv[0] == "--version":
        print(f"pantau {__version__}")
        return 0
    name = argv[0]
    if name not in COMMANDS:
        print(f"pantau: unknown command {name!r}", file=sys.stderr)
        _usage(sys.stderr)
        return 2
    module_name, summary = COMMANDS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        print(_missing_package(name, (exc.name or "?").split(".")[0]), file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog=f"pantau {name}", description=summary)
    parser.add_argument(
        "--log-level",
        default=os.environ.get("PANTAU_LOG_LEVEL", "INFO"),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
    )
    module.add_arguments(parser)
    args = parser.parse_args(argv[1:])
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(module.run(args) or 0)
    except PantauError as exc:
        print(f"pantau {name}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _missing_package(command: str, package: str) -> str:
    """Pantau is on no package index: the extra comes with the wheel `make dist` builds."""
    extra = "agent" if command in ("agent", "speedtest-server") else "collector"
    wheel = f"pantau-{__version__}-py3-none-any.whl"
    return (
        f"pantau {command}: needs the Python package {package!r}, which the {extra!r} extra"
        f" brings: pip install '{wheel}[{extra}]' (the wheel `make dist` builds; README,"
        f" Running an agent), or in the project: pip install -e '.[{extra}]'"
    )


def _usage(stream: object) -> None:
    lines = ["usage: pantau <command> [options]", "", "commands:"]
    lines += [f"  {name:<13} {summary}" for name, (_, summary) in COMMANDS.items()]
    lines += ["", "pantau <command> --help shows a command's options."]
    print("\n".join(lines), file=stream)  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.exit(main())
