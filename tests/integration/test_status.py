"""`pantau status` against the real pipeline: every state a point can be in, counted exactly."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import pty
import select
import signal
import struct
import subprocess
import termios
import time
from pathlib import Path
from typing import Any

import pytest

from pantau.collector.lab.services import Service
from pantau.shared.cli import main
from tests.noc_demo import publish_capacity
from tests.pipeline import (
    PANTAU,
    agent_config,
    collector_config,
    influx,
    start_agent,
    start_collector,
    wait_for,
    write_yaml,
)

UTC = dt.UTC


def registry(path: Path) -> Path:
    rows = [("cit-01", "Citangkil"), ("cit-02", "Citangkil"), ("cit-03", "Citangkil")]
    rows += [("sam-01", "Samangraya"), ("sam-02", "Samangraya")]
    points = [
        {"id": pid, "kelurahan": kel, "kecamatan": "Citangkil", "provider": "Awinet"}
        for pid, kel in rows
    ]
    return write_yaml(path, {"contracts": [{"provider": "Awinet"}], "points": points})


def source() -> dict[str, Any]:
    return {"kind": "simulated", "fixed_rx_bps": 4e6, "fixed_tx_bps": 1e6, "fixed_clients": 3}


def status(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`pantau status` through the real dispatcher, in this process."""
    capsys.readouterr()
    code = main(["status", "--config", str(config), *args])
    out, err = capsys.readouterr()
    return code, out, err


def watch_until_redrawn(config: Path) -> tuple[str, int]:
    """`pantau status --watch` on a terminal (a pty, 160 columns): stopped with Ctrl-C once it
    has drawn the city twice. Its screen output and exit code."""
    main_fd, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 160, 0, 0))
    watch = subprocess.Popen(
        [*PANTAU, "status", "--config", str(config), "--watch", "--every", "0.5"],
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
        env={**os.environ, "COLUMNS": "160", "LINES": "50"},
    )
    os.close(terminal)
    screen = bytearray()

    def read() -> None:
        while select.select([main_fd], [], [], 0.05)[0]:
            try:
                chunk = os.read(main_fd, 65536)
            except OSError:  # the process closed its end
                return
            if not chunk:
                return
            screen.extend(chunk)

    def redrawn() -> bool:
        read()
        return screen.count(b"Samangraya") >= 2 or watch.poll() is not None

    try:
        wait_for(redrawn, 60, "two frames of the watch", step_s=0.05)
        watch.send_signal(signal.SIGINT)
        wait_for(lambda: read() or watch.poll() is not None, 30, "the watch to stop", step_s=0.05)
        read()
    finally:
        if watch.poll() is None:
            watch.kill()
        watch.wait(10)
        os.close(main_fd)
    return screen.decode(errors="replace"), watch.returncode


def test_status_counts_every_state(
    tmp_path: Path,
    mosquitto: Service,
    influxd: Service,
    database: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = collector_config(
        tmp_path / "collector.yaml",
        mosquitto.port,
        influxd.url,
        database,
        registry(tmp_path / "registry.yaml"),
        batch={"max_delay_s": 0.2},
        metrics={"port": 0},
        alerts={"silent_after_s": 3},
    )
    now = time.time()
    always = [
        {
            "start": dt.datetime.fromtimestamp(now - 60, UTC).isoformat(),
            "end": dt.datetime.fromtimestamp(now + 600, UTC).isoformat(),
        }
    ]
    points = [
        {"id": "cit-01", "source": source()},
        {"id": "cit-02", "source": source() | {"wan_down": always}},
        {"id": "cit-03", "source": source() | {"device_down": always}},
        {"id": "sam-01", "source": source()},
    ]
    collector = start_collector(config, tmp_path / "collector.log")
    healthy = start_agent(
        agent_config(tmp_path / "a" / "agent.yaml", mosquitto.port, points, interval_s=0.5),
        tmp_path / "a.log",
    )
    doomed = start_agent(
        agent_config(
            tmp_path / "b" / "agent.yaml",
            mosquitto.port,
            [{"id": "sam-02", "source": source()}],
            interval_s=0.5,
        ),
        tmp_path / "b.log",
    )
    db = influx(influxd.url, database)
    try:
        wait_for(
            lambda: (
                len(db.query('SELECT last("seq") FROM "telemetry" GROUP BY "point"')) == 5
                and len(db.query('SELECT "seq" FROM "telemetry" WHERE "point" = \'cit-01\'')) >= 3
            ),
            20,
            "all points reporting",
        )
        test_ms = int(time.time() * 1000)
        publish_capacity(mosquitto.port, "cit-01", [(test_ms, 41.5)])
        wait_for(lambda: db.query('SELECT "mbps" FROM "capacity"'), 10, "the capacity row")
        doomed.kill()
        killed = time.time()

        def sam_02_silent() -> bool:
            code, out, err = status(config, capsys, "--kelurahan", "Samangraya", "--format", "json")
            assert code == 0, err
            return any(p["state"] == "silent" for p in json.loads(out)["point_detail"])

        wait_for(sam_02_silent, 30, "sam-02 silent (no sample for silent_after_s)")
        code, out, err = status(config, capsys, "--format", "json")
        assert code == 0, err
        data = json.loads(out)
        assert data["broker_ok"] is True
        assert data["states"] == {
            "up": 2,
            "provider_down": 1,
            "unreachable": 1,
            "silent": 1,
            "unknown": 0,
        }
        kel = {k["name"]: k for k in data["kelurahan"]}
        assert sorted(kel) == ["Citangkil", "Samangraya"]
        cit = kel["Citangkil"]
        assert (cit["up"], cit["provider_down"], cit["unreachable"], cit["silent"]) == (1, 1, 1, 0)
        assert cit["clients"] == 6  # cit-01 and cit-02; the unreachable router has no count
        assert abs(cit["throughput_mbps"] - 10.0) < 0.01  # 2 x (4 + 1) Mbps
        assert cit["last_test"] == {
            "point": "cit-01",
            "direction": "down",
            "mbps": 41.5,
            "ts_ms": test_ms,
        }
        sam = kel["Samangraya"]
        assert (sam["up"], sam["silent"]) == (1, 1)
        assert sam["clients"] == 3  # the silent point's last count is not current

        code, out, err = status(config, capsys, "--kelurahan", "samangraya", "--format", "json")
        assert code == 0, err
        points_out = {p["point"]: p for p in json.loads(out)["point_detail"]}
        assert sorted(points_out) == ["sam-01", "sam-02"]
        silent = points_out["sam-02"]
        assert silent["state"] == "silent"
        assert silent["clients"] is None
        assert killed * 1000 - 2000 <= silent["since_ms"] <= killed * 1000
        assert points_out["sam-01"]["agent"]["online"] is True
        assert points_out["sam-01"]["agent"]["spool"] == "ok"  # from the agent's birth

        code, out, err = status(config, capsys, "--kelurahan", "Citangkil")
        assert code == 0, err
        lines = {line.split()[0]: line for line in out.splitlines() if line[:4] == "cit-"}
        assert "provider down" in lines["cit-02"]
        assert "unreachable" in lines["cit-03"]
        assert "41.5/— of 50" in lines["cit-01"]

        code, out, err = status(config, capsys, "--kelurahan", "Atlantis")
        assert code == 2
        assert err.strip().splitlines() == [
            f"pantau status: {tmp_path / 'registry.yaml'}: no kelurahan 'Atlantis' in the registry"
        ]

        out, code = watch_until_redrawn(config)
        assert code in (0, 130), out
        assert "Citangkil" in out and "Samangraya" in out
    finally:
        healthy.stop()
        collector.stop()
