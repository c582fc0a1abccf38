"""The append-only archive on a real filesystem: framing, order, days, fsync, torn tails,
damage, the writer's lock, and a writer killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from pantau.collector.archive import segments
from pantau.collector.archive.segments import (
    FILE_MAGIC,
    ArchiveError,
    ArchiveWriter,
    CorruptSegmentError,
    Location,
    Record,
)

DAY_MS = 86_400_000
T0 = 1_790_035_200_000  # 2026-09-22T00:00:00Z
TOPIC = "pantau/v1/cit-01/telemetry"


def record(i: int, at_ms: int = T0, size: int = 40) -> Record:
    payload = (b'{"v":1,"point":"cit-01","seq":%d,"pad":"' % i).ljust(size, b"x") + b'"}'
    return Record(at_ms + i * 10_000, TOPIC, payload, {"key_id": "21fe31dfa154a261"})


def o_append(fd: int) -> bool:
    flags = next(
        line
        for line in Path(f"/proc/self/fdinfo/{fd}").read_text().splitlines()
        if line.startswith("flags:")
    )
    return bool(int(flags.split()[1], 8) & os.O_APPEND)


def test_a_record_body_is_the_documented_layout() -> None:
    rec = Record(T0, TOPIC, b'{"v":1}', {"sig": "AA==", "key_id": "ab"})
    expected = (
        b"\x01"  # version
        + T0.to_bytes(8, "big")
        + len(TOPIC).to_bytes(2, "big")
        + TOPIC.encode()
        + b"\x00\x02"  # two properties, sorted by name
        + b"\x00\x06key_id"
        + b"\x00\x00\x00\x02ab"
        + b"\x00\x03sig"
        + b"\x00\x00\x00\x04AA=="
        + b"\x00\x00\x00\x07"
        + b'{"v":1}'
    )
    assert rec.encode() == expected
    assert Record.decode(expected) == rec
    framed = segments.frame(expected)
    length = len(expected).to_bytes(4, "big")
    crc = zlib.crc32(length + expected).to_bytes(4, "big")
    assert framed == b"\x1ePNT" + length + expected + crc
    assert rec.day == "2026-09-22"


@pytest.mark.parametrize(
    ("rec", "message"),
    [
        (Record(-1, TOPIC, b""), "received_ms -1 is out of range"),
        (Record(T0, "t" * 65_536, b""), "topic of 65536 bytes is too long"),
        (Record(T0, TOPIC, b"", {"k" * 65_536: ""}), "property name of 65536 bytes is too long"),
        (Record(T0, TOPIC, b"x" * segments.MAX_BODY_BYTES), "is too large"),
    ],
)
def test_records_that_cannot_be_framed_are_refused(rec: Record, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rec.encode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\x01" + bytes(8), "record body of 9 bytes is too short"),
        (b"\x02" + bytes(16), "record version 2 is not 1"),
        (Record(T0, TOPIC, b"abc").encode()[:-1], "record body ends inside a field"),
        (Record(T0, TOPIC, b"abc").encode() + b"!", "1 bytes after the payload"),
    ],
)
def test_a_malformed_body_is_named(body: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Record.decode(body)


def test_appended_records_read_back_in_order(tmp_path: Path) -> None:
    records = [record(i) for i in range(5)]
    with ArchiveWriter(tmp_path) as writer:
        first = writer.append(records[0])
        rest = writer.append_many(records[1:])
    sizes = [len(segments.frame(r.encode())) for r in records]
    offsets = [len(FILE_MAGIC) + sum(sizes[:i]) for i in range(5)]
    assert [first, *rest] == [Location("2026-09-22", i, offsets[i]) for i in range(5)]
    path = tmp_path / "2026-09" / "2026-09-22.seg"
    assert path.stat().st_size == len(FILE_MAGIC) + sum(sizes)
    assert list(segments.read_day(tmp_path, "2026-09-22")) == records
    assert [o for o, _ in segments.read_bodies(path)] == offsets
    assert segments.days(tmp_path) == ["2026-09-22"]


def test_a_reopened_archive_continues_the_day(tmp_path: Path) -> None:
    with ArchiveWriter(tmp_path) as writer:
        writer.append_many([record(0), record(1)])
    path = tmp_path / "2026-09" / "2026-09-22.seg"
    before, inode = path.read_bytes(), path.stat().st_ino
    with ArchiveWriter(tmp_path) as writer:
        (loc,) = writer.append_many([record(2)])
        assert writer.repaired == []
    assert (loc.index, loc.offset) == (2, len(before))
    after = path.read_bytes()
    assert after.startswith(before) and path.stat().st_ino == inode  # appended, never rewritten
    assert [r.payload for r in segments.read_day(tmp_path, "2026-09-22")] == [
        record(i).payload for i in range(3)
    ]


def test_the_utc_day_decides_the_segment(tmp_path: Path) -> None:
    late = Record(T0 - 1, TOPIC, b"late")  # 2026-09-21T23:59:59.999Z
    early = Record(T0, TOPIC, b"early")
    month_end = Record(T0 + 9 * DAY_MS, TOPIC, b"october")
    with ArchiveWriter(tmp_path) as writer:
        locations = writer.append_many([late, early, month_end, Record(T0 + 5, TOPIC, b"2nd")])
    assert [(loc.day, loc.index) for loc in locations] == [
        ("2026-09-21", 0),
        ("2026-09-22", 0),
        ("2026-10-01", 0),
        ("2026-09-22", 1),
    ]
    assert segments.days(tmp_path) == ["2026-09-21", "2026-09-22", "2026-10-01"]
    assert (tmp_path / "2026-10" / "2026-10-01.seg").exists()
    assert [r.payload for r in segments.read_day(tmp_path, "2026-09-22")] == [b"early", b"2nd"]


def test_one_fdatasync_per_batch_and_day_and_files_are_o_append(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real = os.fdatasync

    def counting(fd: int) -> None:
        synced.append(fd)
        real(fd)

    with ArchiveWriter(tmp_path) as writer:
        writer.append(record(0))  # opens the day's segment
        monkeypatch.setattr(os, "fdatasync", counting)
        writer.append_many([record(i) for i in range(1, 101)])
        assert len(synced) == 1
        writer.append(record(101))
        assert len(synced) == 2
        writer.append_many([record(0, T0 + DAY_MS), record(102), record(1, T0 + DAY_MS)])
        assert len(synced) == 4  # one per day
        assert all(o_append(s.fd) for s in writer._open.values())
    assert len(list(segments.read_day(tmp_path, "2026-09-22"))) == 103


@pytest.mark.parametrize(
    ("cut", "label"),
    [
        (3, "header"),
        (7, "header"),
        (30, "body"),
        (-1, "last byte of the checksum"),
    ],
)
def test_a_torn_last_record_is_cut_on_open(tmp_path: Path, cut: int, label: str) -> None:
    with ArchiveWriter(tmp_path) as writer:
        writer.append_many([record(0), record(1)])
    path = tmp_path / "2026-09" / "2026-09-22.seg"
    good = path.stat().st_size
    torn = segments.frame(record(2).encode())[:cut]
    with open(path, "ab") as handle:  # what a crash in the middle of a write leaves
        handle.write(torn)
    with pytest.raises(CorruptSegmentError, match=r"2026-09-22.seg: offset \d+: torn record"):
        list(segments.read_day(tmp_path, "2026-09-22"))
    assert len(list(segments.read_day(tmp_path, "2026-09-22", partial_tail_ok=True))) == 2
    with ArchiveWriter(tmp_path) as writer:
        (loc,) = writer.append_many([record(3)])
        assert writer.repaired == [(path, len(torn))]
    assert (loc.index, loc.offset) == (2, good)
    assert [r.payload for r in segments.read_day(tmp_path, "2026-09-22")] == [
        record(0).payload,
        record(1).payload,
        record(3).payload,
    ]


def test_a_full_length_tail_of_zeros_is_cut_too(tmp_path: Path) -> None:
    """A crash can leave the file longer with zeros where the data never landed."""
    with ArchiveWriter(tmp_path) as writer:
        writer.append(record(0))
    path = tmp_path / "2026-09" / "2026-09-22.seg"
    good = path.read_bytes()
    framed = segments.frame(record(1).encode())
    with open(path, "ab") as handle:
        handle.write(framed[:8] + bytes(len(framed) - 8))  # header landed, body did not
    with pytest.raises(CorruptSegmentError, match="checksum mismatch"):
        list(segments.read_day(tmp_path, "2026-09-22"))
    with ArchiveWriter(tmp_path) as writer:
        writer.append(record(2))
        assert writer.repaired == [(path, len(framed))]
    assert path.read_bytes() == good + segments.frame(record(2).encode())


def test_a_crash_while_a_segment_was_created_leaves_a_usable_day(tmp_path: Path) -> None:
    path = tmp_path / "2026-09" / "2026-09-22.seg"
    path.parent.mkdir(parents=True)
    path.write_bytes(FILE_MAGIC[:5])
    assert list(segments.read_day(tmp_path, "2026-09-22", partial_tail_ok=True)) == []
    with ArchiveWriter(tmp_path) as writer:
        assert writer.append(record(0)) == Location("2026-09-22", 0, len(FILE_MAGIC))
        assert writer.repaired == [(path, 5)]
    assert list(segments.read_day(tmp_path, "2026-09-22")) == [record(0)]


def test_damage_before_the_tail_is_named_and_never_cut(tmp_path: Path) -> None:
    with ArchiveWriter(tmp_path) as writer:
        locations = writer.append_many([record(i) for i in range(4)])
    path = tmp_path / "2026-09" / "2026-09-22.seg"
    data = bytearray(path.read_bytes())
    data[locations[1].offset + 30] ^= 0x01  # one bit of the second record's body
    path.write_bytes(bytes(data))
    message = rf"2026-09-22.seg: offset {locations[1].offset}: checksum mismatch$"
    with pytest.raises(CorruptSegmentError, match=message):
        list(segments.read_day(tmp_path, "2026-09-22"))
    with pytest.raises(CorruptSegmentError, match=message):
        list(segments.read_day(tmp_path, "2026-09-22", partial_tail_ok=True))
    with ArchiveWriter(tmp_path) as writer, pytest.raises(CorruptSegmentError, match=message):
        writer.append(record(9))
    assert path.read_bytes() == bytes(data)  # nothing cut, nothing added


def test_a_file_that_is_not_a_segment_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "2026-09" / "2026-09-22.seg"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"something else entirely\n")
    with (
        ArchiveWriter(tmp_path) as writer,
        pytest.raises(CorruptSegmentError, match=r"offset 0: not a Pantau archive segment"),
    ):
        writer.append(record(0))
    assert path.read_bytes() == b"something else entirely\n"
    with pytest.raises(ArchiveError, match=r"2026-09-23.seg: no such segment$"):
        list(segments.read_day(tmp_path, "2026-09-23"))
    with pytest.raises(ArchiveError, match=r"^'22-09-2026' is not a day \(YYYY-MM-DD\)$"):
        segments.segment_path(tmp_path, "22-09-2026")


def test_one_writer_per_archive(tmp_path: Path) -> None:
    with (
        ArchiveWriter(tmp_path),
        pytest.raises(ArchiveError, match=r"another process is writing this archive$"),
    ):
        ArchiveWriter(tmp_path)
    with ArchiveWriter(tmp_path) as writer:  # released on close
        writer.append(record(0))


WRITER = """
import sys
from pantau.collector.archive.segments import ArchiveWriter, Record
writer = ArchiveWriter(sys.argv[1])
i = 0
while True:
    batch = [Record(1_790_035_200_000 + i * 10 + j, "t", b"p%d" % (i + j)) for j in range(3)]
    writer.append_many(batch)
    print(i + 2, flush=True)  # acknowledged up to this index
    i += 3
"""


def test_everything_acknowledged_before_a_sigkill_is_there(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    acknowledged = -1
    while acknowledged < 300:
        line = child.stdout.readline()
        assert line, "the writer stopped"
        acknowledged = int(line)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    for line in child.stdout:
        acknowledged = int(line)
    with ArchiveWriter(tmp_path) as writer:
        loc = writer.append(Record(T0 + DAY_MS - 1, "t", b"after"))
    payloads = [r.payload for r in segments.read_day(tmp_path, "2026-09-22")]
    assert payloads[-1] == b"after" and loc.index == len(payloads) - 1
    assert payloads[: acknowledged + 1] == [b"p%d" % i for i in range(acknowledged + 1)]
