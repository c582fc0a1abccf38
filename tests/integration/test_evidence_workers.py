"""`pantau evidence` over the archives of a collector with two workers on one share group: the
broker spreads each point's signed messages over both workers, each worker archives its part;
each archive is checkpointed by itself, and verify follows every chain across both and finds
nothing. One archived message deleted from one worker's archive is named: the gap at the
message after it, wherever that one is archived, and that archive's root."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from pantau.collector.archive import scan, signing
from pantau.collector.archive.segments import days
from pantau.collector.lab.services import Service
from pantau.collector.sla.periods import from_ms
from pantau.shared import topics
from pantau.shared.cli import main
from tests.integration.test_workers import all_subscribed
from tests.pipeline import (
    agent_config,
    count_rows,
    finish_with_receipts,
    influx,
    signed_collector_config,
    start_agent,
    start_collector,
    wait_for,
)

POINTS = ["kubangsari-01", "kubangsari-02", "kubangsari-03"]
COLLECTOR = "pantau-collector"
GAP = "follows a message the archive does not hold (missing before it)"


def evidence(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    code = main(["evidence", *args])
    out, _ = capsys.readouterr()
    return code, out.splitlines()


def entries(archive: Path) -> list[scan.Entry]:
    return [e for day in days(archive) for e in scan.scan_day(archive, day, archive.name)]


def links(entry: scan.Entry) -> tuple[bytes, bytes]:
    """(p, h) of an archived signed message."""
    assert entry.record is not None
    prev = bytes.fromhex(entry.record.properties["p"])
    return prev, signing.chain_hash(prev, entry.record.payload)


def test_verify_follows_chains_across_two_workers_archives(
    tmp_path: Path,
    mosquitto: Service,
    influxd: Service,
    database: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pki, config = signed_collector_config(
        tmp_path, mosquitto.port, influxd.url, database, POINTS, COLLECTOR, workers=2
    )
    archive = tmp_path / "archive"
    agent_yaml = agent_config(
        tmp_path / "agent" / "agent.yaml",
        mosquitto.port,
        [{"id": p, "source": {"kind": "simulated", "fixed_rx_bps": 3e6}} for p in POINTS],
        interval_s=0.05,
        publish={"signing_key_file": str(pki.dir / "issued" / "{point}" / "signing.key")},
    )
    db = influx(influxd.url, database)
    collector = start_collector(config, tmp_path / "collector.log")
    agent = None
    try:
        wait_for(lambda: all_subscribed(collector, 2), 30, "both workers subscribed")
        agent = start_agent(agent_yaml, tmp_path / "agent.log")
        wait_for(lambda: count_rows(db, "telemetry") >= 300, 60, "signed data flowing")
        finish_with_receipts(db, agent_yaml.parent / "agent-state", agent, more=60)
        assert collector.stop() == 0
    finally:
        if agent is not None:
            agent.stop()
        collector.stop()

    homes = [archive / "worker-1", archive / "worker-2"]
    held = {home.name: entries(home) for home in homes}
    for name, found in held.items():  # the broker spread every point over both workers
        points = Counter(topics.parse_topic(e.record.topic)[0] for e in found if e.record)
        assert sorted(points) == POINTS and min(points.values()) > 5, (name, points)
    chained = sum(len(found) for found in held.values())
    archived_days = sorted({e.day for found in held.values() for e in found})

    base = ["--config", str(config)]
    code, out = evidence(capsys, "checkpoint", *base, "--through", archived_days[-1], "--early")
    assert code == 0, out
    assert sorted(": ".join(line.split(": ")[:2]) for line in out) == sorted(
        f"{home.name}: {day}" for home in homes for day in days(home)
    )
    month = from_ms(held["worker-1"][0].record.received_ms).strftime("%Y-%m")  # type: ignore[union-attr]
    code, out = evidence(capsys, "verify", *base, "--month", month)
    assert code == 0, out
    assert out[0].startswith(f"signatures and chains: {chained} signed message(s) of 3 point(s)")
    assert ": all valid" in out[0]
    assert [line.split(":")[0] for line in out[1:]] == [
        "checkpoints of worker-1",
        "checkpoints of worker-2",
    ]
    assert all("chained, signed, roots match the archive" in line for line in out[1:]), out

    # one message gone from worker 1's archive: the gap is at the message that follows it
    found = held["worker-1"]
    counts = Counter(links(e)[1] for f in held.values() for e in f)
    after: dict[bytes, scan.Entry] = {links(e)[0]: e for f in held.values() for e in f}
    gone = next(
        e
        for e in found[len(found) // 2 :]
        if e.record is not None
        and e.record.topic.endswith("/telemetry")
        and counts[links(e)[1]] == 1  # archived once: not a redelivery either worker holds
        and links(e)[1] in after
        and after[links(e)[1]].record.topic.endswith("/telemetry")  # type: ignore[union-attr]
    )
    nxt = after[links(gone)[1]]
    segment = archive / "worker-1" / gone.day[:7] / f"{gone.day}.seg"
    data = segment.read_bytes()
    size = 8 + len(gone.body) + 4  # frame: marker, length, body, CRC
    segment.write_bytes(data[: gone.offset] + data[gone.offset + size :])
    index = nxt.index
    if nxt.archive == "worker-1" and nxt.day == gone.day and nxt.index > gone.index:
        index -= 1
    point = topics.parse_topic(nxt.record.topic)[0]  # type: ignore[union-attr]
    seq = json.loads(nxt.record.payload)["samples"][0]["seq"]  # type: ignore[union-attr]
    code, out = evidence(capsys, "verify", *base, "--month", month)
    assert code == 1, out
    assert out[0].startswith(f"signatures and chains: 1 finding(s) in {chained - 1} message(s)")
    assert (
        out[1] == f"  gap: point {point}, seq {seq}, {nxt.archive} {nxt.day} record {index}: {GAP}"
    )
    assert out[2] == "checkpoints of worker-1: 1 problem(s)"
    assert out[3].startswith(f"  {gone.day}: archive holds ")
    assert out[4].startswith("checkpoints of worker-2: ") and "roots match" in out[4]
