"""An agent install must not need collector-only packages."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

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
