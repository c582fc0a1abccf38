from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from pantau.agent.spool import (
    IN_CHUNK,
    PointProgress,
    Spool,
    SpoolView,
    SpoolWriteError,
    read_progress,
)


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
    spool.forget("a-01", [r.id for r in first])
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
    spool.forget(
        "a-01", [r.id for r in samples]
    )  # the event between them stays until its own receipt
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
    spool.forget("a-01", [rows[0].id], dropped_reported=30)  # the message that reported them
    assert spool.dropped("a-01") == 0
    assert [r.seq for r in spool.peek("a-01", 0, 1000)] == list(range(31, 130))
    assert spool.pending_samples() == 99


def test_spool_is_wal_and_fully_synchronous(tmp_path: Path) -> None:
    Spool(tmp_path / "s.sqlite", max_samples_per_point=100).close()
    db = sqlite3.connect(tmp_path / "s.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_view_reads_progress_beside_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite"
    spool = Spool(path, max_samples_per_point=3)
    for _ in range(5):  # seq 0..4; the cap keeps 2, 3, 4 and counts 2 dropped
        spool.append_sample("a-01", body)
    spool.append_event("a-01", '{"kind": "reboot"}')
    spool.append_sample("b-01", body)
    spool.forget("b-01", [r.id for r in spool.peek("b-01", 0, 10)])
    with SpoolView(path) as view:
        assert view.progress() == {
            "a-01": PointProgress(next_seq=5, waiting=3, dropped=2),
            "b-01": PointProgress(next_seq=1, waiting=0, dropped=0),
        }
        assert view.progress()["a-01"].taken == 5
        assert (view.rows(), view.rows("a-01"), view.rows("b-01")) == (4, 4, 0)
        assert [view.waiting_before("a-01", seq) for seq in (2, 3, 4, 5)] == [0, 1, 2, 3]
        assert view.intact()
        with spool.transaction():  # the writer mid-commit: the view reads what is committed
            spool.append_sample("a-01", body)
            assert view.progress()["a-01"] == PointProgress(5, 3, 2)
        assert view.progress()["a-01"] == PointProgress(6, 3, 3)
    spool.close()
    assert read_progress(path)["a-01"] == PointProgress(6, 3, 3)


def test_a_spool_not_made_yet_holds_nothing(tmp_path: Path) -> None:
    assert read_progress(tmp_path / "spool.sqlite") == {}
    with pytest.raises(FileNotFoundError, match="no spool at"):
        SpoolView(tmp_path / "spool.sqlite")
    sqlite3.connect(tmp_path / "spool.sqlite").close()  # the file is there, its tables not yet
    with SpoolView(tmp_path / "spool.sqlite") as view:
        assert (view.progress(), view.rows(), view.waiting_before("a-01", 9)) == ({}, 0, 0)


def test_a_failed_forget_changes_nothing_and_says_so(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite", max_samples_per_point=1000)
    for _ in range(3):
        spool.append_sample("a-01", body)
    rows = spool.peek("a-01", 0, 10)
    reader = sqlite3.connect(tmp_path / "s.sqlite", isolation_level=None)
    reader.execute("BEGIN IMMEDIATE")  # another writer holds the lock past the busy timeout
    spool._db.execute("PRAGMA busy_timeout=50")
    with pytest.raises(SpoolWriteError, match="cannot forget 2 row"):
        spool.forget("a-01", [r.id for r in rows[:2]])
    assert spool.state == "degraded"
    reader.execute("ROLLBACK")
    assert spool.count("a-01") == 3 and spool.pending_samples() == 3
    spool.forget("a-01", [r.id for r in rows[:2]])
    assert spool.state == "ok" and [r.seq for r in spool.peek("a-01", 0, 10)] == [2]


def test_row_ids_never_restart_below_what_messages_were_made_of(tmp_path: Path) -> None:
    """A new row after a restart with an empty outbox is still after the point's cursor."""
    path = tmp_path / "s.sqlite"
    spool = Spool(path, max_samples_per_point=1000)
    for _ in range(3):
        spool.append_sample("a-01", body)
    rows = spool.peek("a-01", 0, 10)
    formed = spool.form(
        "a-01", "m-1", "telemetry", rows, 0, bytes(32), lambda prev: (b"x", {}, b"\1" * 32)
    )
    spool.forget("a-01", formed.row_ids, 0, formed.n)
    spool.close()
    spool = Spool(path, max_samples_per_point=1000)
    assert spool.empty() and spool.chain("a-01", bytes(32)).formed_to == rows[-1].id
    spool.append_sample("a-01", body)
    fresh = spool.peek("a-01", spool.chain("a-01", bytes(32)).formed_to, 10)
    assert [r.seq for r in fresh] == [3]
    assert spool.formed("a-01") == []


def test_forgetting_any_number_of_rows_uses_the_same_two_statements(tmp_path: Path) -> None:
    """A statement per batch size would fill the connection's statement cache (agent/spool.py
    IN_CHUNK): rows forgotten 1 to 150 at a time go through one count and one delete, each
    naming exactly IN_CHUNK ids (the rest NULL)."""
    spool = Spool(tmp_path / "s.sqlite", max_samples_per_point=100_000, sync="normal")
    spool.append_event("a-01", '{"event":1}')
    for _ in range(150 * 151 // 2 - 1):
        spool.append_sample("a-01", body)
    rows = spool.peek("a-01", 0, 100_000)
    statements: list[str] = []  # as run, with their values (sqlite's expanded SQL)
    spool._db.set_trace_callback(statements.append)
    start = 0
    for size in range(1, 151):
        spool.forget("a-01", [r.id for r in rows[start : start + size]])
        start += size
    spool._db.set_trace_callback(None)
    forgetting = [s for s in statements if "FROM outbox WHERE" in s]
    chunks = sum((size + IN_CHUNK - 1) // IN_CHUNK for size in range(1, 151))
    assert len(forgetting) == 2 * chunks
    assert {s.split(" WHERE ")[0] for s in forgetting} == {
        "SELECT COUNT(*) FROM outbox",
        "DELETE FROM outbox",
    }
    assert {s.split(" IN (")[1].count(",") for s in forgetting} == {IN_CHUNK - 1}
    assert spool.peek("a-01", 0, 10) == []
    taken = 150 * 151 // 2 - 1
    with SpoolView(tmp_path / "s.sqlite") as view:
        assert view.progress()["a-01"] == PointProgress(next_seq=taken, waiting=0, dropped=0)
