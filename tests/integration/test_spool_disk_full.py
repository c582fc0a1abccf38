"""A full disk under the spool: samples that cannot be stored are counted and reported, the
spool stays intact, and sampling carries on once there is room again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pantau.agent.config import PointConfig
from pantau.agent.point import PointContext
from pantau.agent.run import PointSampler
from pantau.agent.sources.clock import SteppingClock
from pantau.agent.spool import Spool, SpoolView


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=640k", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_disk_loses_nothing_silently(small_disk: Path) -> None:
    clock = SteppingClock(1_790_000_000.0)
    spool = Spool(small_disk / "spool.sqlite", max_samples_per_point=10**6)
    config = PointConfig.model_validate(
        {"id": "citangkil-05", "source": {"kind": "simulated", "fixed_rx_bps": 1e6}}
    )
    context = PointContext("citangkil-05", spool, None, clock)
    sampler = PointSampler(
        config, 10, config.source.build("citangkil-05", clock), context, "boot-1"
    )
    attempts = 0
    while sampler._unstored < 5 and attempts < 5000:  # fill the disk, then five more
        clock.set(clock.now() + 10)
        sampler.sample_once()
        attempts += 1
    stored_before = sampler.samples_taken
    assert sampler._unstored == 5 and stored_before > 20
    subprocess.run(["mount", "-o", "remount,size=4m", str(small_disk)], check=True)
    for _ in range(3):
        clock.set(clock.now() + 10)
        sampler.sample_once()
    rows = spool.peek("citangkil-05", 0, 10**6)
    dropped = spool.dropped("citangkil-05")
    spool.close()

    with SpoolView(small_disk / "spool.sqlite") as view:
        assert view.intact()
    seqs = [r.seq for r in rows if r.kind == "telemetry"]
    assert seqs == list(range(stored_before + 3))  # no gap, no repeat: seq counts stored samples
    assert dropped == 5  # the lost samples are reported in the next message
    assert json.loads(rows[-1].body)["seq"] == stored_before + 2


def test_spool_survives_reopen_after_kill_mid_transaction(tmp_path: Path) -> None:
    """A transaction left open by a killed process is rolled back on the next open."""
    path = tmp_path / "spool.sqlite"
    spool = Spool(path, max_samples_per_point=1000)
    for _ in range(3):
        spool.append_sample("a-01", lambda seq: json.dumps({"seq": seq}))
    script = (
        "import json, os, pathlib\n"
        "from pantau.agent.spool import Spool\n"
        f"spool = Spool(pathlib.Path({str(path)!r}), max_samples_per_point=1000)\n"
        "with spool.transaction():\n"
        "    spool.append_sample('a-01', lambda seq: json.dumps({'seq': seq}))\n"
        "    os.kill(os.getpid(), 9)\n"
    )
    killed = subprocess.run([sys.executable, "-c", script], check=False)
    assert killed.returncode == -9
    spool.close()
    spool = Spool(path, max_samples_per_point=1000)
    assert [r.seq for r in spool.peek("a-01", 0, 10)] == [0, 1, 2]
    assert spool.append_sample("a-01", lambda seq: json.dumps({"seq": seq})) == 3
