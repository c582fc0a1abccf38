"""`make dist` builds the wheel and the sdist, and the README's agent install works as written:
its block runs in a fresh virtual environment, then `pantau --version` and `pantau agent --help`.
"""

from __future__ import annotations

import re
import subprocess
import tarfile
import tomllib
from pathlib import Path

from pantau.shared import __version__

ROOT = Path(__file__).parent.parent.parent
MARK = "<!-- tests/integration/test_dist.py runs this block"


def readme_install_block() -> list[str]:
    """The command lines of the README block under MARK."""
    text = (ROOT / "README.md").read_text()
    found = re.search(re.escape(MARK) + r".*?-->\n```\n(.*?)```", text, re.DOTALL)
    assert found, "the README's agent install block is missing its mark"
    return [line for line in found.group(1).splitlines() if line.strip()]


def test_make_dist_and_the_readme_install(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    made = subprocess.run(
        ["make", "--no-print-directory", "dist", f"DIST={dist}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    wheel = dist / f"pantau-{__version__}-py3-none-any.whl"
    sdist = dist / f"pantau-{__version__}.tar.gz"
    assert sorted(p.name for p in dist.iterdir()) == sorted([wheel.name, sdist.name])
    with tarfile.open(sdist) as archive:
        names = set(archive.getnames())
    assert f"pantau-{__version__}/LICENSE" in names
    assert f"pantau-{__version__}/shared/data/cilegon_kelurahan.csv" in names

    host = tmp_path / "sbc"  # the agent host's folder holding the copied wheel
    host.mkdir()
    (host / wheel.name).write_bytes(wheel.read_bytes())
    venv = tmp_path / "opt-pantau"
    lines = readme_install_block()
    assert lines[0] == "python3 -m venv /opt/pantau"
    script = "set -euo pipefail\n" + "\n".join(lines).replace("/opt/pantau", str(venv))
    installed = subprocess.run(
        ["bash", "-c", script], cwd=host, capture_output=True, text=True, timeout=600
    )
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    assert installed.stdout.strip().splitlines()[-1] == f"pantau {__version__}"

    pantau = venv / "bin" / "pantau"
    helped = subprocess.run(
        [str(pantau), "agent", "--help"], capture_output=True, text=True, timeout=60
    )
    assert helped.returncode == 0, helped.stderr[-2000:]
    assert "--config" in helped.stdout
    # an agent install: the agent's libraries, none of the collector's
    freeze = subprocess.run(
        [str(venv / "bin" / "pip"), "freeze"], capture_output=True, text=True, timeout=60
    ).stdout.lower()
    for name in ("paho-mqtt", "librouteros", "pynacl", "pydantic"):
        assert name in freeze
    for name in ("influxdb-client", "matplotlib", "rich", "psutil", "cryptography"):
        assert name not in freeze
    version = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sys; print(sys.version_info >= (3, 11))"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert version.stdout.strip() == "True"


def test_the_readme_states_the_python_the_package_requires() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11"
    assert "An agent needs Python 3.11 or newer" in (ROOT / "README.md").read_text()
    assert "pip install 'pantau[" not in (ROOT / "README.md").read_text()  # on no index
