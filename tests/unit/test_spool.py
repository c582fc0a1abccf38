from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from pantau.agent.spool import Spool


def body(seq: int) -> str:
    return json.dumps({"seq": seq})


def test_seq_is_monotonic_and_survives_reopen(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite", max_samples_per_point=1000)
    assert [spool.append_sample("a-01", body) for _ in range(3)] == [0, 1, 2]
    assert spool.append_sample("b-01", body) == 0
    spool.close()
    spool = Spool(tmp_path / "s.sqlite", max_samples_per_point=1000)
    assert spool.append_sample("a-01", body) == 3
    rows = spool.peek("a-01", 0, 100)
    assert [json.loads(r.body)["seq"] for r in rows] == [0, 1, 2, 3]


def test_rows_leave_only_when_removed(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite", max_samples_per_point=1000)
    for _ in range(5):
        spool.append_sample("a-01", body)
    first = spool.peek("a-01", 0, 2)
    assert [r.seq for r in first] == [0, 1]
    second = spool.peek("a-01", first[-1].id, 10)
    assert [r.seq for r in second] == [2, 3, 4]
    spool.remove("a-01", first)
    assert [r.seq for r in spool.peek("a-01", 0, 10)] == [2, 3, 4]
    assert spool.count("a-01") == 3


def test_events_travel_alone_in_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite", max_samples_per_point=1000)
    spool.append_sample("a-01", body)
    spool.append_event("a-01", '{"kind": "reboot"}')
    spool.append_sample("a-01", body)
    batch = spool.peek("a-01", 0, 10)
    assert [r.kind for r in batch] == ["telemetry"]
    batch = spool.peek("a-01", batch[-1].id, 10)
    assert [r.kind for r in batch] == ["event"]
    batch = spool.peek("a-01", batch[-1].id, 10)
    assert [(r.kind, r.seq) for r in batch] == [("telemetry", 1)]


def test_full_spool_drops_oldest_and_counts_them(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite", max_samples_per_point=100)
    for _ in range(130):
        spool.append_sample("a-01", body)
    rows = spool.peek("a-01", 0, 1000)
    assert [r.seq for r in rows] == list(range(30, 130))
    assert spool.dropped("a-01") == 30
    spool.acknowledge_dropped("a-01", 30)
    assert spool.dropped("a-01") == 0


def test_spool_is_wal_and_fully_synchronous(tmp_path: Path) -> None:
    Spool(tmp_path / "s.sqlite", max_samples_per_point=100).close()
    db = sqlite3.connect(tmp_path / "s.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
