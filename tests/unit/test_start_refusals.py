"""A collector or agent config a careless operator wrote: `--check` and the start itself say the
same one line (exit 2), never a traceback, and a collector with workers refuses it once in the
supervisor instead of starting workers that die on it again and again.

Every case runs the real `pantau` command; no broker or InfluxDB is needed (the config is
refused before either is reached)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

REGISTRY = Path(__file__).parent.parent.parent / "examples" / "registry-cilegon.yaml"
START_DEADLINE_S = 60  # a refused start exits at once; a crash-looping supervisor never would


def pantau(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pantau.shared.cli", *argv],
        capture_output=True,
        text=True,
        timeout=START_DEADLINE_S,
    )


def refused(result: subprocess.CompletedProcess[str], line: str) -> None:
    """Exit 2, exactly `line` on stderr, nothing on stdout, no traceback."""
    assert "Traceback" not in result.stderr
    assert (result.returncode, result.stdout, result.stderr) == (2, "", line + "\n")


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data))
    path.chmod(0o600)
    return path


def collector_yaml(tmp_path: Path, workers: int, **settings: Any) -> Path:
    """Ports 1 and 2 are closed: a collector that got past its config would retry them."""
    data: dict[str, Any] = {
        "registry": str(REGISTRY),
        "state_dir": str(tmp_path / "state"),
        "workers": workers,
        "mqtt": {"host": "127.0.0.1", "port": 1},
        "influx": {"url": "http://127.0.0.1:2"},
    }
    return write_yaml(tmp_path / "collector.yaml", data | settings)


def blocker(tmp_path: Path) -> Path:
    """A file where a folder should be."""
    path = tmp_path / "blocker"
    path.write_text("")
    return path


def proc_cannot_hold_files() -> str:
    """What the system says to a file made in /proc (it stands in for a folder this user may
    not write in, which root, running these tests, always may)."""
    try:
        with tempfile.TemporaryFile(dir="/proc"):
            pass
    except OSError as exc:
        return str(exc.strerror)
    raise AssertionError("a file was made in /proc")


FIX = "set {0} to a folder this user can write"
# name -> (settings for a collector in tmp_path, the line that refuses them after "pantau collector: ")
Case = Callable[[Path], tuple[dict[str, Any], str]]
COLLECTOR_CASES: dict[str, Case] = {
    "state_dir is a file": lambda tmp: (
        {"state_dir": str(blocker(tmp))},
        f"{{config}}: state_dir {tmp / 'blocker'}: not a directory; {FIX.format('state_dir')}",
    ),
    "state_dir under a file": lambda tmp: (
        {"state_dir": str(blocker(tmp) / "state")},
        f"{{config}}: state_dir {tmp / 'blocker' / 'state'}: cannot be made in"
        f" {tmp / 'blocker'} (not a directory); {FIX.format('state_dir')}",
    ),
    "state_dir where nothing can be written": lambda tmp: (
        {"state_dir": "/proc/pantau"},
        "{config}: state_dir /proc/pantau: cannot be made in /proc"
        f" (cannot write: {proc_cannot_hold_files()}); {FIX.format('state_dir')}",
    ),
    "evidence.archive_dir under a file": lambda tmp: (
        {"evidence": {"archive_dir": str(blocker(tmp) / "archive")}},
        f"{{config}}: evidence.archive_dir {tmp / 'blocker' / 'archive'}: cannot be made in"
        f" {tmp / 'blocker'} (not a directory); {FIX.format('evidence.archive_dir')}",
    ),
    "mqtt.password_file missing": lambda tmp: (
        {"mqtt": {"host": "127.0.0.1", "port": 1, "password_file": str(tmp / "pw")}},
        f"{tmp / 'pw'}: secret file cannot be read: No such file or directory",
    ),
    "influx.password_file missing": lambda tmp: (
        {
            "influx": {
                "url": "http://127.0.0.1:2",
                "username": "c",
                "password_file": str(tmp / "pw"),
            }
        },
        f"{tmp / 'pw'}: secret file cannot be read: No such file or directory",
    ),
    "evidence.keys_file missing": lambda tmp: (
        {"evidence": {"keys_file": str(tmp / "keys.json")}},
        f"{tmp / 'keys.json'}: no such keys file (the PKI's signing-keys.json)",
    ),
    "influx.url without a scheme": lambda tmp: (
        {"influx": {"url": "influx.noc:8086"}},
        "{config}: field 'influx.url' 'influx.noc:8086' is not an http(s) URL with a host,"
        " e.g. 'http://127.0.0.1:8086'",
    ),
    "influx.url with a password and no host": lambda tmp: (
        {"influx": {"url": "pantau:s3cret@:8086"}},  # never repeated: it holds a password
        "{config}: field 'influx.url' is not an http(s) URL with a host,"
        " e.g. 'http://127.0.0.1:8086'",
    ),
}


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("case", COLLECTOR_CASES)
def test_the_collector_refuses_at_check_and_start_alike(
    tmp_path: Path, case: str, workers: int
) -> None:
    """With 2 workers the supervisor itself refuses and exits: no worker is started to die."""
    settings, line = COLLECTOR_CASES[case](tmp_path)
    config = collector_yaml(tmp_path, workers, **settings)
    line = "pantau collector: " + line.format(config=config)
    refused(pantau("collector", "--config", str(config), "--check"), line)
    refused(pantau("collector", "--config", str(config)), line)
    assert not (tmp_path / "state").exists()  # checked without making anything


def test_a_usable_collector_config_is_ok(tmp_path: Path) -> None:
    """The same checks pass a config whose folders are missing but can be made."""
    config = collector_yaml(tmp_path, 2, evidence={"archive_dir": str(tmp_path / "a" / "b")})
    result = pantau("collector", "--config", str(config), "--check")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == f"{config}: ok, registry {REGISTRY}: 430 point(s), 2 worker(s)\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["collector.yaml"]


def test_an_infinite_max_age_is_refused_at_check_and_start(tmp_path: Path) -> None:
    config = collector_yaml(tmp_path, 1, limits={"max_age_s": float("inf")})
    line = (
        f"pantau collector: {config}: field 'limits.max_age_s' input should be less than or"
        " equal to 3153600000, got inf"
    )
    refused(pantau("collector", "--config", str(config), "--check"), line)
    refused(pantau("collector", "--config", str(config)), line)


# -- the agent ------------------------------------------------------------------------------------
def agent_yaml(tmp_path: Path, state_dir: Path | str) -> Path:
    data = {
        "state_dir": str(state_dir),
        "mqtt": {"host": "127.0.0.1", "port": 1},
        "points": [{"id": "citangkil-01", "source": {"kind": "simulated"}}],
    }
    return write_yaml(tmp_path / "agent.yaml", data)


@pytest.mark.parametrize("action", [[], ["speedtest"]])
def test_the_agent_refuses_a_state_dir_that_is_a_file(tmp_path: Path, action: list[str]) -> None:
    config = agent_yaml(tmp_path, blocker(tmp_path))
    refused(
        pantau("agent", *action, "--config", str(config)),
        f"pantau agent: {config}: state_dir {tmp_path / 'blocker'}: not a directory;"
        f" {FIX.format('state_dir')}",
    )


def test_the_agent_refuses_a_state_dir_it_cannot_make(tmp_path: Path) -> None:
    config = agent_yaml(tmp_path, "/proc/pantau/agent")
    refused(
        pantau("agent", "--config", str(config)),
        f"pantau agent: {config}: state_dir /proc/pantau/agent: cannot be made in /proc"
        f" (cannot write: {proc_cannot_hold_files()}); {FIX.format('state_dir')}",
    )
