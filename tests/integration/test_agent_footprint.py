"""A running agent holds no config models: pydantic (and YAML) live only in the short child that
checks the config at start (agent/settings.py), so a small board keeps the ~14 MB they cost.
The deployed agent signs its messages and runs speed tests: it does both without them too, and
signs with libsodium rather than `cryptography` (agent/signing.py), 1 MB against 7 to 12.

Checked on a real `pantau agent` process that samples and publishes through a real mosquitto
(its mapped libraries: pydantic-core's is there as soon as pydantic is imported), and inside an
agent built and run the way `pantau agent` does it (its sys.modules).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from pantau.collector.archive import signing
from pantau.collector.lab.services import Service
from tests.pipeline import agent_config, start_agent, taken_so_far, wait_for

HEAVY = ("pydantic", "pydantic_core", "yaml", "cryptography")
# Shared objects of those: pydantic-core's, PyYAML's, cryptography's Rust extension.
HEAVY_MAPPED = ("pydantic", "_yaml", "cryptography")
# No collector sends receipts here: a stopping agent would wait its whole goodbye (6 s) for them.
GOODBYE = {"goodbye_drain_s": 0.5}


def mapped_libraries(pid: int) -> set[str]:
    lines = Path(f"/proc/{pid}/maps").read_text().splitlines()
    return {line.split()[-1] for line in lines if line.split()[-1].startswith("/")}


def test_the_agent_process_maps_no_pydantic(tmp_path: Path, mosquitto: Service) -> None:
    config = agent_config(
        tmp_path / "agent.yaml",
        mosquitto.port,
        [{"id": "ringan-01", "source": {"kind": "simulated", "fixed_rx_bps": 2e6}}],
        interval_s=0.5,
        publish=GOODBYE,
    )
    agent = start_agent(config, tmp_path / "agent.log")
    try:
        agent.wait_log("connected to broker", 60)
        state = tmp_path / "agent-state"
        wait_for(lambda: taken_so_far(state) >= 3, 60, "three samples taken")
        assert agent.process is not None
        libraries = mapped_libraries(agent.process.pid)
        assert any("libpython" in lib or "python3" in lib for lib in libraries), libraries
        assert [lib for lib in libraries if any(h in lib for h in HEAVY_MAPPED)] == []
    finally:
        assert agent.stop() == 0, agent.log()[-2000:]


def signed_capacity_points(keys: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The deployed shape (examples/agent-capacity.yaml): every point signs; speed tests (HTTP
    and iperf3, a second server for retests) and ping bursts from the agent. The test servers
    are closed ports: a test fails fast, and is recorded like any other."""
    for point in ("ringan-01", "ringan-02"):
        signing.save_private_key(keys / point / "signing.key", signing.generate())
    schedule = {"first_after_s": 1, "min_interval_h": 0}
    points = [
        {
            "id": "ringan-01",
            "source": {"kind": "simulated", "fixed_rx_bps": 2e6},
            "capacity": {
                "method": {"kind": "http", "url": "http://127.0.0.1:9", "duration_s": 1},
                "schedule": schedule,
                "defer_above_bps": 1e9,
                "retest": {"server": "http://127.0.0.2:9"},
            },
            "bursts": {"target": "127.0.0.1", "count": 2, "interval_s": 0.2, "every_s": 10},
        },
        {
            "id": "ringan-02",
            "source": {"kind": "linux", "wan_interface": "lo"},
            "capacity": {
                "method": {"kind": "iperf3", "host": "127.0.0.1", "ports": [9], "duration_s": 1},
                "schedule": schedule,
                "defer_above_bps": 1e9,
                "uplink": "ringan-uplink",
            },
        },
    ]
    publish = {"signing_key_file": str(keys / "{point}" / "signing.key"), **GOODBYE}
    return points, publish


def test_a_signing_agent_with_speed_tests_maps_no_pydantic_nor_cryptography(
    tmp_path: Path, mosquitto: Service
) -> None:
    points, publish = signed_capacity_points(tmp_path / "keys")
    config = agent_config(
        tmp_path / "agent.yaml", mosquitto.port, points, interval_s=0.5, publish=publish
    )
    agent = start_agent(config, tmp_path / "agent.log")
    try:
        agent.wait_log("connected to broker", 60)
        wait_for(lambda: taken_so_far(tmp_path / "agent-state") >= 4, 60, "four samples taken")
        wait_for(
            lambda: agent.log().count("capacity test") >= 2 or not agent.alive(),
            120,
            "a capacity test (or its deferral) at each point",
        )
        assert agent.process is not None and agent.alive(), agent.log()[-2000:]
        libraries = mapped_libraries(agent.process.pid)
        assert [lib for lib in libraries if any(h in lib for h in HEAVY_MAPPED)] == []
        assert [lib for lib in libraries if "_sodium" in lib] != []  # it signs, with libsodium
        assert "Traceback" not in agent.log()
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
workers = agent.capacity.workers if agent.capacity is not None else []
signers = sum(p._signer._key is not None for p in agent.publishers)
print(",".join(heavy) or "none", type(config).__name__, len(workers), signers)
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
        publish=GOODBYE,
    )
    done = run_agent_in_a_child(config)
    assert done.stdout.split() == ["none", "Settings", "0", "0"]


def test_a_signing_agent_with_speed_tests_built_from_a_config_imports_none(
    tmp_path: Path, mosquitto: Service
) -> None:
    points, publish = signed_capacity_points(tmp_path / "keys")
    config = agent_config(
        tmp_path / "agent.yaml", mosquitto.port, points, interval_s=0.5, publish=publish
    )
    done = run_agent_in_a_child(config)
    assert done.stdout.split() == ["none", "Settings", "2", "2"]


def run_agent_in_a_child(config: Path) -> subprocess.CompletedProcess[str]:
    """RUN_AGENT on this config in a fresh interpreter: what it imported, and how it ended."""
    done = subprocess.run(
        [sys.executable, "-c", RUN_AGENT.replace("{heavy}", repr(set(HEAVY))), str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done
