"""What an install brings: an agent needs no collector package, every imported library is
declared, and the build ships its data and LICENSE without a warning."""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from pantau.shared import __version__

ROOT = Path(__file__).parent.parent.parent
COLLECTOR_ONLY = [
    "influxdb_client",
    "rich",
    "matplotlib",
    "urllib3",
    "apprise",
    "prometheus_client",
    "cryptography",
]


def test_agent_extra_lists_no_collector_package() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    agent = " ".join(extras["agent"]).lower()
    for name in ("influxdb-client", "rich", "matplotlib", "apprise", "prometheus-client"):
        assert name not in agent


def test_agent_commands_import_without_collector_packages() -> None:
    blocked = "; ".join(f"sys.modules[{name!r}] = None" for name in COLLECTOR_ONLY)
    code = (
        f"import sys; {blocked}\n"
        "import pantau.agent.cli, pantau.agent.run, pantau.agent.publisher\n"
        "import pantau.agent.sources.linux, pantau.agent.sources.simulated\n"
        "import pantau.agent.sources.routeros.source\n"
        "from pantau.shared.cli import main\n"
        "sys.exit(main(['agent', '--help']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "--config" in result.stdout


def test_every_imported_library_is_declared() -> None:
    """Each folder may import only what its install brings: an agent only its own extra."""
    declared = _declared()
    allowed = {
        # shared/mqtt_client.py needs paho: every install that runs a command has pantau[agent]
        "shared": declared["core"] | declared["agent"],
        "agent": declared["core"] | declared["agent"],
        "collector": declared["core"]
        | declared["agent"]
        | declared["collector"]
        | declared["deploy"],
        "tests": set().union(*declared.values()),
        "bench": set().union(*declared.values()),
    }
    distributions = importlib.metadata.packages_distributions()
    missing = []
    for folder, names in allowed.items():
        for top, where in sorted(_third_party_imports(ROOT / folder).items()):
            dists = {_normal(d) for d in distributions.get(top, [])}
            if not dists & names:
                missing.append(f"{where}: {top} ({', '.join(sorted(dists)) or 'not installed'})")
    assert missing == []


def test_every_requirement_has_a_lower_bound() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"].values()
    requirements = [*project["dependencies"], *(r for extra in extras for r in extra)]
    unbounded = [r for r in requirements if ">=" not in r and not r.startswith("pantau[")]
    assert unbounded == []


def test_every_package_folder_is_listed() -> None:
    """setuptools skips an unlisted package without a word: list each one, data folders too."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = set()
    for package, folder in config["package-dir"].items():
        for path in (ROOT / folder).rglob("*"):
            if path.is_dir() and path.name != "__pycache__":
                relative = path.relative_to(ROOT / folder).parts
                found.add(".".join((package, *relative)))
        found.add(package)
    assert sorted(config["packages"]) == sorted(found)


def test_the_license_is_the_apache_2_text() -> None:
    text = (ROOT / "LICENSE").read_bytes()
    assert hashlib.sha256(text).hexdigest() == APACHE_2_SHA256


def test_the_wheel_builds_without_warnings(tmp_path: Path) -> None:
    """What `pip install .` prints: no setuptools warnings; the data and LICENSE ship."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    for folder in ("shared", "agent", "collector"):
        shutil.copytree(
            ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index"]
    result = subprocess.run(
        [*pip, "-w", str(tmp_path / "out"), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert [line for line in output.splitlines() if "warn" in line.lower()] == []
    (wheel,) = (tmp_path / "out").glob("pantau-*.whl")
    version = __version__
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(f"pantau-{version}.dist-info/METADATA").decode()
    assert f"pantau-{version}.dist-info/licenses/LICENSE" in names
    assert "pantau/shared/data/cilegon_kelurahan.csv" in names
    assert "pantau/collector/lab/routeros_sim/data/ros7.18.json" in names
    assert "License-Expression: Apache-2.0" in metadata.splitlines()
    assert f"Version: {version}" in metadata.splitlines()


APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"


def _declared() -> dict[str, set[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    groups = {"core": project["dependencies"], **project["optional-dependencies"]}
    return {
        group: {_normal(re.match(r"[A-Za-z0-9._-]+", r)[0]) for r in requirements}  # type: ignore[index]
        for group, requirements in groups.items()
    }


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _third_party_imports(folder: Path) -> dict[str, str]:
    """Top-level names of third-party imports under a folder, each with one place it happens."""
    found: dict[str, str] = {}
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in (
                    "__future__",
                    "pantau",
                    "tests",
                    "bench",
                ):
                    continue
                found.setdefault(top, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found
