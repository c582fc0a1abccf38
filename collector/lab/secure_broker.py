"""A broker exactly as `pantau broker config` makes it, on free loopback ports: for the demo and
the tests, so both run with TLS and per-agent credentials, the way production does.

    broker = prepare_secure_broker(workdir, registry_path, ["citangkil-01", "citangkil-02"])
    broker.service.start()
    agent_yaml["mqtt"] = broker.agent_mqtt()              # one agent, any of those points
    collector_yaml["mqtt"] = broker.collector_mqtt()
"""

from __future__ import annotations

import getpass
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pantau.collector.admin.broker_config import (
    BrokerFiles,
    BrokerSettings,
    sync_running_broker,
    write_broker_files,
)
from pantau.collector.admin.dynsec import SyncReport
from pantau.collector.admin.pki import Pki
from pantau.collector.lab import services
from pantau.shared.registry import Registry, load_registry

COLLECTOR = "pantau-collector"
NOC = "noc"
NOC_COMMANDS = ("noc-status", "noc-alerts")  # `pantau status` and `pantau alerts`, one each
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Credentials:
    """One identity's files; secrets stay in files (mode 600), never in this object."""

    name: str
    ca_file: Path
    password_file: Path | None
    cert_file: Path | None
    key_file: Path | None


@dataclass
class SecureBroker:
    service: services.Service  # not started yet; its `port` is the certificate listener
    pki: Pki
    files: BrokerFiles
    cert_port: int
    password_port: int
    plain_port: int | None
    agents: dict[str, Credentials]
    collector: Credentials
    noc: Credentials
    settings: BrokerSettings
    noc_commands: dict[str, Credentials]

    def agent_mqtt(self, method: Literal["password", "cert"] = "password") -> dict[str, Any]:
        """The `mqtt` section of an agent config for any number of the prepared points:
        `{point}` in the file names gives each point's session its own credential."""
        bundle = self.pki.bundle_dir("{point}")
        section: dict[str, Any] = {"host": HOST, "tls": {"ca_file": str(self.pki.ca_cert_path)}}
        if method == "cert":
            section["port"] = self.cert_port
            section["tls"] |= {
                "cert_file": str(bundle / "cert.pem"),
                "key_file": str(bundle / "key.pem"),
            }
        else:
            section["port"] = self.password_port
            section["password_file"] = str(bundle / "password")
        return section

    def collector_mqtt(self, method: Literal["password", "cert"] = "cert") -> dict[str, Any]:
        """The `mqtt` section of a collector config (merge client_id, share_group as needed)."""
        return self._reader_mqtt(self.collector, method)

    def noc_mqtt(self, name: str = NOC) -> dict[str, Any]:
        """A NOC identity's `mqtt` section: `noc`, or `noc-status` / `noc-alerts`."""
        who = self.noc if name == NOC else self.noc_commands[name]
        return self._reader_mqtt(who, "password")

    def sync(self, end_sessions: list[str] | None = None) -> SyncReport:
        """What `pantau broker sync` does: the rules on disk onto the running broker."""
        return sync_running_broker(self.files, self.settings, end_sessions)

    def reload(self) -> None:
        """What `systemctl reload` does: mosquitto rereads passwords, ACL and the CRL."""
        assert self.service.process is not None
        os.kill(self.service.process.pid, signal.SIGHUP)

    def _reader_mqtt(self, who: Credentials, method: str) -> dict[str, Any]:
        tls: dict[str, Any] = {"ca_file": str(who.ca_file)}
        section: dict[str, Any] = {"host": HOST, "username": who.name, "tls": tls}
        if method == "cert":
            section["port"] = self.cert_port
            tls |= {"cert_file": str(who.cert_file), "key_file": str(who.key_file)}
        else:
            section["port"] = self.password_port
            section["password_file"] = str(who.password_file)
        return section


def prepare_secure_broker(
    workdir: Path,
    registry: Registry | Path,
    points: list[str] | None = None,
    plain_port: bool = False,
    bind: str = HOST,
    **limits: int,
) -> SecureBroker:
    """CA, broker certificate for 127.0.0.1/localhost, a certificate and a password for each
    point (all of the registry's by default), the collector and a NOC account, then the broker
    files; returns the (unstarted) broker and where every credential is. Safe to call again on
    the same workdir: what exists is kept."""
    workdir = Path(workdir).resolve()
    if not isinstance(registry, Registry):
        registry = load_registry(registry)
    ids = [p.id for p in registry.points]
    points = ids if points is None else points
    pki = Pki(workdir / "pki")
    pki.init([HOST, "localhost"])
    pki.issue_many(points, "agent", "both")
    pki.issue(COLLECTOR, "collector", "both")
    pki.issue_many([NOC, *NOC_COMMANDS], "noc", "password")
    broker_dir = workdir / "broker"
    data_dir = broker_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = BrokerSettings(
        cert_port=services.free_port(),
        password_port=services.free_port(),
        plain_port=services.free_port() if plain_port else None,
        admin_port=services.free_port(),
        bind=bind,
        data_dir=data_dir,
        log_file=broker_dir / "mosquitto.log",
        run_as="root" if os.geteuid() == 0 else getpass.getuser(),
        **limits,  # max_payload_bytes, max_queued_messages, max_queued_bytes
    )
    files = write_broker_files(pki, ids, broker_dir, settings)
    assert settings.cert_port and settings.password_port
    service = services.mosquitto_from(files.conf, settings.cert_port, broker_dir)
    if bind not in ("127.0.0.1", "0.0.0.0", ""):
        service.host = bind
    return SecureBroker(
        service=service,
        pki=pki,
        files=files,
        cert_port=settings.cert_port,
        password_port=settings.password_port,
        plain_port=settings.plain_port,
        agents={p: _credentials(pki, p) for p in points},
        collector=_credentials(pki, COLLECTOR),
        noc=_credentials(pki, NOC),
        settings=settings,
        noc_commands={n: _credentials(pki, n) for n in NOC_COMMANDS},
    )


def _credentials(pki: Pki, name: str) -> Credentials:
    bundle = pki.bundle_dir(name)

    def present(file: str) -> Path | None:
        path = bundle / file
        return path if path.exists() else None

    return Credentials(
        name=name,
        ca_file=pki.ca_cert_path,
        password_file=present("password"),
        cert_file=present("cert.pem"),
        key_file=present("key.pem"),
    )
