"""Daily checkpoints over a real archive: exact signed JSON, the chain, and the first bad day
named for an altered message, a removed message, a removed day and a forged checkpoint."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pantau.collector.archive import checkpoint as cp
from pantau.collector.archive import segments
from pantau.collector.archive.checkpoint import (
    Checkpoint,
    CheckpointError,
    CheckpointStore,
    Failure,
)
from pantau.collector.archive.segments import ArchiveWriter, Record

# RFC 8032 TEST 2's seed: deterministic signatures, so the JSON below is exact.
KEY = Ed25519PrivateKey.from_private_bytes(
    bytes.fromhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
)
KEYS = {"39f713d0a644253f": KEY.public_key()}
T0 = 1_790_035_200_000  # 2026-09-22T00:00:00Z
DAY_MS = 86_400_000
TOPIC = "pantau/v1/cit-01/telemetry"
DAY1 = (
    b'{"day":"2026-09-22","kind":"pantau-checkpoint/1",'
    b'"prev":"0000000000000000000000000000000000000000000000000000000000000000",'
    b'"root":"a749c8f277feb1e72d511709f572e8539264bcacc96b94a54d1365092581caad",'
    b'"signature":"ljNzmU1ssqwtTE++XAp2YWYYGVmKFZov8ep6MNaI5s+++dzjieNYNaX71FFl41IDVCq5MwORD9pjS4/VXQbJDg==",'
    b'"signer":"39f713d0a644253f","tree_size":3}'
)
DAY1_HASH = "701e0f36f844e4890dddb376395f2451dc1cf84358b6178ea06f8d54a257ed56"
DAYS = ["2026-09-22", "2026-09-23", "2026-09-24", "2026-09-25"]


def message(day: int, i: int) -> Record:
    return Record(T0 + day * DAY_MS + i * 10_000, TOPIC, b'{"seq":%d}' % (day * 100 + i))


def build(tmp_path: Path, per_day: tuple[int, ...] = (3, 3, 0, 2)) -> tuple[Path, CheckpointStore]:
    archive = tmp_path / "archive"
    with ArchiveWriter(archive) as writer:
        for day, count in enumerate(per_day):
            writer.append_many([message(day, i) for i in range(count)])
    store = CheckpointStore(tmp_path / "checkpoints")
    for day in DAYS[: len(per_day)]:
        store.checkpoint_day(archive, day, KEY)
    return archive, store


def rewrite_segment(archive: Path, day: str, records: list[Record]) -> None:
    """What someone with write access to the disk could do: a well-formed, different day."""
    path = segments.segment_path(archive, day)
    path.write_bytes(segments.FILE_MAGIC + b"".join(segments.frame(r.encode()) for r in records))


def test_a_checkpoint_is_exact_canonical_signed_json(tmp_path: Path) -> None:
    archive, store = build(tmp_path, (3,))
    (first,) = store.all()
    assert first.to_json() == DAY1
    assert first.hash() == DAY1_HASH == hashlib.sha256(DAY1).hexdigest()
    assert store.path("2026-09-22").read_bytes() == DAY1 + b"\n"
    leaves = [hashlib.sha256(b"\x00" + message(0, i).encode()).digest() for i in range(3)]
    left = hashlib.sha256(b"\x01" + leaves[0] + leaves[1]).digest()
    root = hashlib.sha256(b"\x01" + left + leaves[2]).digest()
    assert first.root == root.hex()
    assert cp.tree_head(archive, "2026-09-22") == (3, root)
    assert Checkpoint.from_json(DAY1 + b"\n") == first


def test_days_chain_and_verify(tmp_path: Path) -> None:
    archive, store = build(tmp_path)
    checkpoints = store.all()
    assert [c.day for c in checkpoints] == DAYS
    assert [c.tree_size for c in checkpoints] == [3, 3, 0, 2]
    assert checkpoints[2].root == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert [c.prev for c in checkpoints[1:]] == [c.hash() for c in checkpoints[:-1]]
    assert cp.verify(checkpoints, KEYS, archive) is None
    assert cp.verify_chain(checkpoints, KEYS) is None
    assert cp.verify_against_archive(checkpoints, archive) is None
    # A month handed over alone verifies from the checkpoint just before it.
    assert cp.verify(checkpoints[2:], KEYS, archive, after=checkpoints[1]) is None
    assert cp.verify(checkpoints[2:], KEYS, archive) == Failure(
        "2026-09-24", f"prev {checkpoints[1].hash()[:16]}... does not name the chain's start"
    )


def test_an_altered_message_names_its_day(tmp_path: Path) -> None:
    archive, store = build(tmp_path)
    day2 = [message(1, i) for i in range(3)]
    day2[1] = Record(day2[1].received_ms, TOPIC, b'{"seq":999}')
    rewrite_segment(archive, "2026-09-23", day2)
    failure = cp.verify(store.all(), KEYS, archive)
    assert failure == Failure("2026-09-23", "archive's Merkle root differs from the checkpoint's")
    assert cp.verify_chain(store.all(), KEYS) is None  # the checkpoints themselves are intact


def test_a_flipped_byte_names_its_day_and_offset(tmp_path: Path) -> None:
    archive, store = build(tmp_path)
    path = segments.segment_path(archive, "2026-09-25")
    data = bytearray(path.read_bytes())
    data[-10] ^= 0x20
    path.write_bytes(bytes(data))
    failure = cp.verify(store.all(), KEYS, archive)
    assert failure is not None and failure.day == "2026-09-25"
    assert failure.reason.startswith("archive unreadable: ")
    # the second record: 17 bytes of file header + the first record (12 of framing + 54 of body)
    assert failure.reason.endswith("2026-09-25.seg: offset 83: checksum mismatch")


def test_a_removed_message_or_segment_names_its_day(tmp_path: Path) -> None:
    archive, store = build(tmp_path)
    rewrite_segment(archive, "2026-09-22", [message(0, 0), message(0, 2)])
    assert cp.verify(store.all(), KEYS, archive) == Failure(
        "2026-09-22", "archive holds 2 messages, checkpoint says 3"
    )
    archive, store = build(tmp_path / "again")
    segments.segment_path(archive, "2026-09-25").unlink()
    assert cp.verify(store.all(), KEYS, archive) == Failure(
        "2026-09-25", "archive holds 0 messages, checkpoint says 2"
    )


def test_a_removed_day_is_named(tmp_path: Path) -> None:
    archive, store = build(tmp_path)
    store.path("2026-09-23").unlink()
    segments.segment_path(archive, "2026-09-23").unlink()
    assert cp.verify(store.all(), KEYS, archive) == Failure(
        "2026-09-23", "no checkpoint (the chain goes from 2026-09-22 to 2026-09-24)"
    )


def test_a_forged_checkpoint_is_named(tmp_path: Path) -> None:
    _, store = build(tmp_path)
    checkpoints = store.all()
    # Changed without the key: the signature no longer holds.
    changed = Checkpoint(**{**checkpoints[1].__dict__, "tree_size": 2})
    assert cp.verify_chain([checkpoints[0], changed, *checkpoints[2:]], KEYS) == Failure(
        "2026-09-23", "bad signature"
    )
    # Re-signed by another key.
    other = Ed25519PrivateKey.generate()
    forged = cp.make_checkpoint("2026-09-23", 2, bytes(32), checkpoints[0], other)
    failure = cp.verify_chain([checkpoints[0], forged, *checkpoints[2:]], KEYS)
    assert failure == Failure("2026-09-23", f"signed by an unknown key {forged.signer!r}")
    # Re-signed with the collector's own key: the next day's link breaks.
    resigned = cp.make_checkpoint("2026-09-23", 2, bytes(32), checkpoints[0], KEY)
    failure = cp.verify_chain([checkpoints[0], resigned, *checkpoints[2:]], KEYS)
    assert failure == Failure(
        "2026-09-24",
        f"prev {checkpoints[2].prev[:16]}... does not name the checkpoint of 2026-09-23",
    )
    garbled = Checkpoint(**{**checkpoints[0].__dict__, "signature": "not base64!"})
    assert cp.verify_chain([garbled], KEYS) == Failure("2026-09-22", "signature is not base64")


def test_out_of_order_days_are_named(tmp_path: Path) -> None:
    _, store = build(tmp_path)
    checkpoints = store.all()
    assert cp.verify_chain([checkpoints[0], checkpoints[0]], KEYS) == Failure(
        "2026-09-22", "out of order (follows 2026-09-22)"
    )
    with pytest.raises(CheckpointError, match="for 2026-09-27 cannot follow the one for 2026-09"):
        cp.make_checkpoint("2026-09-27", 0, bytes(32), checkpoints[-1], KEY)
    with pytest.raises(CheckpointError, match=r"^'2026-9-1' is not a day \(YYYY-MM-DD\)$"):
        cp.make_checkpoint("2026-9-1", 0, bytes(32), None, KEY)


def test_a_checkpoint_is_written_once(tmp_path: Path) -> None:
    archive, store = build(tmp_path, (3,))
    with pytest.raises(CheckpointError, match=r"2026-09-22.checkpoint.json: the checkpoint of"):
        store.write(store.all()[0])
    with pytest.raises(CheckpointError, match="cannot follow the one for 2026-09-22"):
        store.checkpoint_day(archive, "2026-09-22", KEY)
    assert store.path("2026-09-22").read_bytes() == DAY1 + b"\n"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"{", "not JSON"),
        (DAY1.replace(b',"tree_size":3', b""), "fields are not day, kind"),
        (DAY1.replace(b'"tree_size":3', b'"tree_size":"3"'), "tree_size is not an integer"),
        (DAY1.replace(b"pantau-checkpoint/1", b"other/1"), "kind 'other/1' is not"),
        (DAY1.replace(b"{", b"{ ", 1), "not in canonical form"),
    ],
)
def test_a_damaged_checkpoint_file_is_one_line(tmp_path: Path, content: bytes, reason: str) -> None:
    store = CheckpointStore(tmp_path)
    store.path("2026-09-22").parent.mkdir(parents=True)
    store.path("2026-09-22").write_bytes(content)
    with pytest.raises(CheckpointError, match=r"2026-09-22.checkpoint.json: damaged checkpoint"):
        store.load("2026-09-22")
    with pytest.raises(CheckpointError, match=reason):
        store.all()
    with pytest.raises(CheckpointError, match=r"2026-09-23.checkpoint.json: no checkpoint for"):
        store.load("2026-09-23")
