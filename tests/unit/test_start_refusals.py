"""A collector or agent config a careless operator wrote: `--check` and the start itself say the
same one line (exit 2), never a traceback, and a collector with workers refuses it once in the
supervisor instead of starting workers that die on it again and again.

Every case runs the real `pantau` command; no broker or InfluxDB is needed (the config is
refused before either is reached)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


def collector_yaml(tmp_path: Path, extra: str = "", workers: int = 1) -> Path:
    """Ports 1 and 2 are closed: a collector that got past its config would retry them."""
    path = tmp_path / "collector.yaml"
    path.write_text(
        f"registry: {REGISTRY}\nstate_dir: {tmp_path / 'state'}\nworkers: {workers}\n"
        "mqtt: {host: 127.0.0.1, port: 1}\ninflux: {url: 'http://127.0.0.1:2'}\n" + extra
    )
    path.chmod(0o600)
    return path


def test_an_infinite_max_age_is_refused_by_the_check(tmp_path: Path) -> None:
    config = collector_yaml(tmp_path, "limits: {max_age_s: .inf}\n")
    refused(
        pantau("collector", "--config", str(config), "--check"),
        f"pantau collector: {config}: field 'limits.max_age_s' input should be less than or"
        " equal to 3153600000, got inf",
    )
