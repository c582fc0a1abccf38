"""Receipts' deletes batched off the network thread (agent/forgetting.py, `Spool.forget_later`):
many points' messages in one transaction, each submitter told once they are durable, a failed
batch changing nothing and said to each, and what is handed over written before a close."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

from pantau.agent.forgetting import Forget
from pantau.agent.spool import Spool, SpoolWriteError

POINTS = ("a-01", "b-01", "c-01")


def body(seq: int) -> str:
    return json.dumps({"seq": seq})


class Outcomes:
    """What each submitter heard, in order, and when all have heard."""

    def __init__(self, expected: int) -> None:
        self.heard: list[tuple[str, Exception | None]] = []
        self._expected = expected
        self._all = threading.Event()
        self.threads: set[str] = set()

    def done(self, name: str):  # type: ignore[no-untyped-def]
        def call(error: Exception | None) -> None:
            self.threads.add(threading.current_thread().name)
            self.heard.append((name, error))
            if len(self.heard) == self._expected:
                self._all.set()

        return call

    def wait(self) -> None:
        assert self._all.wait(20), self.heard


def spooled(tmp_path: Path, per_point: int) -> Spool:
    spool = Spool(tmp_path / "s.sqlite", max_samples_per_point=1000)
    for _ in range(per_point):
        for point in POINTS:
            spool.append_sample(point, body)
    return spool


def commits_of(spool: Spool) -> list[int]:
    """Counts the spool's COMMITs from here on (its connection traced)."""
    commits: list[int] = []
    spool._db.set_trace_callback(lambda sql: commits.append(1) if sql == "COMMIT" else None)
    return commits


def test_many_points_forgotten_in_one_transaction(tmp_path: Path) -> None:
    spool = spooled(tmp_path, 4)
    rows = {p: spool.peek(p, 0, 10) for p in POINTS}
    started = Outcomes(1)
    spool.forget_later([], started.done("nothing"))  # starts the forgetter, writes nothing
    started.wait()
    assert spool._forgetter is not None
    outcomes = Outcomes(len(POINTS))
    commits = commits_of(spool)
    with spool._forgetter._cond:  # it takes none of them before all three are handed over
        for point in POINTS:
            items = [Forget(point, (r.id,), 0, None) for r in rows[point][:3]]
            spool.forget_later(items, outcomes.done(point))
    outcomes.wait()
    assert sorted(outcomes.heard, key=lambda h: h[0]) == [(p, None) for p in POINTS]
    assert outcomes.threads == {"spool-forget"}  # never the submitter's thread
    assert len(commits) == 1
    assert {p: [r.seq for r in spool.peek(p, 0, 10)] for p in POINTS} == {p: [3] for p in POINTS}
    assert spool.pending_samples() == len(POINTS)
    spool.close()


def test_a_failed_batch_changes_nothing_and_each_submitter_hears_it(tmp_path: Path) -> None:
    spool = spooled(tmp_path, 2)
    rows = {p: spool.peek(p, 0, 10) for p in POINTS}
    other = sqlite3.connect(tmp_path / "s.sqlite", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock past the busy timeout
    spool._db.execute("PRAGMA busy_timeout=50")
    outcomes = Outcomes(2)
    for point in POINTS[:2]:
        spool.forget_later([Forget(point, (rows[point][0].id,), 0, None)], outcomes.done(point))
    outcomes.wait()
    assert [type(error) for _, error in outcomes.heard] == [SpoolWriteError] * 2
    other.execute("ROLLBACK")
    assert spool.pending_samples() == 2 * len(POINTS) and spool.state == "degraded"
    again = Outcomes(1)
    spool.forget_later([Forget(POINTS[0], (rows[POINTS[0]][0].id,), 0, None)], again.done("a"))
    again.wait()
    assert again.heard == [("a", None)] and spool.state == "ok"
    assert [r.seq for r in spool.peek(POINTS[0], 0, 10)] == [1]
    spool.close()


def test_a_close_writes_what_was_handed_over(tmp_path: Path) -> None:
    spool = spooled(tmp_path, 3)
    rows = spool.peek(POINTS[0], 0, 10)
    outcomes = Outcomes(len(rows))
    for row in rows:
        spool.forget_later([Forget(POINTS[0], (row.id,), 0, None)], outcomes.done(str(row.id)))
    spool.close()
    assert [error for _, error in outcomes.heard] == [None] * len(rows)
    reopened = Spool(tmp_path / "s.sqlite", max_samples_per_point=1000)
    assert reopened.count(POINTS[0]) == 0 and reopened.count() == 3 * (len(POINTS) - 1)
    reopened.close()
