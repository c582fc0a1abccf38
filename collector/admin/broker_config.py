"""mosquitto.conf, the password file and the access rules, generated from the registry and the PKI.

The broker is where "each agent speaks only for itself" is enforced: an agent's identity (the
CN of its certificate, or its password user) may publish only its own point's three topics and
subscribe to nothing; collectors may subscribe to the points' topics (shared or not), the NOC to
agent states only; subscriptions are checked when they are made (mosquitto's dynamic security
plugin, collector/admin/dynsec.py). Nobody is anonymous. The broker's limits (message size,
queue per client) keep one client from filling its memory. The rendering is pure (tested line by
line); `write_broker_files` is the thin I/O around it.
"""

from __future__ import annotations

import glob
import os
import pwd
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from pantau.collector.admin import dynsec
from pantau.collector.admin.pki import Pki, PkiError, write_private
from pantau.shared.config import read_secret_file

# The same broker tuning as the test and demo broker (collector/lab/services.py mosquitto_conf):
# no inflight cap (the collector sets its own receive maximum), state kept across restarts.
# mosquitto writes its in-memory store to disk every `autosave_interval` seconds and on a clean
# stop; a crash loses what arrived since the last save, PUBACKed or not. Nothing is lost for it:
# agents forget a sample only on the collector's receipt (wire v2) and send it again. Saving more
# often would rewrite the whole store (up to the queue limit below, 1 GB) each time, so 30 s stays.
TUNING = (
    "max_inflight_messages 0",
    "set_tcp_nodelay true",
    "persistence true",
    "autosave_interval 30",
)
DYNSEC_PLUGINS = (
    "/usr/lib/*/mosquitto_dynamic_security.so",  # Debian, Ubuntu (multiarch)
    "/usr/lib/mosquitto_dynamic_security.so",
    "/usr/local/lib/mosquitto_dynamic_security.so",
)
# The collector's own default limit (collector/config.py max_payload_bytes); the broker refuses
# anything bigger than that plus room for the topic and properties, so no message it passes on
# can be larger than what the collector takes, and no client can fill the broker with one.
DEFAULT_MAX_PAYLOAD_BYTES = 1_048_576
PACKET_OVERHEAD_BYTES = 1024
# Per client: what the broker queues for a collector that is away. About 480 bytes a sample: 430
# points at 10 s are 155,000 messages an hour, so these hold the city for about 13 hours.
DEFAULT_MAX_QUEUED_MESSAGES = 2_000_000
DEFAULT_MAX_QUEUED_BYTES = 1 << 30


def limit_lines(
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
    max_queued_messages: int = DEFAULT_MAX_QUEUED_MESSAGES,
    max_queued_bytes: int = DEFAULT_MAX_QUEUED_BYTES,
) -> list[str]:
    """What one client may cost the broker: its largest message, and what is queued for it
    while it is away (the collector's persistent session)."""
    return [
        f"max_packet_size {max_payload_bytes + PACKET_OVERHEAD_BYTES}",
        f"max_queued_messages {max_queued_messages}",
        f"max_queued_bytes {max_queued_bytes}",
    ]


def find_dynsec_plugin() -> str:
    for pattern in DYNSEC_PLUGINS:
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    raise PkiError(
        "mosquitto's dynamic security plugin (mosquitto_dynamic_security.so, Debian package"
        " mosquitto >= 2.0) is not installed here; give its path on the broker with"
        " --dynsec-plugin"
    )


@dataclass(frozen=True)
class BrokerSettings:
    """Where the broker listens and keeps its data; see `pantau broker config --help`."""

    cert_port: int | None = 8883  # TLS, client certificate required (identity = its CN)
    password_port: int | None = 8884  # TLS, user name and password
    plain_port: int | None = None  # plaintext, loopback only, passwords; off by default
    admin_port: int | None = 8885  # loopback only: `pantau pki` and `pantau broker sync`
    bind: str | None = None  # address of the TLS listeners; None: every interface
    data_dir: Path = Path("/var/lib/mosquitto")
    log_file: Path | None = None  # None: syslog
    run_as: str = "mosquitto"
    dynsec_plugin: str | None = None  # None: found on this machine
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES  # the collector's max_payload_bytes
    max_queued_messages: int = DEFAULT_MAX_QUEUED_MESSAGES
    max_queued_bytes: int = DEFAULT_MAX_QUEUED_BYTES

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["data_dir"] = str(self.data_dir)
        data["log_file"] = str(self.log_file) if self.log_file else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BrokerSettings:
        data = dict(data)
        data["data_dir"] = Path(data["data_dir"])
        data["log_file"] = Path(data["log_file"]) if data.get("log_file") else None
        return cls(**data)


@dataclass(frozen=True)
class BrokerFiles:
    out: Path
    conf: Path
    passwd: Path
    dynsec: Path  # the plugin's file: loaded at start, rewritten by the broker on changes
    rules: Path  # the same rules and what `pantau broker sync` cleans up; never the broker's
    admin_password: Path
    ca: Path
    cert: Path
    key: Path
    crl: Path
    agents: list[str] = field(default_factory=list)  # points that may publish
    unregistered: list[str] = field(default_factory=list)  # agent identities not in the registry
    collectors: list[str] = field(default_factory=list)


def render_passwd(lines: list[str]) -> str:
    return "".join(f"{line}\n" for line in lines)


def render_conf(settings: BrokerSettings, files: BrokerFiles) -> str:
    """The whole mosquitto.conf; global options first, then one block per listener."""
    log = f"log_dest file {settings.log_file}" if settings.log_file else "log_dest syslog"
    lines = [
        "# Generated by `pantau broker config`; re-run it rather than editing this file.",
        f"user {settings.run_as}",
        "per_listener_settings false",
        "allow_anonymous false",
        f"password_file {files.passwd}",
        "# Subscriptions checked when they are made: collector/admin/dynsec.py",
        f"plugin {settings.dynsec_plugin or find_dynsec_plugin()}",
        f"plugin_opt_config_file {files.dynsec}",
        *TUNING,
        *limit_lines(
            settings.max_payload_bytes, settings.max_queued_messages, settings.max_queued_bytes
        ),
        f"persistence_location {settings.data_dir}/",
        log,
        "log_type error",
        "log_type warning",
        "log_type notice",
        "log_type information",
        "connection_messages true",
        "log_timestamp_format %Y-%m-%dT%H:%M:%S",
    ]
    tls = [
        f"cafile {files.ca}",
        f"certfile {files.cert}",
        f"keyfile {files.key}",
        "tls_version tlsv1.2",
    ]
    bind = f" {settings.bind}" if settings.bind else ""
    if settings.cert_port:
        lines += [
            "",
            "# Client certificates issued by `pantau pki` (revoked ones are in the CRL)",
            f"listener {settings.cert_port}{bind}",
            *tls,
            f"crlfile {files.crl}",
            "require_certificate true",
            "use_identity_as_username true",
            "use_username_as_clientid true",
        ]
    if settings.password_port:
        lines += [
            "",
            "# User name and password over TLS",
            f"listener {settings.password_port}{bind}",
            *tls,
            "require_certificate false",
            "use_username_as_clientid true",
        ]
    if settings.plain_port:
        lines += [
            "",
            "# Plaintext for local tools only: loopback, passwords still required",
            f"listener {settings.plain_port} 127.0.0.1",
            "use_username_as_clientid true",
        ]
    if settings.admin_port:
        lines += [
            "",
            "# Administration on loopback: the client id is not forced here, but every identity",
            "# but the admin is pinned to its own (dynamic security), so only the admin can end",
            "# another identity's session",
            f"listener {settings.admin_port} 127.0.0.1",
        ]
    return "\n".join(lines) + "\n"


def write_broker_files(
    pki: Pki, points: list[str], out: Path, settings: BrokerSettings
) -> BrokerFiles:
    """Write everything the broker reads into `out` (mode 700), and remember the settings so
    `pantau pki revoke` can regenerate the files. Safe to re-run."""
    pki.require()
    if not (settings.cert_port or settings.password_port):
        raise PkiError("the broker needs at least one TLS listener (cert or password port)")
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    out.chmod(0o700)
    tls = out / "tls"
    files = BrokerFiles(
        out=out,
        conf=out / "mosquitto.conf",
        passwd=out / "passwd",
        dynsec=out / "dynamic-security.json",
        rules=out / "rules.json",
        admin_password=out / "admin.password",
        ca=tls / "ca.pem",
        cert=tls / "broker.pem",
        key=tls / "broker.key",
        crl=tls / "crl.pem",
    )
    # The broker gets copies: it must never be able to read the CA's own key.
    for source, target in (
        (pki.ca_cert_path, files.ca),
        (pki.broker_cert_path, files.cert),
        (pki.broker_key_path, files.key),
        (pki.crl_path, files.crl),
    ):
        write_private(target, source.read_bytes())
    admin = pki.ensure_admin(dynsec.ADMIN)
    identities = pki.identities()
    rules = dynsec.rules_for(points, identities)
    write_private(files.passwd, render_passwd(pki.password_lines()).encode())
    dynsec.write_rules(files.rules, rules)
    dynsec.write_rules(files.dynsec, rules)
    write_private(files.admin_password, admin.read_bytes())
    write_private(files.conf, render_conf(settings, files).encode())
    owned = [files.passwd, files.dynsec, files.rules, files.admin_password, files.conf]
    _give_to(settings.run_as, [out, tls, *owned, *_tls_files(files)])
    pki.remember_broker({"out": str(out), "points": sorted(points), **settings.to_json()})
    registered = set(points)
    active = [i for i in identities if i.status == "active"]
    agents = [i.name for i in active if i.role == "agent"]
    return replace(
        files,
        agents=sorted(a for a in agents if a in registered),
        unregistered=sorted(a for a in agents if a not in registered),
        collectors=sorted(i.name for i in active if i.role == "collector"),
    )


def rewrite_remembered(pki: Pki) -> BrokerFiles | None:
    """Regenerate the broker files where `pantau broker config` last wrote them, if anywhere."""
    remembered = pki.broker_settings()
    if not remembered:
        return None
    remembered = dict(remembered)
    out = Path(remembered.pop("out"))
    points = list(remembered.pop("points", []))
    return write_broker_files(pki, points, out, BrokerSettings.from_json(remembered))


def sync_running_broker(
    files: BrokerFiles, settings: BrokerSettings, end_sessions: list[str] | None = None
) -> dynsec.SyncReport:
    """Apply the rules just written to the broker running with them (through its loopback
    admin listener): the plugin reads its file only at start. Raises DynsecError."""
    if not settings.admin_port:
        raise dynsec.DynsecError("the broker has no admin listener (--admin-port 0)")
    password = read_secret_file(files.admin_password).get_secret_value()
    rules = dynsec.read_rules(files.rules)
    return dynsec.sync("127.0.0.1", settings.admin_port, password, rules, end_sessions or [])


def remembered_settings(pki: Pki) -> BrokerSettings | None:
    remembered = pki.broker_settings()
    if not remembered:
        return None
    remembered = {k: v for k, v in remembered.items() if k not in ("out", "points")}
    return BrokerSettings.from_json(remembered)


def _tls_files(files: BrokerFiles) -> list[Path]:
    return [files.ca, files.cert, files.key, files.crl]


def _give_to(user: str, paths: list[Path]) -> None:
    """Files the broker reads belong to the broker's user (mosquitto drops root at start)."""
    if os.geteuid() != 0 or user == "root":
        return
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return
    for path in paths:
        os.chown(path, entry.pw_uid, entry.pw_gid)
