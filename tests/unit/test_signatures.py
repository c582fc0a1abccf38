"""What the collector lets in of a signed message, decided before anything is stored."""

from __future__ import annotations

import os
from pathlib import Path

from pantau.collector.archive import signing
from pantau.collector.signatures import Refusal, Verifier, mark_unsigned, read_seal
from tests.evidence_fixtures import Agent, keys_json, write_keys

NOW_MS = 1_790_000_000_000


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_each_seal_gets_its_verdict_and_only_unknowns_are_kept(tmp_path: Path) -> None:
    one, two = Agent("cit-01"), Agent("cit-02")
    keys = write_keys(tmp_path / "keys.json", keys_json({"cit-01": one}, signing.generate()))
    verifier = Verifier(keys, frozenset({"cit-09"}), chain_check=True)
    good = b'{"v":2}'
    assert verifier.check("cit-01", good, one.sign(good), NOW_MS) is not None
    forged = one.sign(b"other bytes")
    refused = verifier.check("cit-01", good, forged, NOW_MS)
    assert isinstance(refused, Refusal) and refused.reason == "bad_signature" and not refused.kept
    foreign = verifier.check("cit-02", good, one.sign(good), NOW_MS)
    assert isinstance(foreign, Refusal) and foreign.reason == "wrong_key" and not foreign.kept
    unknown = verifier.check("cit-02", good, two.sign(good), NOW_MS)
    assert isinstance(unknown, Refusal) and unknown.reason == "unknown_key" and unknown.kept
    unsigned = verifier.check("cit-01", good, {}, NOW_MS)
    assert isinstance(unsigned, Refusal) and unsigned.reason == "unsigned" and unsigned.kept
    assert verifier.check("cit-09", good, {}, NOW_MS) is None  # grace mode
    half = verifier.check("cit-01", good, {"k": one.key_id}, NOW_MS)
    assert isinstance(half, Refusal) and half.reason == "bad_seal"


def test_the_keys_file_is_read_again_when_it_changes(tmp_path: Path) -> None:
    one, two = Agent("cit-01"), Agent("cit-02")
    collector = signing.generate()
    keys = write_keys(tmp_path / "keys.json", keys_json({"cit-01": one}, collector))
    clock = Clock()
    verifier = Verifier(keys, frozenset(), chain_check=False, clock=clock)
    payload = b'{"v":2}'
    props = two.sign(payload)
    write_keys(keys, keys_json({"cit-01": one, "cit-02": two}, collector))
    os.utime(keys, ns=(1, 10**18))  # a new mtime, whatever the file system's resolution
    clock.now = 4.9  # not looked at again yet
    assert isinstance(verifier.check("cit-02", payload, props, NOW_MS), Refusal)
    clock.now = 5.0
    assert verifier.check("cit-02", payload, props, NOW_MS) is not None


def test_a_break_in_the_chain_is_named_and_a_redelivery_is_not() -> None:
    agent = Agent("cit-01")
    verifier = Verifier(None, frozenset(), chain_check=True)
    seals = []
    for n in range(4):
        payload = f'{{"n":{n}}}'.encode()
        props = agent.sign(payload)
        seal = read_seal(props, payload)
        assert seal is not None and not isinstance(seal, Refusal)
        seals.append(seal)
    assert verifier.follow("cit-01", seals[0]) is None
    assert verifier.follow("cit-01", seals[1]) is None
    assert verifier.follow("cit-01", seals[1]) is None  # the same message again
    broken = verifier.follow("cit-01", seals[3])  # the third never came
    assert broken is not None and "the latest was" in broken


def test_rows_of_an_unsigned_message_say_so() -> None:
    lines = ["telemetry,point=cit-01 rx_bps=1.0,seq=3i 1790000000000"]
    assert mark_unsigned(lines) == [
        "telemetry,point=cit-01 rx_bps=1.0,seq=3i,unsigned=true 1790000000000"
    ]
