"""`pantau agent --check` against real parts: mosquitto as `pantau broker config` makes it (TLS,
passwords, a plain loopback listener), a plain mosquitto, the RouterOS simulator, a socket that
accepts and never answers. A healthy install passes; each broken item is one FAIL naming it."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pantau.agent.doctor import Result, Status, diagnose, exit_code
from pantau.agent.sources.linux import clock_synced
from pantau.collector.lab import services
from pantau.collector.lab.routeros_sim import RouterSpec, SimFleet
from pantau.collector.lab.routeros_sim.certs import make_certs
from pantau.collector.lab.secure_broker import SecureBroker, prepare_secure_broker
from tests.pipeline import PANTAU, registry_file, write_yaml

POINT = "citangkil-01"
ROUTER_PASSWORD = "Zq9-unguessable-router-pw"
BUDGET_S = 3.0
CLOCK = Status.OK if clock_synced() else Status.WARN  # the host's NTP state, not the agent's


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    work = tmp_path_factory.mktemp("doctor-broker")
    registry = registry_file(work / "registry.yaml", [POINT])
    broker = prepare_secure_broker(work / "secure", registry, [POINT], plain_port=True)
    broker.service.start()
    yield broker
    broker.service.stop()


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[services.Service]:
    service = services.mosquitto(tmp_path_factory.mktemp("doctor-plain")).start()
    yield service
    service.stop()


@pytest.fixture(scope="module")
def routers() -> Iterator[SimFleet]:
    specs = [
        RouterSpec(name="good", password=ROUTER_PASSWORD),
        RouterSpec(name="renamed", password=ROUTER_PASSWORD, wan_interface="ether1-wan"),
    ]
    with SimFleet(specs) as fleet:
        yield fleet


def linux_source(tmp_path: Path, **changes: Any) -> dict[str, Any]:
    leases = tmp_path / "dnsmasq.leases"
    leases.write_text("0 aa:bb:cc:dd:ee:01 10.5.0.10 phone *\n")
    source: dict[str, Any] = {
        "kind": "linux",
        "wan_interface": "lo",
        "clients": {"kind": "dnsmasq_leases", "path": str(leases)},
    }
    return source | changes


def routeros_source(tmp_path: Path, fleet: SimFleet, index: int = 0) -> dict[str, Any]:
    password = tmp_path / "router-password"
    password.write_text(ROUTER_PASSWORD + "\n")
    password.chmod(0o600)
    return {
        "kind": "routeros",
        "host": "127.0.0.1",
        "port": fleet.port(index),
        "password_file": str(password),
        "timeout_s": 2.0,
    }


def config(tmp_path: Path, mqtt: dict[str, Any], source: dict[str, Any], **point: Any) -> Path:
    return write_yaml(
        tmp_path / "agent.yaml",
        {
            "state_dir": str(tmp_path / "state"),
            "mqtt": mqtt,
            "points": [{"id": POINT, "source": source, **point}],
        },
    )


def check(path: Path) -> list[Result]:
    return diagnose(path, budget_s=BUDGET_S)


def verdicts(results: list[Result]) -> dict[str, Status]:
    return {r.check: r.status for r in results}


def failures(results: list[Result]) -> dict[str, str]:
    return {r.check: r.detail for r in results if r.status is Status.FAIL}


def fixes(results: list[Result]) -> dict[str, str]:
    return {r.check: r.fix for r in results if r.status is Status.FAIL}


def assert_healthy(results: list[Result], checks: list[str]) -> None:
    expected = {name: Status.OK for name in checks} | {"clock": CLOCK}
    assert verdicts(results) == expected, [r for r in results if r.status is not Status.OK]
    assert exit_code(results) == 0


# --- healthy installs ---------------------------------------------------------------------------


def test_healthy_linux_agent_on_a_plain_loopback_broker(
    tmp_path: Path, plain: services.Service
) -> None:
    mqtt = {"host": "127.0.0.1", "port": plain.port}
    probes = {"targets": [{"kind": "tcp", "host": "127.0.0.1", "port": plain.port}]}
    path = config(tmp_path, mqtt, linux_source(tmp_path), probes=probes)
    results = check(path)
    assert_healthy(
        results,
        ["config", "spool directory", "disk space", "broker address", "broker login",
         "WAN interface (citangkil-01)", "clients (citangkil-01)",
         f"probe tcp 127.0.0.1:{plain.port} (citangkil-01)"],
    )  # fmt: skip
    login = next(r for r in results if r.check == "broker login")
    assert login.detail == f"127.0.0.1:{plain.port}: logged in as '{POINT}'"


def test_healthy_routeros_agent_over_tls_with_a_password(
    tmp_path: Path, secure: SecureBroker, routers: SimFleet
) -> None:
    path = config(tmp_path, secure.agent_mqtt("password"), routeros_source(tmp_path, routers))
    results = check(path)
    assert_healthy(
        results,
        ["config", "spool directory", "disk space", "mqtt password file (citangkil-01)",
         "mqtt CA file",
         "broker address", "broker login", "router password file (citangkil-01)",
         "router login (citangkil-01)", "router WAN interface (citangkil-01)",
         "router paths (citangkil-01)"],
    )  # fmt: skip
    login = next(r for r in results if r.check == "broker login")
    assert login.detail == f"127.0.0.1:{secure.password_port}: logged in as '{POINT}' over TLS"


def test_healthy_agent_with_a_client_certificate(tmp_path: Path, secure: SecureBroker) -> None:
    path = config(tmp_path, secure.agent_mqtt("cert"), linux_source(tmp_path))
    results = check(path)
    assert_healthy(
        results,
        ["config", "spool directory", "disk space", "mqtt CA file",
         "mqtt client cert (citangkil-01)", "mqtt client key (citangkil-01)", "broker address",
         "broker login", "WAN interface (citangkil-01)", "clients (citangkil-01)"],
    )  # fmt: skip


def test_the_command_prints_the_table_and_exits_0_when_healthy(
    tmp_path: Path, plain: services.Service
) -> None:
    path = config(tmp_path, {"host": "127.0.0.1", "port": plain.port}, linux_source(tmp_path))
    done = subprocess.run(
        [*PANTAU, "agent", "--check", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["STATUS", "CHECK", "RESULT"]
    assert lines[-1].endswith(": ready")
    assert "FAIL" not in done.stdout


# --- broken installs: one FAIL each, naming it ---------------------------------------------------


def test_missing_ca_file(tmp_path: Path, secure: SecureBroker) -> None:
    mqtt = secure.agent_mqtt("password")
    mqtt["tls"]["ca_file"] = str(tmp_path / "no-ca.pem")
    results = check(config(tmp_path, mqtt, linux_source(tmp_path)))
    assert failures(results) == {"mqtt CA file": f"{tmp_path / 'no-ca.pem'}: not found"}
    assert verdicts(results)["broker login"] is Status.SKIP  # nothing tried with a broken setup
    assert exit_code(results) == 1


def test_password_file_readable_by_others(tmp_path: Path, secure: SecureBroker) -> None:
    mqtt = secure.agent_mqtt("password")
    loose = tmp_path / "password"
    loose.write_text(Path(mqtt["password_file"].replace("{point}", POINT)).read_text())
    loose.chmod(0o644)
    mqtt["password_file"] = str(loose)
    results = check(config(tmp_path, mqtt, linux_source(tmp_path)))
    assert failures(results) == {
        "mqtt password file": f"{loose}: readable by group or others (mode 644)"
    }
    assert fixes(results) == {"mqtt password file": f"chmod 600 {loose}"}
    assert exit_code(results) == 1


def test_missing_wan_interface(tmp_path: Path, plain: services.Service) -> None:
    source = linux_source(tmp_path, wan_interface="wan9")
    results = check(config(tmp_path, {"host": "127.0.0.1", "port": plain.port}, source))
    assert failures(results) == {
        "WAN interface (citangkil-01)": "'wan9' does not exist on this host"
    }
    assert "lo" in fixes(results)["WAN interface (citangkil-01)"].split(": ")[-1].split(", ")
    assert exit_code(results) == 1


def test_missing_leases_file(tmp_path: Path, plain: services.Service) -> None:
    source = linux_source(tmp_path)
    source["clients"]["path"] = str(tmp_path / "nowhere.leases")
    results = check(config(tmp_path, {"host": "127.0.0.1", "port": plain.port}, source))
    assert failures(results) == {
        "clients (citangkil-01)": f"leases file {tmp_path / 'nowhere.leases'}: not found"
    }
    assert exit_code(results) == 1


def test_tls_agent_at_the_plain_port(tmp_path: Path, secure: SecureBroker) -> None:
    assert secure.plain_port is not None
    mqtt = secure.agent_mqtt("password") | {"port": secure.plain_port}
    results = check(config(tmp_path, mqtt, linux_source(tmp_path)))
    where = f"127.0.0.1:{secure.plain_port}"
    assert failures(results) == {
        "broker login": f"{where} is a plain MQTT listener, not TLS (the TLS handshake was refused)"
    }
    assert exit_code(results) == 1


def test_plain_agent_at_the_tls_port(tmp_path: Path, secure: SecureBroker) -> None:
    mqtt = secure.agent_mqtt("password")
    del mqtt["tls"]
    results = check(config(tmp_path, mqtt, linux_source(tmp_path)))
    where = f"127.0.0.1:{secure.password_port}"
    assert failures(results) == {"broker login": f"{where} speaks TLS, but the config has no tls:"}
    assert exit_code(results) == 1


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_a_socket_that_accepts_and_never_answers(
    tmp_path: Path, secure: SecureBroker, tls: bool
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # the kernel accepts; nobody reads
        port = silent.getsockname()[1]
        mqtt: dict[str, Any] = {"host": "127.0.0.1", "port": port}
        if tls:
            mqtt["tls"] = {"ca_file": str(secure.pki.ca_cert_path)}
        results = check(config(tmp_path, mqtt, linux_source(tmp_path)))
    stage = "the TLS handshake" if tls else "CONNECT"
    assert failures(results) == {
        "broker login": f"127.0.0.1:{port} accepts TCP but did not answer {stage} within 3s"
    }
    assert exit_code(results) == 1


def test_a_ca_that_did_not_sign_the_broker(tmp_path: Path, secure: SecureBroker) -> None:
    mqtt = secure.agent_mqtt("password")
    mqtt["tls"]["ca_file"] = str(make_certs(tmp_path / "other-ca").ca_cert)
    results = check(config(tmp_path, mqtt, linux_source(tmp_path)))
    where = f"127.0.0.1:{secure.password_port}"
    assert failures(results) == {
        "broker login": f"{where}: broker certificate not trusted: self-signed certificate in"
        " certificate chain"
    }
    assert fixes(results) == {
        "broker login": "mqtt.tls.ca_file must be the CA that signed the broker's certificate"
    }


def test_wrong_broker_password(tmp_path: Path, secure: SecureBroker) -> None:
    mqtt = secure.agent_mqtt("password")
    wrong = tmp_path / "password"
    wrong.write_text("not-the-password\n")
    wrong.chmod(0o600)
    mqtt["password_file"] = str(wrong)
    results = check(config(tmp_path, mqtt, linux_source(tmp_path)))
    (detail,) = failures(results).values()
    assert list(failures(results)) == ["broker login"]
    assert detail.startswith(f"refused by 127.0.0.1:{secure.password_port}: ")
    assert detail.endswith(f" for '{POINT}'")
    assert exit_code(results) == 1


def test_wrong_router_password(tmp_path: Path, plain: services.Service, routers: SimFleet) -> None:
    source = routeros_source(tmp_path, routers)
    Path(source["password_file"]).write_text("wrong\n")
    results = check(config(tmp_path, {"host": "127.0.0.1", "port": plain.port}, source))
    (detail,) = failures(results).values()
    assert list(failures(results)) == ["router login (citangkil-01)"]
    assert verdicts(results)["router password file (citangkil-01)"] is Status.OK
    assert detail.startswith(f"127.0.0.1:{routers.port(0)}: login refused for user 'pantau'")
    assert exit_code(results) == 1


def test_wan_interface_not_on_the_router(
    tmp_path: Path, plain: services.Service, routers: SimFleet
) -> None:
    source = routeros_source(tmp_path, routers, index=1)  # its WAN port is ether1-wan
    results = check(config(tmp_path, {"host": "127.0.0.1", "port": plain.port}, source))
    check_name = "router WAN interface (citangkil-01)"
    assert failures(results) == {check_name: f"'ether1' not on 127.0.0.1:{routers.port(1)}"}
    names = fixes(results)[check_name].split(": ")[-1].split(", ")
    assert "ether1-wan" in names and "ether1" not in names
    assert exit_code(results) == 1


def test_the_command_exits_1_and_names_the_fix(tmp_path: Path, plain: services.Service) -> None:
    source = linux_source(tmp_path, wan_interface="wan9")
    path = config(tmp_path, {"host": "127.0.0.1", "port": plain.port}, source)
    done = subprocess.run(
        [*PANTAU, "agent", "--check", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    row = next(line for line in done.stdout.splitlines() if line.startswith("FAIL"))
    assert row.split()[:4] == ["FAIL", "WAN", "interface", "(citangkil-01)"]
    assert "fix: set source.wan_interface to one of: " in done.stdout
    assert done.stdout.splitlines()[-1].endswith("1 FAIL: not ready")


def test_local_mode_leaves_the_network_alone(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:
        mqtt = {"host": "127.0.0.1", "port": silent.getsockname()[1]}
        results = diagnose(config(tmp_path, mqtt, linux_source(tmp_path)), network=False)
    assert not [r for r in results if r.check.startswith("broker")]
    assert exit_code(results) == 0


def test_agent_check_imports_nothing_it_does_not_need() -> None:
    code = "import pantau.agent.doctor, sys; sys.exit('rich' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
