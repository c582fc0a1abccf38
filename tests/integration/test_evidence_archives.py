"""`pantau evidence` over a set of archives (the fixture month split over two workers'
archives): verify names each archive's checkpoints and finds every chain whole; prove finds a
minute's message in whichever archive holds it, with that archive's checkpoint; checkpoint
signs every archive's days, each chained on its own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pantau.collector.archive import merkle, signing
from pantau.collector.archive.checkpoint import Checkpoint, CheckpointStore
from pantau.shared.cli import main
from tests.evidence_fixtures import MONTH, POINTS, Agent, build_split, messages

DAY1, DAY2 = "2026-09-09", "2026-09-10"


def evidence(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str], str]:
    code = main(["evidence", *args])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def test_verify_and_prove_over_two_workers_archives(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    agents = {p: Agent(p) for p in POINTS}
    m = build_split(tmp_path, messages(agents), agents)
    args = ["--archive", str(m.archive), "--keys", str(m.keys_file)]
    code, out, _ = evidence(capsys, "verify", "--month", MONTH, *args)
    assert code == 0, out
    assert out[0] == (
        "signatures and chains: 1083 signed message(s) of 3 point(s), 2026-08-31 to 2026-09-30"
        " and after: all valid"
    )
    for line, name in zip(out[1:], ("worker-1", "worker-2"), strict=True):
        root = CheckpointStore(m.archive / name).load(DAY2).root
        assert line.startswith(f"checkpoints of {name}: 2 day(s), {DAY1} to {DAY2}: chained,")
        assert f"(last root {root}, " in line

    # minute 165 of cit-02 (one message), wherever the broker put it
    at = "2026-09-10T06:45:20+07:00"
    code, out, err = evidence(capsys, "prove", "--point", "cit-02", "--at", at, *args)
    assert (code, err) == (0, "")
    proof = json.loads("\n".join(out))
    [message] = proof["messages"]
    assert [s["seq"] for s in message["samples"]] == [1165]
    assert message["checkpoint"] == f"{message['archive']}/{message['day']}"
    signed = proof["checkpoints"][message["checkpoint"]]
    checkpoint = Checkpoint.from_json(json.dumps(signed, separators=(",", ":")).encode())
    assert checkpoint == CheckpointStore(m.archive / message["archive"]).load(message["day"])
    assert merkle.verify_inclusion(
        message["leaf_index"],
        checkpoint.tree_size,
        merkle.leaf_hash(bytes.fromhex(message["record"])),
        [bytes.fromhex(h) for h in message["proof"]],
        bytes.fromhex(checkpoint.root),
    )


def test_checkpoint_signs_every_archives_days(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    agents = {p: Agent(p) for p in POINTS}
    m = build_split(tmp_path, messages(agents), agents)
    for name in ("worker-1", "worker-2"):  # as written, before any day was closed
        for path in (m.archive / name).glob("*/*.checkpoint.json"):
            path.unlink()
    key = tmp_path / "collector-signing.key"
    signing.save_private_key(key, m.collector_key)
    args = ["--archive", str(m.archive / "worker-1"), "--archive", str(m.archive / "worker-2")]
    args += ["--keys", str(m.keys_file), "--key", str(key)]
    code, out, _ = evidence(capsys, "checkpoint", "--through", DAY2, *args)
    assert code == 0, out
    assert [line.split(" message(s)")[0] for line in out] == [
        f"worker-1: {DAY1}: 272",
        f"worker-1: {DAY2}: 270",
        f"worker-2: {DAY1}: 271",
        f"worker-2: {DAY2}: 270",
    ]
    for name in ("worker-1", "worker-2"):
        first, second = CheckpointStore(m.archive / name).all()
        assert second.prev == first.hash()
    code, out, _ = evidence(capsys, "verify", "--month", MONTH, *args[:-2])
    assert code == 0, out
