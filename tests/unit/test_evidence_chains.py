"""Signatures and chains over a real signed archive: each kind of tampering named exactly (kind,
point, seq of its first sample, day and record), nothing named for an intact month."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from pantau.collector.archive import keys as keyring
from pantau.collector.archive import scan
from pantau.collector.archive.chains import ChainReport, Finding, check_chains
from pantau.shared.errors import ConfigError
from tests.evidence_fixtures import (
    POINTS,
    Agent,
    Month,
    build_month,
    flip_payload_byte,
    keys_json,
    messages,
    write_keys,
)

DAY1, DAY2 = "2026-09-09", "2026-09-10"


def check(month: Month, keys_file: Path | None = None, **kwargs: object) -> ChainReport:
    ring = keyring.load_keys(keys_file or month.keys_file)
    return check_chains(scan.scan(month.archive, month.days), ring, **kwargs)  # type: ignore[arg-type]


def test_an_intact_month_has_no_finding(tmp_path: Path) -> None:
    month = build_month(tmp_path)
    report = check(month)
    assert report.findings == []
    assert dict(report.messages) == {p: 361 for p in POINTS}  # 360 minutes and one test
    assert sum(report.redelivered.values()) == 0


def test_a_flipped_byte_names_that_message(tmp_path: Path) -> None:
    month = build_month(tmp_path)
    # record 30 of the first day: minute 10 of cit-01 (three points a minute, no event yet)
    flip_payload_byte(month, DAY1, 30)
    assert check(month).findings == [
        Finding(
            DAY1, 30, "bad_signature", "cit-01", "seq 1010",
            f"the signature of key {month.agents['cit-01'].key_id} does not match",
        )
    ]  # fmt: skip


def test_a_flipped_byte_without_its_checksum_is_damage_too(tmp_path: Path) -> None:
    month = build_month(tmp_path)
    flip_payload_byte(month, DAY1, 30, fix_checksum=False)
    assert [(f.kind, f.point, f.what, f.index) for f in check(month).findings] == [
        ("bad_signature", "cit-01", "seq 1010", 30),
        ("damaged", "cit-01", "seq 1010", 30),
    ]


def test_a_deleted_message_is_a_gap_at_the_next(tmp_path: Path) -> None:
    agents = {p: Agent(p) for p in POINTS}
    records = messages(agents)
    gone = records.pop(31)  # cit-02, minute 10
    assert gone.topic == "pantau/v1/cit-02/telemetry"
    month = build_month(tmp_path, records, agents)
    assert check(month).findings == [
        Finding(
            DAY1, 33, "gap", "cit-02", "seq 1011",
            "follows a message the archive does not hold (missing before it)",
        )
    ]  # fmt: skip


def test_a_replayed_old_message_is_named_and_a_redelivery_is_not(tmp_path: Path) -> None:
    agents = {p: Agent(p) for p in POINTS}
    records = messages(agents)
    old = records[30]  # cit-01, minute 10
    redelivered = replace(records[-3], received_ms=records[-3].received_ms + 60_000)
    replayed = replace(old, received_ms=records[-1].received_ms + 1000)
    month = build_month(tmp_path, [*records, redelivered, replayed], agents)
    report = check(month)
    assert [str(f) for f in report.findings] == [
        f"replay: point cit-01, seq 1010, {DAY2} record 541: the same"
        f" message as {DAY1} record 30, again 5.8 h later"
    ]
    assert dict(report.redelivered) == {"cit-01": 1}


def test_a_message_archived_before_the_one_it_follows_is_no_break(tmp_path: Path) -> None:
    """Chains are followed by their links: with several workers on one subscription the order
    messages were archived in says nothing, so a swap is not a finding; the chain is whole."""
    agents = {p: Agent(p) for p in POINTS}
    records = messages(agents)
    records[30], records[33] = records[33], records[30]  # cit-01 minute 11 before minute 10
    month = build_month(tmp_path, records, agents)
    report = check(month)
    assert report.findings == []
    assert report.heads["cit-01"] == agents["cit-01"].prev  # followed to its last message


def test_a_revoked_keys_later_messages_are_refused(tmp_path: Path) -> None:
    month = build_month(tmp_path)
    revoked_at = month.records[300].received_ms  # minute 100 of cit-01
    data = keys_json(month.agents, month.collector_key, revoked={"cit-02": revoked_at})
    report = check(month, write_keys(tmp_path / "revoked.json", data))
    refused = [f for f in report.findings if f.kind == "revoked_key"]
    assert {f.point for f in report.findings} == {"cit-02"}
    assert (refused[0].what, len(refused)) == ("seq 1100", 361 - 100)
    assert [f for f in report.findings if f.kind != "revoked_key"] == []


def test_another_points_key_and_an_unknown_key_are_refused(tmp_path: Path) -> None:
    agents = {p: Agent(p) for p in POINTS}
    agents["cit-02"].key = agents["cit-01"].key  # cit-02 signs with cit-01's key
    records = messages(agents)
    issued = {"cit-01": agents["cit-01"], "cit-03": agents["cit-03"]}
    month = build_month(tmp_path, records, agents=issued)
    kinds = {(f.kind, f.point) for f in check(month).findings}
    assert kinds == {("wrong_key", "cit-02")}


def test_unsigned_messages_pass_only_in_grace_mode(tmp_path: Path) -> None:
    agents = {p: Agent(p) for p in POINTS}
    records = [replace(r, properties={}) if "cit-03" in r.topic else r for r in messages(agents)]
    month = build_month(tmp_path, records, agents)
    assert {(f.kind, f.point) for f in check(month).findings} == {("unsigned", "cit-03")}
    graced = check(month, unsigned_points=frozenset({"cit-03"}))
    assert (graced.findings, dict(graced.unsigned)) == ([], {"cit-03": 361})


def test_a_keys_file_that_is_not_one_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text('{"version": 2}')
    with pytest.raises(ConfigError, match=r"keys.json: not a signing-keys.json \(version 1"):
        keyring.load_keys(path)
    with pytest.raises(ConfigError, match="no such keys file"):
        keyring.load_keys(tmp_path / "absent.json")
