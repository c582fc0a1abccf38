"""A running agent holds no config models: pydantic (and YAML) live only in the short child that
checks the config at start (agent/settings.py), so a small board keeps the ~14 MB they cost.

Checked on a real `pantau agent` process that samples and publishes through a real mosquitto
(its mapped libraries: pydantic-core's is there as soon as pydantic is imported), and inside an
agent built and run the way `pantau agent` does it (its sys.modules).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pantau.collector.lab.services import Service
from tests.pipeline import agent_config, start_agent, taken_so_far, wait_for

HEAVY = ("pydantic", "pydantic_core", "yaml")


def mapped_libraries(pid: int) -> set[str]:
    lines = Path(f"/proc/{pid}/maps").read_text().splitlines()
    return {line.split()[-1] for line in lines if line.split()[-1].startswith("/")}


def test_the_agent_process_maps_no_pydantic(tmp_path: Path, mosquitto: Service) -> None:
    config = agent_config(
        tmp_path / "agent.yaml",
        mosquitto.port,
        [{"id": "ringan-01", "source": {"kind": "simulated", "fixed_rx_bps": 2e6}}],
        interval_s=0.5,
    )
    agent = start_agent(config, tmp_path / "agent.log")
    try:
        agent.wait_log("connected to broker", 60)
        state = tmp_path / "agent-state"
        wait_for(lambda: taken_so_far(state) >= 3, 60, "three samples taken")
        assert agent.process is not None
        libraries = mapped_libraries(agent.process.pid)
        assert any("libpython" in lib or "python3" in lib for lib in libraries), libraries
        assert [lib for lib in libraries if "pydantic" in lib or "_yaml" in lib] == []
    finally:
        assert agent.stop() == 0, agent.log()[-2000:]


RUN_AGENT = """
import sys, threading
from pantau.agent.cli import Agent
from pantau.agent.settings import load_settings

config = load_settings(sys.argv[1])
stop = threading.Event()
agent = Agent(config)
runner = threading.Thread(target=agent.run, args=(stop,))
runner.start()
while sum(s.samples_taken for s in agent.samplers) < 3:
    stop.wait(0.1)
stop.set()
runner.join(60)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {heavy})
print(",".join(heavy) or "none", type(config).__name__)
"""


def test_an_agent_built_from_a_config_imports_no_pydantic(
    tmp_path: Path, mosquitto: Service
) -> None:
    config = agent_config(
        tmp_path / "agent.yaml",
        mosquitto.port,
        [
            {"id": "ringan-01", "source": {"kind": "simulated"}},
            {"id": "ringan-02", "source": {"kind": "linux", "wan_interface": "lo"}},
        ],
        interval_s=0.5,
    )
    done = subprocess.run(
        [sys.executable, "-c", RUN_AGENT.replace("{heavy}", repr(set(HEAVY))), str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["none", "Settings"]
