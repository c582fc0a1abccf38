"""A full disk under the spool: samples wait in memory (bounded) and are all stored once there
is room again; beyond what memory holds they are counted and reported; the spool stays intact."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import deque
from collections.abc import Callable
from pathlib import Path

import pytest

from pantau.agent import run
from pantau.agent.config import PointConfig
from pantau.agent.point import PointContext
from pantau.agent.run import PointSampler
from pantau.agent.sources.clock import SteppingClock
from pantau.agent.spool import Spool, SpoolView


@pytest.fixture
def small_disk(tmpfs: Callable[[str], Path]) -> Path:
    return tmpfs("640k")


def _sampler(disk: Path) -> tuple[PointSampler, Spool, SteppingClock]:
    clock = SteppingClock(1_790_000_000.0)
    spool = Spool(disk / "spool.sqlite", max_samples_per_point=10**6)
    config = PointConfig.model_validate(
        {"id": "citangkil-05", "source": {"kind": "simulated", "fixed_rx_bps": 1e6}}
    )
    context = PointContext("citangkil-05", spool, None, clock)
    sampler = PointSampler(
        config, 10, config.source.build("citangkil-05", clock), context, "boot-1"
    )
    return sampler, spool, clock


def _fill(sampler: PointSampler, clock: SteppingClock, held: int) -> None:
    attempts = 0
    while len(sampler._held) < held and attempts < 5000:  # fill the disk, then `held` more
        clock.set(clock.now() + 10)
        sampler.sample_once()
        attempts += 1
    assert len(sampler._held) == held


def test_samples_taken_on_a_full_disk_wait_in_memory_and_are_all_stored(
    small_disk: Path,
) -> None:
    sampler, spool, clock = _sampler(small_disk)
    _fill(sampler, clock, 5)
    stored_before = sampler.samples_taken
    assert stored_before > 20 and spool.state == "disk_full"
    first_held_ts = sampler._held[0]["ts_ms"]
    subprocess.run(["mount", "-o", "remount,size=4m", str(small_disk)], check=True)
    for _ in range(3):
        clock.set(clock.now() + 10)
        sampler.sample_once()
    rows = spool.peek("citangkil-05", 0, 10**6)
    dropped = spool.dropped("citangkil-05")
    state = spool.state
    spool.close()

    with SpoolView(small_disk / "spool.sqlite") as view:
        assert view.intact()
    samples = [json.loads(r.body) for r in rows if r.kind == "telemetry"]
    assert [s["seq"] for s in samples] == list(range(stored_before + 8))  # all, in order
    assert samples[stored_before]["ts_ms"] == first_held_ts
    assert [s["ts_ms"] for s in samples] == sorted(s["ts_ms"] for s in samples)
    assert dropped == 0 and state == "ok" and sampler._held == deque()
    events = [json.loads(r.body) for r in rows if r.kind == "event"]
    assert [(e["kind"], e["data"]["state"]) for e in events] == [
        ("spool_state", "disk_full"),
        ("spool_state", "ok"),
    ]


def test_beyond_what_memory_holds_the_oldest_are_dropped_and_reported(
    small_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run, "HELD_SAMPLES", 3)
    sampler, spool, clock = _sampler(small_disk)
    _fill(sampler, clock, 3)
    stored_before = sampler.samples_taken
    for _ in range(4):  # four more than memory holds
        clock.set(clock.now() + 10)
        sampler.sample_once()
    assert len(sampler._held) == 3
    subprocess.run(["mount", "-o", "remount,size=4m", str(small_disk)], check=True)
    clock.set(clock.now() + 10)
    sampler.sample_once()
    rows = spool.peek("citangkil-05", 0, 10**6)
    assert spool.dropped("citangkil-05") == 4  # reported in the next message
    assert sum(r.kind == "telemetry" for r in rows) == stored_before + 4
    spool.close()


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
