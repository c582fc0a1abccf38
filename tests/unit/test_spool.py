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


def test_events_and_samples_come_in_order_and_leave_by_id(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite", max_samples_per_point=1000)
    spool.append_sample("a-01", body)
    spool.append_event("a-01", '{"kind": "reboot"}')
    spool.append_sample("a-01", body)
    batch = spool.peek("a-01", 0, 10)
    assert [(r.kind, r.seq) for r in batch] == [("telemetry", 0), ("event", None), ("telemetry", 1)]
    samples = [r for r in batch if r.kind == "telemetry"]
    spool.remove("a-01", samples)  # the event between them stays until its own PUBACK
    assert [r.kind for r in spool.peek("a-01", 0, 10)] == ["event"]
    assert spool.pending_samples() == 0 and not spool.empty()


def test_a_message_takes_what_fits(tmp_path: Path) -> None:
    from pantau.agent.publisher import MAX_MESSAGE_BYTES, _fit

    spool = Spool(tmp_path / "s.sqlite", max_samples_per_point=10_000)
    big = "x" * 100_000
    for _ in range(8):
        spool.append_sample("a-01", lambda seq: big)
    rows = spool.peek("a-01", 0, 100)
    fitted = _fit(rows)
    assert len(fitted) == MAX_MESSAGE_BYTES // 100_001 == 5


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
