"""`pantau agent --check`: check the installation, not only the YAML.

A technician at a site needs to know, before leaving, that the agent will actually deliver:
the files it names exist and are private, the spool can grow, the broker answers with the
TLS mode and credentials configured, and every router or interface is there. Each check returns
a `Result` (ok / warn / FAIL / skip, what was found, and a one-line fix); `render` prints them
as a table; any FAIL makes the exit code non-zero. Network steps are bounded by `budget_s`.

The broker login is a real MQTT CONNECT as each point, so a running agent of the same point is
disconnected once (the broker keeps one session per identity) and reconnects by itself.
"""

from __future__ import annotations

import contextlib
import enum
import ipaddress
import logging
import os
import shutil
import socket
import ssl
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.reasoncodes import ReasonCode

from pantau.agent.capacity.config import BandwidthTestMethod, SpeedTestMethod
from pantau.agent.config import AgentConfig, MqttConfig, PointConfig, load_agent_config
from pantau.agent.probes import Target, probe
from pantau.agent.sources.clock import RealClock
from pantau.agent.sources.linux import clock_synced
from pantau.agent.sources.linux_config import LinuxSourceConfig
from pantau.agent.sources.routeros import client as routeros_client
from pantau.agent.sources.routeros.config import RouterOSSourceConfig
from pantau.agent.sources.routeros.source import (
    CONNECTION_ERRORS,
    RouterOSSource,
    endpoint,
    tls_context,
)
from pantau.shared.config import read_secret_file
from pantau.shared.errors import ConfigError
from pantau.shared.folders import NOT_A_DIRECTORY, check_folder
from pantau.shared.mqtt_client import TlsConfig, make_client
from pantau.shared.speedtest.contract import TOKEN_ENV, TOKEN_FILE_ENV

SYS_NET = Path("/sys/class/net")
BUDGET_S = 5.0  # each network step: a broker or router that takes longer is broken for an agent
MIN_FREE_BYTES = 20_000_000  # below this the spool cannot take a day of samples
SAMPLE_BYTES = 400  # a spooled sample on disk, rounded up (bench/spool figures)
EXPIRY_WARN_S = 30 * 86_400
# A bare MQTT 3.1.1 CONNECT (no user, no password, empty client id): any broker answers CONNACK.
BARE_CONNECT = b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00"
CONNACK = 0x20


class Status(enum.Enum):
    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"
    SKIP = "skip"


@dataclass(frozen=True)
class Result:
    """One line of the doctor's table: what was checked, the verdict, what to do about it."""

    check: str
    status: Status
    detail: str
    fix: str = ""


def ok(check: str, detail: str) -> Result:
    return Result(check, Status.OK, detail)


def fail(check: str, detail: str, fix: str) -> Result:
    return Result(check, Status.FAIL, detail, fix)


def warn(check: str, detail: str, fix: str) -> Result:
    return Result(check, Status.WARN, detail, fix)


def exit_code(results: list[Result]) -> int:
    return 1 if any(r.status is Status.FAIL for r in results) else 0


# --- the whole run ------------------------------------------------------------------------------


def diagnose(
    config_path: str | Path, network: bool = True, budget_s: float = BUDGET_S
) -> list[Result]:
    """Every check for one agent config; `network=False` leaves out the broker and routers."""
    try:
        config = load_agent_config(config_path)
    except ConfigError as exc:
        return [fail("config", str(exc), f"correct {config_path} and run the check again")]
    ids = ", ".join(p.id for p in config.points)
    results = [ok("config", f"{config_path}: {len(config.points)} point(s): {ids}")]
    results += check_state_dir(config)
    results.append(check_clock(config))
    mqtt = mqtt_results(config)
    results += mqtt
    if network:
        ready = not any(r.status is Status.FAIL for r in mqtt)
        results += check_broker(config, ready, budget_s)
    for point in config.points:
        results += check_source(point, network, budget_s)
        if network:
            results += check_probes(point, budget_s)
        results += check_capacity(point)
    token = check_speedtest_token(config)
    if token is not None:
        results.append(token)
    return results


# --- local files and the host -------------------------------------------------------------------


def check_state_dir(config: AgentConfig) -> list[Result]:
    """The spool must be writable (a real file is created) and have room to grow."""
    folder = config.state_dir
    found = check_folder(folder)  # what the agent's start refuses too (shared/folders.py)
    existing = found.place
    check = "spool directory"
    if found.problem == NOT_A_DIRECTORY:
        return [fail(check, f"{existing}: {found.problem}", "set state_dir to a directory")]
    if found.problem is not None:
        return [
            fail(
                check,
                f"{existing}: {found.problem}",
                f"chown the agent's user {folder} (or set state_dir to a writable place)",
            )
        ]
    where = f"{folder}" if existing == folder else f"{folder} (will be made in {existing})"
    results = [ok(check, f"{where}: writable")]
    free = shutil.disk_usage(existing).free
    need = config.spool.max_bytes or (
        config.spool.max_samples_per_point * len(config.points) * SAMPLE_BYTES
    )
    space = f"{free / 1e6:,.0f} MB free, a full spool takes about {need / 1e6:,.0f} MB"
    if free < MIN_FREE_BYTES:
        results.append(fail("disk space", space, f"free space on {existing}'s file system"))
    elif free < need:
        fix = "free space, or lower spool.max_samples_per_point / set spool.max_bytes"
        results.append(warn("disk space", space, fix))
    else:
        results.append(ok("disk space", space))
    return results


def check_clock(config: AgentConfig) -> Result:
    if config.clock is not None:
        return warn("clock", "virtual clock (clock:) is set", "remove clock: (demos only)")
    synced = clock_synced()
    if synced is None:
        return warn("clock", "cannot ask the kernel whether NTP keeps time", "check NTP by hand")
    if not synced:
        fix = "enable NTP: timedatectl set-ntp true (or chrony/ntpd)"
        return warn("clock", "not synchronised: samples are flagged as unsynced", fix)
    return ok("clock", "synchronised (NTP)")


def check_secret_file(check: str, path: str, setting: str) -> Result:
    """Exists, private to its owner (the existing rule of read_secret_file), not empty."""
    file = Path(path)
    try:
        mode = stat.S_IMODE(file.stat().st_mode)
    except FileNotFoundError:
        return fail(check, f"{path}: not found", f"write it (mode 600) or correct {setting}")
    except OSError as exc:
        return fail(check, f"{path}: {exc.strerror}", f"correct {setting}")
    if mode & 0o077:
        return fail(
            check, f"{path}: readable by group or others (mode {mode:o})", f"chmod 600 {path}"
        )
    try:
        secret = read_secret_file(file)
    except (ConfigError, OSError, UnicodeDecodeError) as exc:
        return fail(check, str(exc), f"chown the agent's user {path}")
    if not secret.get_secret_value():
        return fail(check, f"{path}: empty", f"write the secret into {path}")
    return ok(check, f"{path}: mode {mode:o}, not empty")


def _for_points(config: AgentConfig, *names: str | None) -> list[str | None]:
    """One entry when no name holds `{point}`, else one per point."""
    if any(n and "{point}" in n for n in names):
        return [p.id for p in config.points]
    return [None]


def _fill(name: str | None, point: str | None) -> str:
    """A file name with `{point}` filled in, as MqttConfig.for_point does."""
    return (name or "").replace("{point}", point or "")


def _label(check: str, point: str | None) -> str:
    return f"{check} ({point})" if point else check


def mqtt_results(config: AgentConfig) -> list[Result]:
    """Password files, TLS files, and whether a password would travel in clear."""
    mqtt = config.mqtt
    results: list[Result] = []
    if mqtt.password is not None and mqtt.password.get_secret_value():
        results.append(ok("mqtt password", "given in the config or PANTAU_MQTT__PASSWORD"))
    elif mqtt.password_file:
        for point in _for_points(config, mqtt.password_file):
            path = _fill(mqtt.password_file, point)
            label = _label("mqtt password file", point)
            results.append(check_secret_file(label, path, "mqtt.password_file"))
    if mqtt.tls is not None:
        tls = mqtt.tls
        results += check_ca(tls)
        for point in _for_points(config, tls.cert_file, tls.key_file):
            cert, key = _fill(tls.cert_file, point), _fill(tls.key_file, point)
            results += check_client_cert(cert or None, key or None, point)
    cleartext = check_cleartext(mqtt)
    if cleartext is not None:
        results.append(cleartext)
    return results


def _decode_cert(path: str) -> dict[str, object]:
    """The first certificate of a PEM file, as `ssl` decodes a peer's (no extra dependency)."""
    return ssl._ssl._test_decode_cert(path)  # type: ignore[attr-defined,no-any-return]


def _expiry(check: str, path: str) -> Result:
    """Parses as a certificate, and is neither expired nor about to be."""
    try:
        cert = _decode_cert(path)
    except (ssl.SSLError, OSError, ValueError):
        return fail(
            check, f"{path}: not a PEM certificate", "use the .pem file `pantau pki` issued"
        )
    not_after = str(cert.get("notAfter", ""))
    left_s = ssl.cert_time_to_seconds(not_after) - time.time()
    if left_s <= 0:
        return fail(check, f"{path}: expired on {not_after}", "issue a new one: pantau pki issue")
    if left_s < EXPIRY_WARN_S:
        return warn(check, f"{path}: expires on {not_after}", "issue a new one: pantau pki issue")
    return ok(check, f"{path}: valid until {not_after}")


def _readable(check: str, path: str, setting: str) -> Result | None:
    if not Path(path).is_file():
        return fail(
            check, f"{path}: not found", f"copy it there (from `pantau pki`) or correct {setting}"
        )
    if not os.access(path, os.R_OK):
        return fail(check, f"{path}: cannot be read", f"chown the agent's user {path}")
    return None


def check_ca(tls: TlsConfig) -> list[Result]:
    check = "mqtt CA file"
    if not tls.ca_file:
        return [ok(check, "none set: the system's CAs verify the broker")]
    problem = _readable(check, tls.ca_file, "mqtt.tls.ca_file")
    if problem is not None:
        return [problem]
    try:
        ssl.create_default_context(cafile=tls.ca_file)
    except ssl.SSLError:
        return [
            fail(check, f"{tls.ca_file}: no PEM certificate in it", "copy ca.pem from `pantau pki`")
        ]
    return [_expiry(check, tls.ca_file)]


def check_client_cert(cert: str | None, key: str | None, point: str | None) -> list[Result]:
    if not cert and not key:
        return []
    cert_check, key_check = _label("mqtt client cert", point), _label("mqtt client key", point)
    if not cert or not key:
        missing = "cert_file" if not cert else "key_file"
        return [
            fail(cert_check, f"mqtt.tls.{missing} is not set", "set both cert_file and key_file")
        ]
    results: list[Result] = []
    problem = _readable(cert_check, cert, "mqtt.tls.cert_file")
    results.append(problem if problem is not None else _expiry(cert_check, cert))
    key_result = check_secret_file(key_check, key, "mqtt.tls.key_file")
    if all(r.status is not Status.FAIL for r in results) and key_result.status is Status.OK:
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(cert, key)
        except ssl.SSLError as exc:
            detail = f"{key}: does not match {cert} ({exc.reason or exc})"
            key_result = fail(key_check, detail, "use the key issued with that certificate")
        else:
            key_result = ok(key_check, f"{key}: mode 600, matches the certificate")
    results.append(key_result)
    return results


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_cleartext(mqtt: MqttConfig) -> Result | None:
    """A password without `tls:` crosses the network readable by anyone on the path."""
    has_password = bool(mqtt.password_file) or (
        mqtt.password is not None and bool(mqtt.password.get_secret_value())
    )
    if not has_password or mqtt.tls is not None:
        return None
    check = "mqtt password in clear"
    if _is_loopback(mqtt.host):
        return ok(check, f"no tls:, but {mqtt.host} is this host (loopback)")
    return fail(
        check,
        f"no tls: the password would travel in clear to {mqtt.host}",
        "add tls: {ca_file: <the project's ca.pem>} and use the broker's TLS port",
    )


def check_speedtest_token(config: AgentConfig) -> Result | None:
    """The HTTP speed test sends this agent's token; the server refuses tests without it."""
    path = os.environ.get(TOKEN_FILE_ENV, "").strip()
    if path:
        return check_secret_file("speed-test token file", path, TOKEN_FILE_ENV)
    uses_http = any(
        p.capacity is not None and p.capacity.method.kind == "http" for p in config.points
    )
    if uses_http and not os.environ.get(TOKEN_ENV, "").strip():
        fix = f"set {TOKEN_FILE_ENV} to the token file (the service unit does)"
        return warn("speed-test token", "none: a server that wants tokens refuses the tests", fix)
    return None


def check_capacity(point: PointConfig) -> list[Result]:
    """Secrets of router-run speed tests (btest, speed-test) read as the test would."""
    method = point.capacity.method if point.capacity is not None else None
    if not isinstance(method, BandwidthTestMethod | SpeedTestMethod):
        return []
    check = _label("speed-test password", point.id)
    if method.password_file:
        return [check_secret_file(check, method.password_file, "capacity.method.password_file")]
    try:
        method.secret()
    except ConfigError as exc:
        return [fail(check, str(exc), "set it in the agent's service environment")]
    return []


# --- the broker ---------------------------------------------------------------------------------


def check_broker(config: AgentConfig, ready: bool, budget_s: float) -> list[Result]:
    """TCP first (is anything there?), then a real MQTT login as each point."""
    mqtt = config.mqtt
    where = f"{mqtt.host}:{mqtt.port}"
    started = time.monotonic()
    try:
        with socket.create_connection((mqtt.host, mqtt.port), timeout=budget_s):
            pass
    except OSError as exc:
        return [fail("broker address", f"{where}: {_socket_error(exc)}", _tcp_fix(exc, mqtt))]
    took_ms = (time.monotonic() - started) * 1000
    results = [ok("broker address", f"{where} accepts TCP ({took_ms:.0f} ms)")]
    cleartext = check_cleartext(mqtt)
    if cleartext is not None and cleartext.status is Status.FAIL:
        detail = "not tried: it would send the password in clear"
        return [*results, Result("broker login", Status.SKIP, detail)]
    if not ready:
        detail = "not tried: fix the mqtt files above first"
        return [*results, Result("broker login", Status.SKIP, detail)]
    first_problem: Result | None = None
    for point in config.points:
        check = _label("broker login", point.id if len(config.points) > 1 else None)
        if first_problem is not None:
            results.append(Result(check, Status.SKIP, "not tried: same broker problem as above"))
            continue
        result = mqtt_login(check, mqtt.for_point(point.id), point.id, budget_s)
        results.append(result)
        if result.status is Status.FAIL and not result.detail.startswith("refused"):
            first_problem = result  # transport trouble is the same for every point
    return results


def _socket_error(exc: OSError) -> str:
    if isinstance(exc, socket.gaierror):
        return f"name not resolved ({exc.strerror})"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "no TCP answer (timed out)"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return exc.strerror or type(exc).__name__


def _tcp_fix(exc: OSError, mqtt: MqttConfig) -> str:
    if isinstance(exc, socket.gaierror):
        return f"correct mqtt.host ({mqtt.host!r}) or the site's DNS"
    if isinstance(exc, ConnectionRefusedError):
        return (
            "is the broker running? is mqtt.port its listener (pantau broker config prints them)?"
        )
    return "check the route and firewalls between this site and the broker"


def mqtt_login(check: str, mqtt: MqttConfig, point: str, budget_s: float) -> Result:
    """CONNECT with the configured credentials and TLS; the CONNACK or why there was none."""
    where = f"{mqtt.host}:{mqtt.port}"
    client = make_client(mqtt, f"pantau-check-{point}", default_username=point)
    client.connect_timeout = budget_s
    answer: dict[str, object] = {}
    client.on_connect = lambda _c, _u, _f, rc, _p: answer.setdefault("connack", rc)
    client.on_disconnect = lambda _c, _u, _f, rc, _p: answer.setdefault("gone", rc)
    deadline = time.monotonic() + budget_s
    try:
        client.connect(mqtt.host, mqtt.port, keepalive=mqtt.keepalive_s)
        while not answer and time.monotonic() < deadline:
            if client.loop(timeout=0.1) != paho.MQTT_ERR_SUCCESS:
                answer.setdefault("gone", "connection lost")
    except ssl.SSLCertVerificationError as exc:
        return _untrusted(check, where, exc)
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError, EOFError) as exc:
        if mqtt.tls is not None and speaks_plain_mqtt(mqtt.host, mqtt.port, budget_s):
            return fail(
                check,
                f"{where} is a plain MQTT listener, not TLS (the TLS handshake was refused)",
                "set mqtt.port to the broker's TLS port, or remove tls: for a loopback broker",
            )
        return fail(check, f"{where}: TLS handshake failed: {exc}", "is mqtt.port a TLS listener?")
    except TimeoutError:
        return _no_answer(check, where, mqtt, budget_s)
    except OSError as exc:
        return fail(check, f"{where}: {_socket_error(exc)}", _tcp_fix(exc, mqtt))
    finally:
        client.on_connect = client.on_disconnect = None  # the verdict is in; now only tidy up
        with contextlib.suppress(OSError):
            client.disconnect()
            client.loop(timeout=0.05)
    connack = answer.get("connack")
    if isinstance(connack, ReasonCode):
        if not connack.is_failure:
            user = mqtt.username or point
            return ok(check, f"{where}: logged in as {user!r}{' over TLS' if mqtt.tls else ''}")
        return _refused(check, where, connack, mqtt.username or point)
    if "gone" in answer:
        if mqtt.tls is None and speaks_tls(mqtt.host, mqtt.port, budget_s):
            return fail(
                check,
                f"{where} speaks TLS, but the config has no tls:",
                "add tls: {ca_file: <the project's ca.pem>}",
            )
        return fail(
            check,
            f"{where}: the connection was closed before any MQTT answer",
            "is mqtt.port an MQTT listener? the broker's log says why it closed",
        )
    return _no_answer(check, where, mqtt, budget_s)


def _no_answer(check: str, where: str, mqtt: MqttConfig, budget_s: float) -> Result:
    stage = "the TLS handshake" if mqtt.tls is not None else "CONNECT"
    return fail(
        check,
        f"{where} accepts TCP but did not answer {stage} within {budget_s:g}s",
        "is mqtt.port the broker's MQTT port? something else is listening there",
    )


def _untrusted(check: str, where: str, exc: ssl.SSLCertVerificationError) -> Result:
    message = str(exc.verify_message or exc)
    if "hostname" in message.lower() or "ip address mismatch" in message.lower():
        fix = "connect by a name or address in the broker's certificate (mqtt.host)"
    else:
        fix = "mqtt.tls.ca_file must be the CA that signed the broker's certificate"
    return fail(check, f"{where}: broker certificate not trusted: {message}", fix)


REFUSALS: dict[str, str] = {
    "Bad user name or password": "the password file must hold {user}'s password (pantau pki)",
    "Not authorized": "the broker does not accept {user}: add the point and run pantau broker sync",
    "Client identifier not valid": "{user} is not a point id the broker knows",
    "Server unavailable": "the broker is starting or overloaded: try again in a minute",
    "Banned": "the broker banned {user}: see its log",
}


def _refused(check: str, where: str, connack: ReasonCode, user: str) -> Result:
    name = connack.getName()
    fix = REFUSALS.get(name, "the broker's log says why").format(user=repr(user))
    return fail(check, f"refused by {where}: {name} (CONNACK {connack.value}) for {user!r}", fix)


def speaks_tls(host: str, port: int, budget_s: float) -> bool:
    """Does a TLS handshake (nothing verified, nothing sent) complete on this port?"""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((host, port), timeout=budget_s) as sock,
            context.wrap_socket(sock),
        ):
            return True
    except (OSError, ssl.SSLError):
        return False


def speaks_plain_mqtt(host: str, port: int, budget_s: float) -> bool:
    """Does a bare CONNECT, without credentials, get a CONNACK on this port?"""
    try:
        with socket.create_connection((host, port), timeout=budget_s) as sock:
            sock.sendall(BARE_CONNECT)
            first = sock.recv(1)
    except OSError:
        return False
    return bool(first) and first[0] == CONNACK


# --- sources ------------------------------------------------------------------------------------


def check_source(point: PointConfig, network: bool, budget_s: float) -> list[Result]:
    source = point.source
    if isinstance(source, LinuxSourceConfig):
        return check_linux(point.id, source)
    if isinstance(source, RouterOSSourceConfig):
        return check_routeros(point.id, source, budget_s) if network else []
    return [ok(_label("source", point.id), "simulated")]


def check_probes(point: PointConfig, budget_s: float) -> list[Result]:
    """Each agent-side WAN probe target, once: a target that never answers makes `wan_up`
    false in every sample, which the SLA engine would count against the provider."""
    if point.probes is None:
        return []
    results: list[Result] = []
    for target in point.probes.targets:
        name = f"{target.host}:{target.port}" if target.kind == "tcp" else target.host
        check = _label(f"probe {target.kind} {name}", point.id)
        found = probe([Target(target.kind, target.host, target.port)], 1, budget_s)
        if found.wan_up and found.rtt_ms is not None:
            results.append(ok(check, f"answered in {found.rtt_ms:.1f} ms"))
        else:
            fix = "is the WAN up? otherwise choose a target that answers from this site"
            results.append(warn(check, "no answer", fix))
    return results


def interface_names() -> list[str]:
    try:
        return sorted(p.name for p in SYS_NET.iterdir())
    except OSError:
        return []


def _interface(check: str, name: str, setting: str) -> Result:
    if (SYS_NET / name).exists():
        return ok(check, f"{name} exists")
    names = ", ".join(interface_names()) or "none found"
    return fail(check, f"{name!r} does not exist on this host", f"set {setting} to one of: {names}")


def check_linux(point: str, source: LinuxSourceConfig) -> list[Result]:
    results = [
        _interface(_label("WAN interface", point), source.wan_interface, "source.wan_interface")
    ]
    clients = source.clients
    check = _label("clients", point)
    if clients.kind == "dnsmasq_leases":
        path = Path(clients.path)
        if not path.is_file():
            fix = "is dnsmasq the DHCP server here? correct source.clients.path"
            results.append(fail(check, f"leases file {path}: not found", fix))
        elif not os.access(path, os.R_OK):
            results.append(fail(check, f"leases file {path}: cannot be read", f"chmod o+r {path}"))
        else:
            results.append(ok(check, f"leases file {path} readable"))
    elif clients.kind == "neighbours":
        if clients.interface:
            results.append(_interface(check, clients.interface, "source.clients.interface"))
        if shutil.which("ip") is None:
            results.append(fail(check, "the `ip` command is missing", "install iproute2"))
    return results


def check_routeros(point: str, source: RouterOSSourceConfig, budget_s: float) -> list[Result]:
    """Log in, then one real poll: every path the config uses, and the WAN interface."""
    where = f"{source.host}:{source.api_port}"
    login = _label("router login", point)
    results: list[Result] = []
    if source.password_file:
        secret_file = check_secret_file(
            _label("router password file", point), source.password_file, "source.password_file"
        )
        if secret_file.status is Status.FAIL:
            return [secret_file, Result(login, Status.SKIP, f"{where}: not tried")]
        results.append(secret_file)
    try:
        source.secret()
    except ConfigError as exc:
        return [fail(login, str(exc), "set it in the agent's service environment")]
    bounded = source.model_copy(update={"timeout_s": min(source.timeout_s, budget_s)})
    with _quiet("pantau.agent.sources.routeros"):
        reader = RouterOSSource(point, bounded, RealClock())
        try:
            reading = reader.read()
        finally:
            reader.close()
    if not reading.device_up:
        issue = reading.issues[0] if reading.issues else None
        detail = issue.message if issue is not None else "no answer"
        if issue is not None and issue.path == "login":
            fix = "the password must be the router API user's (see /user on the router)"
        else:
            fix = "is the API service on (/ip service), and this address allowed to use it?"
        return [*results, fail(login, f"{where}: {detail}", fix)]
    results.append(ok(login, f"{where}: logged in as {source.username!r}"))
    wan = _label("router WAN interface", point)
    missing = [i for i in reading.issues if i.path == "/interface"]
    if missing:
        names = ", ".join(router_interfaces(bounded, budget_s)) or "none listed"
        fix = f"set source.wan_interface to one of the router's: {names}"
        results.append(fail(wan, f"{source.wan_interface!r} not on {where}", fix))
    else:
        results.append(ok(wan, f"{source.wan_interface} found on the router"))
    others = [i for i in reading.issues if i.path != "/interface"]
    paths = _label("router paths", point)
    if others:
        listed = "; ".join(f"{i.path}: {i.message}" for i in others)
        results.append(warn(paths, listed, "give the API user read rights to these paths"))
    else:
        results.append(ok(paths, "every path the agent reads answered"))
    reach = reading.reachability
    if source.ping_targets and reach is not None and reach.wan_up is False:
        targets = ", ".join(source.ping_targets)
        fix = "is the WAN up? otherwise choose ping_targets that answer from this site"
        results.append(warn(_label("router pings", point), f"no answer from {targets}", fix))
    return results


def router_interfaces(source: RouterOSSourceConfig, budget_s: float) -> list[str]:
    """The router's interface names, for the fix line of a wrong wan_interface: only a hint,
    so a failure here gives an empty list (the login's result above is the verdict)."""
    deadline = routeros_client.Deadline()
    deadline.start(budget_s)
    try:
        api = routeros_client.open_api(
            endpoint(source), source.secret().get_secret_value(), tls_context(source), deadline
        )
    except (*CONNECTION_ERRORS, routeros_client.LoginRefusedError, ConfigError):
        return []
    try:
        commands = [["/interface/print", "=.proplist=name"]]
        rows = next(routeros_client.exchange(api, commands, time.monotonic))[1]
    except CONNECTION_ERRORS:
        return []
    finally:
        with contextlib.suppress(OSError):
            api.close()
    return (
        [str(r["name"]) for r in rows if isinstance(r, dict) and "name" in r]
        if isinstance(rows, list)
        else []
    )


@contextlib.contextmanager
def _quiet(name: str) -> Iterator[None]:
    """The source logs what goes wrong; here the table says it, once."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


# --- rendering ----------------------------------------------------------------------------------

COLOURS = {Status.OK: "32", Status.WARN: "33", Status.FAIL: "1;31", Status.SKIP: "2"}


def render(results: list[Result], colour: bool = False) -> str:
    """A plain table (an agent install has no rich): status, check, what was found, and a
    `fix:` line under every row that is not ok."""
    width = max(len(r.check) for r in results)
    paint: Callable[[Status, str], str] = (
        (lambda s, text: f"\033[{COLOURS[s]}m{text}\033[0m") if colour else (lambda s, text: text)
    )
    lines = [f"{'STATUS':<6}  {'CHECK':<{width}}  RESULT"]
    for r in results:
        lines.append(f"{paint(r.status, f'{r.status.value:<6}')}  {r.check:<{width}}  {r.detail}")
        if r.fix and r.status is not Status.OK:
            lines.append(f"{'':<6}  {'':<{width}}  fix: {r.fix}")
    counts = {s: sum(1 for r in results if r.status is s) for s in Status}
    summary = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
    verdict = "not ready" if counts[Status.FAIL] else "ready"
    lines += ["", f"{summary}: {verdict}"]
    return "\n".join(lines)
