"""Chains followed by their links over several archives: one point's messages spread over two
collector workers' archives (in alternating order, across midnight) verify whole, and a missing
message, a fork, a redelivery in both archives and a replay are each named exactly once."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from pantau.collector.archive import archives, signing
from pantau.collector.archive import keys as keyring
from pantau.collector.archive.chains import ChainReport, Finding, check_chains
from pantau.collector.archive.segments import ArchiveWriter, Record
from pantau.shared.errors import ConfigError
from tests.evidence_fixtures import (
    POINTS,
    T0_MS,
    Agent,
    Month,
    build_split,
    messages,
    telemetry,
)

DAY1, DAY2 = "2026-09-09", "2026-09-10"
GAP = "follows a message the archive does not hold (missing before it)"


def check(month: Month) -> ChainReport:
    found = archives.resolve([month.archive])
    ring = keyring.load_keys(month.keys_file)
    return check_chains(archives.scan(found, archives.days(found)), ring)


def located(month: Month, record: Record) -> tuple[str, str, int]:
    """(archive, day, record index) of the first copy of a record."""
    found = archives.resolve([month.archive])
    for entry in archives.scan(found, archives.days(found)):
        if entry.record == record:
            return entry.archive, entry.day, entry.index
    raise AssertionError("not archived")


def minute_of(records: list[Record], point: str, minute: int) -> int:
    """The index of a point's telemetry message of a minute."""
    ts = f'"ts_ms":{T0_MS + minute * 60_000}'.encode()
    return next(
        i
        for i, r in enumerate(records)
        if r.topic.endswith(f"{point}/telemetry") and ts in r.payload.replace(b" ", b"")
    )


def test_a_chain_split_over_two_archives_in_alternating_order_is_whole(tmp_path: Path) -> None:
    agents = {p: Agent(p) for p in POINTS}
    records = messages(agents)
    month = build_split(tmp_path, records, agents)
    shares = [archives.days([a]) for a in archives.resolve([month.archive])]
    assert shares == [[DAY1, DAY2], [DAY1, DAY2]]  # both workers hold part of every chain
    report = check(month)
    assert report.findings == []
    assert dict(report.messages) == {p: 361 for p in POINTS}
    assert {p: report.heads[p] for p in POINTS} == {p: agents[p].prev for p in POINTS}


def test_archived_across_midnight_before_the_message_it_follows_is_no_gap(
    tmp_path: Path,
) -> None:
    """Worker 1 archives minute 179 at 23:59:59.9; worker 2 archives minute 178, the one it
    follows, a moment after midnight: a segment of the next day."""
    agents = {p: Agent(p) for p in POINTS}
    records = messages(agents)
    early, late = minute_of(records, "cit-02", 179), minute_of(records, "cit-02", 178)
    midnight = T0_MS + 180 * 60_000
    records[early] = replace(records[early], received_ms=midnight - 100)
    records[late] = replace(records[late], received_ms=midnight + 100)
    month = build_split(tmp_path, records, agents, lambda i, _: [1 if i == late else 0])
    assert located(month, records[late])[:2] == ("worker-2", DAY2)
    report = check(month)
    assert (report.findings, dict(report.late)) == ([], {"cit-02": 1})


def test_a_message_missing_from_both_archives_is_one_gap(tmp_path: Path) -> None:
    agents = {p: Agent(p) for p in POINTS}
    records = messages(agents)
    records.pop(minute_of(records, "cit-02", 10))
    month = build_split(tmp_path, records, agents)
    after = records[minute_of(records, "cit-02", 11)]
    archive, day, index = located(month, after)
    assert check(month).findings == [Finding(day, index, "gap", "cit-02", "seq 1011", GAP, archive)]
    assert str(check(month).findings[0]) == (
        f"gap: point cit-02, seq 1011, {archive} {DAY1} record {index}: {GAP}"
    )


def test_a_second_message_after_the_same_one_is_a_fork(tmp_path: Path) -> None:
    agents = {p: Agent(p) for p in POINTS}
    records = messages(agents)
    original = records[minute_of(records, "cit-03", 20)]
    other = telemetry("cit-03", 20, wan_up=False)  # a rolled-back spool sent again, changed
    prev = bytes.fromhex(original.properties["p"])
    key = agents["cit-03"].key
    props = {
        "k": agents["cit-03"].key_id,
        "p": prev.hex(),
        "s": signing.sign(key, signing.chain_hash(prev, other)).hex(),
        "id": "cit-03-again",
    }
    forked = Record(original.received_ms + 5_000, original.topic, other, props)
    at = records.index(original) + 1
    records.insert(at, forked)
    month = build_split(tmp_path, records, agents, lambda i, _: [1 if i == at else i % 2])
    archive, day, index = located(month, forked)
    assert archive == "worker-2"
    assert check(month).findings == [
        Finding(
            day, index, "fork", "cit-03", "seq 1020",
            "follows a message another one already follows", archive,
        )
    ]  # fmt: skip


def test_a_redelivery_in_both_archives_is_counted_not_named(tmp_path: Path) -> None:
    agents = {p: Agent(p) for p in POINTS}
    records = messages(agents)
    again = replace(records[40], received_ms=records[40].received_ms + 60_000)
    records.append(again)  # the broker gave it to both workers: both archived it
    last = len(records) - 1
    month = build_split(tmp_path, records, agents, lambda i, _: [0, 1] if i == last else [i % 2])
    report = check(month)
    point = records[40].topic.split("/")[2]
    assert (report.findings, dict(report.redelivered)) == ([], {point: 2})


def test_a_replay_hours_later_in_the_other_archive_is_named(tmp_path: Path) -> None:
    agents = {p: Agent(p) for p in POINTS}
    records = messages(agents)
    old = records[30]  # cit-01, minute 10, archived by worker 1
    replayed = replace(old, received_ms=records[-1].received_ms + 1000)
    records.append(replayed)
    last = len(records) - 1
    month = build_split(tmp_path, records, agents, lambda i, _: [1 if i == last else 0])
    archive, day, index = located(month, replayed)
    assert (archive, day) == ("worker-2", DAY2)
    first = located(month, old)
    assert [str(f) for f in check(month).findings] == [
        f"replay: point cit-01, seq 1010, worker-2 {DAY2} record {index}: the same message as"
        f" worker-1 {DAY1} record {first[2]}, again 5.8 h later"
    ]


def test_which_archives_a_folder_means(tmp_path: Path) -> None:
    parent = tmp_path / "archive"
    for n in (1, 2, 10):
        ArchiveWriter(parent / f"worker-{n}").close()
    found = archives.resolve([parent])
    assert [(a.path.name, a.name) for a in found] == [
        ("worker-1", "worker-1"),
        ("worker-2", "worker-2"),
        ("worker-10", "worker-10"),
    ]
    one = archives.resolve([parent / "worker-2", parent / "worker-2"])
    assert [(a.path, a.name) for a in one] == [(parent / "worker-2", "")]
    other = tmp_path / "host-b" / "worker-1"
    ArchiveWriter(other).close()
    named = [a.name for a in archives.resolve([parent / "worker-1", other])]
    assert named == ["archive/worker-1", "host-b/worker-1"]
    with pytest.raises(ConfigError, match=r"^--archive .*absent: no such folder$"):
        archives.resolve([tmp_path / "absent"])
