"""deploy/ansible, for real: ansible-lint (production profile), a syntax check of every playbook,
and site.yml run twice against this machine (connection local, no systemd) under a temporary
prefix and on free ports.

The run configures the RouterOS simulator through community.routeros (read-only group and user,
api-ssl, API address limits), then installs and starts the broker, InfluxDB, the collector, the
speed test server and an agent that polls the simulated router with the user the run created.
Its samples must reach InfluxDB, and the second run must change nothing.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import librouteros
import pytest
import yaml
from pydantic import SecretStr

from pantau.collector.admin import deploy_secrets
from pantau.collector.influxdb.client import Influx
from pantau.collector.influxdb.config import InfluxConfig
from pantau.collector.lab.services import free_port
from tests.pipeline import registry_file, wait_for

pytestmark = pytest.mark.timeout(600)

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = ROOT / "deploy" / "ansible"
BIN = Path(sys.executable).parent
PLAYBOOKS = ["site.yml", "central.yml", "agents.yml", "routers.yml"]
SERVICES = [
    "pantau-mosquitto",
    "pantau-influxdb",
    "pantau-collector",
    "pantau-speedtest-server",
    "pantau-agent",
]
POINT = "citangkil-01"
# inventory/cluster-example's identities for host collector-a: one per worker
CLUSTER_WORKERS = ("collector-a-1", "collector-a-2")
CHECKPOINT = "pantau-evidence-checkpoint"  # the collector's daily timer and its unit
ADMIN_PASSWORD = "router-admin-secret-for-this-test"
INFLUX_SECRETS = ("influx_admin", "influx_writer", "influx_reader")
HOTSPOT_SESSIONS = 17  # what the simulated router reports, to recognise its samples
RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


def ansible_env(home: Path) -> dict[str, str]:
    """The environment of every ansible command here. PIP_COMPILE=0 (pip's --no-compile, for the
    pip the playbooks run): the wheelhouse goes into four virtual environments here without
    byte-compiling every module of matplotlib, numpy and the rest beforehand, which is most of
    pip's time there; the services compile what they import on their first start, and nothing
    checked here depends on .pyc files."""
    env = dict(os.environ)
    env.update(
        {
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            "ANSIBLE_HOME": str(home),
            "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg"),
            "PIP_COMPILE": "0",
        }
    )
    return env


def run(
    argv: list[str],
    env: dict[str, str],
    timeout_s: float,
    cwd: Path = ANSIBLE_DIR,
    log: Path | None = None,
) -> str:
    """Run a command to the end (output kept in `log`); fail with the end of its output if it
    fails or outlives timeout_s."""
    if log is None:
        log = Path(env.get("ANSIBLE_HOME", cwd)) / f"run-{time.monotonic_ns()}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            code = process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
            code = None
    text = log.read_text(errors="replace")
    if code != 0:
        what = "timed out" if code is None else f"exited {code}"
        pytest.fail(f"{' '.join(argv[:3])} {what}:\n{text[-6000:]}")
    return text


def recap(output: str) -> dict[str, dict[str, int]]:
    rows = {}
    for line in output.splitlines():
        match = RECAP.match(line)
        if match:
            host, ok, changed, unreachable, failed = match.groups()
            rows[host] = {
                "ok": int(ok),
                "changed": int(changed),
                "unreachable": int(unreachable),
                "failed": int(failed),
            }
    return rows


# --- the site the playbooks run against ----------------------------------------------------


@dataclass
class Site:
    root: Path
    prefix: Path
    inventory: Path
    vault_password: Path
    env: dict[str, str]
    ports: dict[str, int]
    secrets: dict[str, str]
    sim: subprocess.Popen[str] | None = None
    outputs: list[str] = field(default_factory=list)
    pids_after_first: dict[str, int] = field(default_factory=dict)

    def playbook(self, name: str = "site.yml") -> str:
        argv = [str(BIN / "ansible-playbook"), "-i", str(self.inventory), name]
        argv += ["--vault-password-file", str(self.vault_password)]
        log = self.root / f"playbook-{len(self.outputs) + 1}.log"
        return run(argv, self.env, timeout_s=300, log=log)

    def pids(self) -> dict[str, int]:
        found = {}
        for name in SERVICES:
            pidfile = self.prefix / "run" / "pantau" / f"{name}.pid"
            if pidfile.exists():
                found[name] = int(pidfile.read_text().strip())
        return found

    def influx(self) -> Influx:
        """The deployed database as reports and Grafana read it: the reader's account."""
        return Influx(
            InfluxConfig(
                url=f"http://127.0.0.1:{self.ports['influx']}",
                database="pantau",
                username="pantau-reader",
                password=SecretStr(self.secrets["influx_reader"]),
            )
        )

    def router(self, username: str, password: str) -> Any:
        return librouteros.connect(
            host="127.0.0.1", port=self.ports["router"], username=username, password=password
        )


def copy_source(root: Path) -> Path:
    """This checkout's package sources, so building a wheel leaves the work tree alone."""
    source = root / "src"
    for name in ("agent", "collector", "shared"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, source / name)
    return source


def wanted_requirements() -> list[str]:
    """What the wheelhouse needs besides pantau: its dependencies with the agent's and the
    collector's extras, and its build backend (pantau[agent] is pantau itself, built here)."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project, backend = pyproject["project"], pyproject["build-system"]["requires"]
    extras = project["optional-dependencies"]
    wanted = [*project["dependencies"], *extras["agent"], *extras["collector"], *backend]
    return [r for r in dict.fromkeys(wanted) if not re.match(r"pantau\b", r)]


@dataclass
class DependencyFetch:
    """Wheels of pantau's dependencies and of its build backend, fetched once per set of
    requirements and kept in the user's cache: later runs build and install with no index.

    On a cold cache the fetch (half a minute or more of index and download) runs in the
    background while the site's PKI, simulator and inventory are made; `wait` joins it."""

    cache: Path
    staging: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def wait(self, timeout_s: float = 400) -> Path:
        if self.process is not None:
            try:
                code = self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
                code = None
            self.process = None
            if code != 0:
                text = self.log.read_text(errors="replace")
                pytest.fail(f"pip wheel of the dependencies {code=}:\n{text[-6000:]}")
            with contextlib.suppress(OSError):  # another run may have finished first
                self.staging.rename(self.cache)
            shutil.rmtree(self.staging, ignore_errors=True)
        return self.cache

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        shutil.rmtree(self.staging, ignore_errors=True)


def fetch_dependency_wheels(root: Path) -> DependencyFetch:
    requirements = wanted_requirements()
    key = [*requirements, sys.version_info[:2]]
    digest = hashlib.sha256(repr(key).encode()).hexdigest()[:12]
    cache_home = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    cache = cache_home / "pantau-tests" / f"wheels-{digest}"
    staging = cache.with_name(f"{cache.name}.{os.getpid()}")
    fetch = DependencyFetch(cache, staging, root / "pip-wheel.log")
    if cache.is_dir():
        return fetch
    staging.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip", "wheel", "--quiet", "-w", str(staging), *requirements]
    with fetch.log.open("w") as out:
        fetch.process = subprocess.Popen(
            pip, cwd=root, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return fetch


@dataclass
class Background:
    """A command running beside the fixture's other steps; `wait` joins it and fails with the
    end of its output if it failed."""

    process: subprocess.Popen[bytes]
    log: Path

    def wait(self, timeout_s: float = 300) -> None:
        try:
            code = self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.stop()
            code = None
        if code != 0:
            text = self.log.read_text(errors="replace")
            pytest.fail(f"{self.process.args!r} {code=}:\n{text[-6000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


def start_pantau_wheel(root: Path, wheels: Path) -> Background:
    """pantau built from this checkout (never fetched), with the build backend the project's
    environment already holds (pyproject's dev extra), so it needs neither index nor cache. It
    builds while the site's PKI and inventory are made."""
    source = copy_source(root)
    wheels.mkdir()
    pip = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-index"]
    log = root / "pip-wheel-pantau.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [*pip, "--no-build-isolation", "-w", str(wheels), str(source)],
            cwd=root, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    return Background(process, log)


def fill_wheelhouse(wheels: Path, build: Background, fetch: DependencyFetch) -> None:
    """The dependencies' wheels beside pantau's, once the build and the fetch are done."""
    build.wait()
    for wheel in fetch.wait().glob("*.whl"):
        shutil.copy(wheel, wheels)


def make_pki(root: Path, registry: Path, env: dict[str, str], ports: dict[str, int]) -> None:
    """The project CA, the collector's and the point's identities, and the broker's files, made
    with `pantau pki` and `pantau broker config` as an operator makes them."""
    pantau = [str(BIN / "pantau")]
    pki = ["--dir", str(root / "pki")]
    run([*pantau, "pki", "init", *pki, "--host", "127.0.0.1"], env, 60, cwd=root)
    for name in ("pantau-collector", *CLUSTER_WORKERS):
        collector = [name, "--role", "collector", "--method", "password"]
        run([*pantau, "pki", "issue", *pki, *collector], env, 60, cwd=root)
    point = [POINT, "--method", "password", "--registry", str(registry)]
    run([*pantau, "pki", "issue", *pki, *point], env, 60, cwd=root)
    listeners = ["--cert-port", "0", "--password-port", str(ports["mqtt_tls"])]
    listeners += ["--plain-port", str(ports["mqtt_plain"]), "--run-as", "root"]
    listeners += ["--admin-port", str(ports["mqtt_admin"])]
    out = ["--registry", str(registry), "--out", str(root / "broker")]
    run([*pantau, "broker", "config", *pki, *out, *listeners], env, 60, cwd=root)


def start_simulator(root: Path, admin_password: str) -> subprocess.Popen[str]:
    """The RouterOS simulator, started first: it comes up while the PKI is made
    (simulator_port waits for it)."""
    secret = root / "router-admin.pw"
    secret.write_text(admin_password)
    secret.chmod(0o600)
    ports_file = root / "router-ports.json"
    argv = [str(BIN / "pantau"), "routeros-sim", "--username", "admin"]
    argv += ["--password-file", str(secret), "--port", "0", "--ports-file", str(ports_file)]
    argv += ["--hotspot", str(HOTSPOT_SESSIONS)]
    sim = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    return sim


def simulator_port(root: Path) -> int:
    ports_file = root / "router-ports.json"
    wait_for(ports_file.exists, 30, "the RouterOS simulator's ports file")
    listing = yaml.safe_load(ports_file.read_text())
    return int(listing["routers"][0]["port"])


def write_site(root: Path, wheels: Path) -> Site:
    home = root / "ansible-home"
    (home / "tmp").mkdir(parents=True)
    env = ansible_env(home)
    inventory = root / "inventory"
    vault_password = root / "vault-password"
    vault_password.write_text("a vault password for this test only\n")
    vault_password.chmod(0o600)
    registry = registry_file(root / "registry.yaml", [POINT])
    ports = {
        "mqtt_tls": free_port(),
        "mqtt_plain": free_port(),
        "mqtt_admin": free_port(),
        "influx": free_port(),
        "influx_rpc": free_port(),
        "metrics": free_port(),
        "speedtest": free_port(),
        "iperf3": free_port(),
    }
    make_pki(root, registry, env, ports)
    ports["router"] = sim_port = simulator_port(root)
    # The points, their groups and their secrets (the MQTT password the PKI issued).
    run(
        [
            *(str(BIN / "pantau"), "deploy", "inventory", "--registry", str(registry)),
            *("--out", str(inventory / "points.yml"), "--router-host", "127.0.0.1"),
            *(
                "--central",
                "noc",
                "--secrets-out",
                str(inventory / "group_vars/all/points.vault.yml"),
            ),
            *("--vault-password-file", str(vault_password), "--pki", str(root / "pki")),
        ],
        env,
        timeout_s=60,
    )
    point_secrets = deploy_secrets.read_vault(
        inventory / "group_vars/all/points.vault.yml", vault_password
    )[POINT]
    prefix = root / "root"
    issued = root / "pki" / "issued"
    secrets = {
        "collector": (issued / "pantau-collector" / "password").read_text().strip(),
        "admin": ADMIN_PASSWORD,
        "mqtt": point_secrets["mqtt_password"],
        "issued": (issued / POINT / "password").read_text().strip(),
        "router": point_secrets["router_password"],
        "influx_admin": "influx-admin-secret-for-this-test",
        "influx_writer": "influx-writer-secret-for-this-test",
        "influx_reader": "influx-reader-secret-for-this-test",
    }
    central_vault = inventory / "group_vars" / "all" / "central.vault.yml"
    central_vault.write_text(
        yaml.safe_dump(
            {
                "vault_collector_mqtt_password": secrets["collector"],
                "vault_router_admin_password": secrets["admin"],
                **{f"vault_{k}_password": secrets[k] for k in INFLUX_SECRETS},
            }
        )
    )
    run(
        [
            *(str(BIN / "ansible-vault"), "encrypt", "--vault-password-file", str(vault_password)),
            str(central_vault),
        ],
        env,
        timeout_s=60,
    )
    root_user = {f"{role}_{kind}": "root" for role in ("mosquitto", "influxdb", "collector",
                 "agent", "speedtest_server") for kind in ("user", "group")}  # fmt: skip
    settings: dict[str, Any] = {
        "ansible_connection": "local",
        "ansible_python_interpreter": "/usr/bin/python3",
        "pantau_become": False,
        "pantau_prefix": str(prefix),
        "pantau_service_manager": "none",
        "pantau_manage_users": False,
        "pantau_wheelhouse_dir": str(wheels),
        # One virtual environment for the three services of this one machine: the collector's
        # install builds it (pantau[collector] holds pantau[agent]); the speed test server's and
        # the agent's install tasks still run and find their pantau there, unchanged.
        "agent_venv": str(prefix / "opt" / "pantau" / "collector"),
        "speedtest_server_venv": str(prefix / "opt" / "pantau" / "collector"),
        **root_user,
        "pantau_pki_dir": str(root / "pki"),
        "pantau_broker_dir": str(root / "broker"),
        "mosquitto_cert_port": None,
        "mosquitto_password_port": ports["mqtt_tls"],
        "mosquitto_plain_port": ports["mqtt_plain"],
        "mosquitto_admin_port": ports["mqtt_admin"],
        "influxdb_http_port": ports["influx"],
        "influxdb_rpc_port": ports["influx_rpc"],
        "collector_registry_src": str(registry),
        "collector_mqtt_password": "{{ vault_collector_mqtt_password }}",
        "collector_config_extra": {"metrics": {"port": ports["metrics"]}},
        "speedtest_server_bind": "127.0.0.1",
        "speedtest_server_http_port": ports["speedtest"],
        "speedtest_server_iperf3_ports": f"{ports['iperf3']}-{ports['iperf3']}",
        "pantau_mqtt_host": "127.0.0.1",
        "agent_mqtt_port": ports["mqtt_tls"],
        "agent_router_port": sim_port,
        "agent_interval_s": 1,
        "agent_ping_targets": ["192.0.2.1"],  # pinged by the simulated router: no traffic
        "pantau_router_admin_password": "{{ vault_router_admin_password }}",
        "influxdb_admin_password": "{{ vault_influx_admin_password }}",
        "influxdb_writer_password": "{{ vault_influx_writer_password }}",
        "influxdb_reader_password": "{{ vault_influx_reader_password }}",
        "routeros_port": sim_port,
        "pantau_agent_address": "127.0.0.1",
        "routeros_manage_addresses": ["127.0.0.2/32"],
        "routeros_fingerprint_dir": str(root / "fingerprints"),
    }
    (root / "fingerprints").mkdir()
    (inventory / "group_vars" / "all" / "main.yml").write_text(yaml.safe_dump(settings))
    return Site(root, prefix, inventory, vault_password, env, ports, secrets)


def stop_everything(site: Site) -> None:
    """End the processes this test started: the supervisors (which stop their service), then
    anything still running from the temporary prefix, then the simulator."""
    for pid in site.pids().values():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and leftovers(site.prefix):
        time.sleep(0.2)
    for pid in leftovers(site.prefix):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if site.sim is not None and site.sim.poll() is None:
        site.sim.terminate()
        try:
            site.sim.wait(10)
        except subprocess.TimeoutExpired:
            site.sim.kill()
            site.sim.wait(10)


def leftovers(prefix: Path) -> list[int]:
    """Processes whose command line names our prefix (services, supervisors, iperf3)."""
    found = []
    marker = str(prefix).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if marker in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
    return found


@dataclass
class Lint:
    process: subprocess.Popen[bytes]
    log: Path


@pytest.fixture(scope="module")
def lint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lint]:
    """ansible-lint, started before the deployment and running beside it (it takes a while). It
    runs at the lowest CPU priority: its result is read only after the deployment's tests, so it
    takes the time the playbooks leave idle instead of slowing their first minute."""
    home = tmp_path_factory.mktemp("ansible-lint")
    log = home / "lint.log"
    argv = [str(BIN / "ansible-lint"), "--offline", "--profile", "production", "."]
    with log.open("w") as out:
        process = subprocess.Popen(
            ["nice", "-n", "19", *argv],
            cwd=ANSIBLE_DIR,
            env=ansible_env(home),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield Lint(process, log)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, lint: Lint) -> Iterator[Site]:
    """site.yml twice. The second run, which must change nothing and restart nothing, starts
    as soon as the first is done: the first run's samples are awaited while it runs."""
    root = tmp_path_factory.mktemp("ansible-site")
    fetch = fetch_dependency_wheels(root)
    sim: subprocess.Popen[str] | None = None
    build: Background | None = None
    the_site: Site | None = None
    try:
        sim = start_simulator(root, ADMIN_PASSWORD)
        wheels = root / "wheels"
        build = start_pantau_wheel(root, wheels)
        the_site = write_site(root, wheels)
        the_site.sim = sim
        fill_wheelhouse(wheels, build, fetch)
        the_site.outputs.append(the_site.playbook())
        the_site.pids_after_first = the_site.pids()
        ready = the_site
        with ThreadPoolExecutor(1) as pool:
            second = pool.submit(the_site.playbook)
            wait_for(lambda: samples(ready) >= 3, 90, "three samples of the router in InfluxDB")
            the_site.outputs.append(second.result())
        yield the_site
    finally:
        fetch.stop()
        if build is not None:
            build.stop()
        if the_site is not None:
            stop_everything(the_site)
        elif sim is not None and sim.poll() is None:
            sim.terminate()
            sim.wait(10)


def samples(site: Site) -> int:
    rows = site.influx().query(
        f"SELECT count(clients_hotspot) FROM telemetry WHERE point = '{POINT}'"
    )
    return int(rows[0]["count"]) if rows else 0


# --- static checks ---------------------------------------------------------------------------


def test_syntax_check_every_playbook(tmp_path: Path) -> None:
    out = run(
        [str(BIN / "ansible-playbook"), "--syntax-check", "-i", "inventory/example", *PLAYBOOKS],
        ansible_env(tmp_path),
        timeout_s=120,
    )
    assert [line for line in out.splitlines() if line.startswith("playbook:")] == [
        f"playbook: {name}" for name in PLAYBOOKS
    ]


# --- the real run --------------------------------------------------------------------------


def test_first_run_starts_every_service(site: Site) -> None:
    first = recap(site.outputs[0])
    assert set(first) == {"noc", POINT}
    assert all(
        r["failed"] == 0 and r["unreachable"] == 0 and r["changed"] > 0 for r in first.values()
    )
    pids = site.pids_after_first
    assert sorted(pids) == sorted(SERVICES)
    for name, pid in pids.items():
        assert Path(f"/proc/{pid}").exists(), f"{name} (pid {pid}) is not running"


def test_samples_of_the_router_land_in_influxdb(site: Site) -> None:
    rows = site.influx().query(
        "SELECT clients_hotspot, device_up, wan_up, kelurahan, kecamatan, provider FROM telemetry"
        f" WHERE point = '{POINT}' ORDER BY time DESC LIMIT 3"
    )
    assert len(rows) == 3
    for row in rows:
        assert row["clients_hotspot"] == HOTSPOT_SESSIONS
        assert row["device_up"] is True and row["wan_up"] is True
        assert (row["kelurahan"], row["kecamatan"], row["provider"]) == (
            "Citangkil",
            "Citangkil",
            "Awinet",
        )


def test_second_run_changes_nothing(site: Site) -> None:
    second = recap(site.outputs[1])
    assert set(second) == {"noc", POINT}
    assert {host: (r["changed"], r["failed"]) for host, r in second.items()} == {
        "noc": (0, 0),
        POINT: (0, 0),
    }
    assert site.pids() == site.pids_after_first  # nothing was restarted


def test_database_has_its_retention_policy(site: Site) -> None:
    rows = site.influx().query("SHOW RETENTION POLICIES ON pantau")
    two_years = [r for r in rows if r["name"] == "two_years"]
    assert len(two_years) == 1
    assert (two_years[0]["duration"], two_years[0]["default"]) == ("17520h0m0s", True)


def test_database_takes_no_one_without_credentials(site: Site) -> None:
    """Authentication on: no write or read without an account, the reader cannot write, the
    profiling endpoints are off."""
    url = f"http://127.0.0.1:{site.ports['influx']}"
    forged = b"telemetry,point=other-01 wan_up=false 1700000000000"

    def status(path: str, body: bytes | None = None, user: str = "") -> int:
        request = urllib.request.Request(f"{url}{path}", data=body)
        if user:
            secret = site.secrets[f"influx_{user}"]
            name = {"writer": "pantau-collector", "reader": "pantau-reader"}[user]
            token = base64.b64encode(f"{name}:{secret}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    assert status("/write?db=pantau&precision=ms", forged) == 401
    assert status("/write?db=pantau&precision=ms", forged, "reader") == 403
    assert status("/query?q=SHOW%20DATABASES") == 401
    assert status("/debug/pprof/") == 404
    assert site.influx().query('SELECT * FROM "telemetry" WHERE "point" = \'other-01\'') == []


def test_router_holds_the_group_and_user(site: Site) -> None:
    api = site.router("admin", site.secrets["admin"])
    try:
        group = [g for g in api.path("user", "group") if g["name"] == "pantau-ro"]
        users = {u["name"]: u for u in api.path("user")}
        services = {s["name"]: s for s in api.path("ip", "service")}
        certs = {c["name"]: c for c in api.path("certificate")}
    finally:
        api.close()
    assert len(group) == 1
    granted = [p for p in group[0]["policy"].split(",") if not p.startswith("!")]
    assert granted == ["read", "test", "api"]
    assert (users["pantau"]["group"], users["pantau"]["address"]) == ("pantau-ro", "127.0.0.1/32")
    ssl, plain = services["api-ssl"], services["api"]
    assert (ssl["disabled"], ssl["certificate"]) == (False, "pantau-api")
    assert ssl["address"] == plain["address"] == "127.0.0.1/32,127.0.0.2/32"
    fingerprint = (site.root / "fingerprints" / f"{POINT}.sha256").read_text().strip()
    assert fingerprint == certs["pantau-api"]["fingerprint"]
    # The agent's user logs in with the password from the vault.
    agent = site.router("pantau", site.secrets["router"])
    try:
        assert next(iter(agent.path("system", "identity")))["name"] == "r001"
    finally:
        agent.close()


def test_units_are_hardened_and_valid(site: Site) -> None:
    unit_dir = site.prefix / "etc" / "systemd" / "system"
    units = sorted(unit_dir.glob("*.service"))
    assert [u.stem for u in units] == sorted([*SERVICES, CHECKPOINT])
    for unit in units:
        text = unit.read_text()
        hardening = ["NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes"]
        hardening += [
            "ProtectHome=yes",
            "Type=oneshot" if unit.stem == CHECKPOINT else "Restart=always",
        ]
        for line in hardening:
            assert line in text.splitlines(), f"{unit.name} lacks {line}"
        user = re.search(r"^User=(.+)$", text, re.M)
        assert user is not None and user.group(1) == "root"  # the test runs them as root
        writable = re.search(r"^ReadWritePaths=(.*)$", text, re.M)
        assert writable is not None
        for path in writable.group(1).split():
            assert path.startswith(str(site.prefix)) and Path(path).is_dir()
    timer = unit_dir / f"{CHECKPOINT}.timer"
    assert "OnCalendar=*-*-* 00:10:00 UTC" in timer.read_text().splitlines()
    done = subprocess.run(
        ["systemd-analyze", "verify", *map(str, units), str(timer)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and "Unknown" not in done.stderr, done.stderr


def test_secrets_stay_in_the_vault_and_secret_files(site: Site) -> None:
    inventory = site.inventory
    for vault in (inventory / "group_vars" / "all").glob("*.vault.yml"):
        assert vault.read_text().startswith("$ANSIBLE_VAULT;1.1;AES256")
    clear = [
        (inventory / "points.yml").read_text(),
        (site.prefix / "etc/pantau/agent/agent.yaml").read_text(),
        (site.prefix / "etc/pantau/collector/collector.yaml").read_text(),
        *site.outputs,
        *(p.read_text(errors="replace") for p in (site.prefix / "var/log/pantau").glob("*.log")),
    ]
    for secret in site.secrets.values():
        assert all(secret not in text for text in clear)
    secret_dir = site.prefix / "etc" / "pantau" / "secrets"
    files = {p.name: p for p in secret_dir.iterdir()}
    assert sorted(files) == [
        "collector-checkpoint.key",  # the collector's own signing key, for the archive's days
        "collector-mqtt.pw",
        "collector.env",  # PANTAU_INFLUX__PASSWORD: the writer's
        f"mqtt-{POINT}.pw",
        f"router-{POINT}.pw",
    ]
    for path in files.values():
        assert path.stat().st_mode & 0o777 == 0o600
    assert files[f"router-{POINT}.pw"].read_text().strip() == site.secrets["router"]
    # The vault holds the very password `pantau pki` issued, so the broker knows it.
    assert files[f"mqtt-{POINT}.pw"].read_text().strip() == site.secrets["issued"]


def test_collector_checks_signatures_and_archives_every_message(site: Site) -> None:
    """The site's agent signs with the key `pantau pki` issued; the collector takes only signed
    messages (signing-keys.json), archives them, and its timer's command signs the days."""
    etc = site.prefix / "etc" / "pantau"
    config = yaml.safe_load((etc / "collector" / "collector.yaml").read_text())
    archive = site.prefix / "var" / "lib" / "pantau-collector" / "evidence"
    assert config["evidence"] == {
        "keys_file": str(etc / "collector" / "signing-keys.json"),
        "archive_dir": str(archive),
        "signing_key_file": str(etc / "secrets" / "collector-checkpoint.key"),
    }
    unsigned = site.influx().query(
        f"SELECT count(device_up) FROM telemetry WHERE point = '{POINT}' AND unsigned = true"
    )
    assert unsigned == []  # every stored sample carried a valid signature
    today = dt.datetime.now(dt.UTC).date().isoformat()
    segments = sorted(archive.rglob("*.seg"))
    assert [p.name for p in segments] == [f"{today}.seg"], segments
    assert segments[0].stat().st_size > 0
    unit = (site.prefix / "etc" / "systemd" / "system" / f"{CHECKPOINT}.service").read_text()
    command = re.search(r"^ExecStart=(.+)$", unit, re.M)
    assert command is not None
    argv = shlex.split(command.group(1))
    assert argv[-1] == "--through"
    run([*argv, today, "--early"], site.env, timeout_s=120)  # as the timer would, a day early
    checkpoint = json.loads((segments[0].parent / f"{today}.checkpoint.json").read_text())
    assert checkpoint["day"] == today and checkpoint["tree_size"] > 0, checkpoint


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def test_supervisor_passes_reload_on_and_restarts_a_dead_service(site: Site) -> None:
    """Without systemd the supervisor stands in for it: SIGHUP reaches the broker (which re-reads
    its password file and ACL, as after `pantau pki issue`), a killed broker comes back."""
    supervisor = site.pids()["pantau-mosquitto"]
    (broker,) = children(supervisor)
    log = site.prefix / "var" / "log" / "pantau" / "pantau-mosquitto.log"
    os.kill(supervisor, signal.SIGHUP)
    wait_for(lambda: "Reloading config" in log.read_text(), 60, "the broker to reload")
    assert children(supervisor) == [broker]
    os.kill(broker, signal.SIGKILL)
    restarted = wait_for(lambda: [p for p in children(supervisor) if p != broker], 60, "restart")
    assert len(restarted) == 1
    port = site.ports["mqtt_plain"]
    wait_for(lambda: port_open(port), 60, "the restarted broker to listen")
    assert "exited" in log.read_text()


def port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
        return True
    return False


def test_lint_production_profile(lint: Lint) -> None:
    code = lint.process.wait(300)
    out = lint.log.read_text(errors="replace")
    assert code == 0, out[-6000:]
    assert "Profile 'production' was required, and it passed" in out


# --- collectors only, against an external broker and database ------------------------------


@pytest.fixture(scope="module")
def cluster(site: Site) -> Iterator[Site]:
    """inventory/cluster-example's variable set on a host of its own: the site's broker and
    InfluxDB stand in for the external cluster and database. The site's collector stops first:
    the new one logs in with the same identity and takes over its session."""
    root = site.root / "cluster"
    inventory = root / "inventory"
    (inventory / "group_vars" / "all").mkdir(parents=True)
    example = yaml.safe_load((ANSIBLE_DIR / "inventory/cluster-example/hosts.yml").read_text())
    assert sorted(example["all"]["children"]["central"]["hosts"]) == [
        f"collector-{n}.pantau.example" for n in (1, 2, 3)
    ]
    (inventory / "hosts.yml").write_text(
        yaml.safe_dump({"all": {"children": {"central": {"hosts": {"collector-a": None}}}}})
    )
    vault = inventory / "group_vars" / "all" / "vault.yml"
    issued = site.root / "pki" / "issued"
    passwords = [(issued / name / "password").read_text().strip() for name in CLUSTER_WORKERS]
    vault.write_text(
        yaml.safe_dump(
            {
                "vault_collector_mqtt_passwords": {"collector-a": passwords},
                "vault_influxdb_writer_password": site.secrets["influx_writer"],
            }
        )
    )
    encrypt = [str(BIN / "ansible-vault"), "encrypt", "--vault-password-file"]
    run([*encrypt, str(site.vault_password), str(vault)], site.env, timeout_s=60)
    external = yaml.safe_load(
        (ANSIBLE_DIR / "inventory/cluster-example/group_vars/all/main.yml").read_text()
    )
    settings = {
        **external,
        "ansible_connection": "local",
        "ansible_python_interpreter": "/usr/bin/python3",
        "pantau_become": False,
        "pantau_prefix": str(root / "root"),
        "pantau_service_manager": "none",
        "pantau_manage_users": False,
        "pantau_wheelhouse_dir": str(site.root / "wheels"),
        # The site's collector environment, built from the same wheelhouse: this run's install
        # task finds pantau[collector] there rather than building a second one.
        "collector_venv": str(site.prefix / "opt" / "pantau" / "collector"),
        "pantau_version": "",
        "collector_user": "root",
        "collector_group": "root",
        "pantau_external_broker_hosts": ["127.0.0.1"],
        "pantau_external_broker_port": site.ports["mqtt_tls"],
        "collector_mqtt_ca_src": str(site.root / "pki" / "ca.pem"),
        "pantau_external_influx_url": f"http://127.0.0.1:{site.ports['influx']}",
        "pantau_collector_workers": len(CLUSTER_WORKERS),
        "collector_registry_src": str(site.root / "registry.yaml"),
        "collector_config_extra": {"metrics": {"port": free_port()}},
    }
    (inventory / "group_vars" / "all" / "main.yml").write_text(yaml.safe_dump(settings))
    secrets = site.secrets | {name: pw for name, pw in zip(CLUSTER_WORKERS, passwords, strict=True)}
    cluster = Site(
        root, root / "root", inventory, site.vault_password, site.env, site.ports, secrets
    )
    before = samples(site)
    supervisor = site.pids()["pantau-collector"]
    os.kill(supervisor, signal.SIGTERM)
    wait_for(lambda: not Path(f"/proc/{supervisor}").exists(), 60, "the site's collector to stop")
    try:
        argv = [str(BIN / "ansible-playbook"), "-i", str(inventory), "central.yml"]
        argv += ["--vault-password-file", str(site.vault_password)]
        cluster.outputs.append(run(argv, site.env, timeout_s=300, log=root / "playbook.log"))
        cluster.pids_after_first = cluster.pids()
        wait_for(lambda: samples(site) >= before + 5, 90, "samples stored by the new collector")
        yield cluster
    finally:
        stop_everything(cluster)


def test_external_cluster_runs_only_collectors(cluster: Site) -> None:
    assert {h: r["failed"] for h, r in recap(cluster.outputs[0]).items()} == {"collector-a": 0}
    units = sorted((cluster.prefix / "etc" / "systemd" / "system").glob("*.service"))
    assert [u.stem for u in units] == ["pantau-collector"]
    after = re.search(r"^After=(.*)$", units[0].read_text(), re.M)
    assert after is not None and after.group(1) == "network-online.target"
    etc = cluster.prefix / "etc" / "pantau"
    assert sorted(p.name for p in etc.iterdir()) == ["collector", "secrets"]
    assert sorted(cluster.pids_after_first) == ["pantau-collector"]


def test_external_cluster_collector_config(cluster: Site) -> None:
    etc = cluster.prefix / "etc" / "pantau"
    config = yaml.safe_load((etc / "collector" / "collector.yaml").read_text())
    mqtt = config["mqtt"]
    assert (mqtt["host"], mqtt["port"], mqtt["share_group"]) == (
        "127.0.0.1",
        cluster.ports["mqtt_tls"],
        "pantau",
    )
    assert mqtt["client_id"] == "pantau-collector-a"
    assert mqtt["username"] == "collector-a-{worker}"
    assert mqtt["password_file"] == str(etc / "secrets" / "collector-mqtt-{worker}.pw")
    assert mqtt["tls"] == {"ca_file": str(etc / "collector" / "mqtt-ca.pem")}
    assert config["influx"] == {
        "api": "v1",
        "url": f"http://127.0.0.1:{cluster.ports['influx']}",
        "database": "pantau",
        "username": "pantau-collector",
    }
    assert config["workers"] == len(CLUSTER_WORKERS)
    assert sorted(p.name for p in (etc / "secrets").iterdir()) == [
        "collector-mqtt-1.pw",
        "collector-mqtt-2.pw",
        "collector.env",
    ]
    for index, name in enumerate(CLUSTER_WORKERS, 1):
        written = (etc / "secrets" / f"collector-mqtt-{index}.pw").read_text().strip()
        assert written == cluster.secrets[name]
    for secret in cluster.secrets.values():
        assert secret not in cluster.outputs[0]


def test_external_cluster_workers_log_in_as_their_own_identities(cluster: Site) -> None:
    """The site's broker pins each client id to its identity: two workers under one name would
    take each other's session in turn, reconnecting forever."""
    log = (cluster.prefix / "var" / "log" / "pantau" / "pantau-collector.log").read_text()
    assert log.count("connected to 127.0.0.1") == len(CLUSTER_WORKERS), log[-3000:]
    assert "broker refused" not in log and "(reconnecting)" not in log, log[-3000:]
