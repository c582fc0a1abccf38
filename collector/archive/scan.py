"""Reading an archive to judge it: every record with its day, leaf index and offset, and damage
named instead of raised.

`segments.read_bodies` stops at the first bad record, which is right for the writer; a verifier
wants to go on and name each damaged message (its topic and seq when the body still decodes), so
one flipped byte is one finding, not the end of the check. A record whose checksum fails but
whose frame is intact is yielded with its problem; a broken frame is skipped up to the next valid
record.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from pantau.collector.archive import segments
from pantau.collector.archive.segments import Record

_HEAD = segments._FRAME  # marker, body length
_CRC = segments._CRC


@dataclass(frozen=True)
class Entry:
    """One archived record as found on disk."""

    day: str
    index: int  # its leaf in the day's Merkle tree (records before it, damaged ones included)
    offset: int
    body: bytes
    record: Record | None  # None when the body does not decode
    problem: str | None = None  # checksum mismatch, malformed body, unreadable bytes
    archive: str = ""  # which archive, when there are several (collector workers, hosts)

    def where(self) -> str:
        name = f"{self.archive} " if self.archive else ""
        return f"{name}{self.day} record {self.index} (offset {self.offset})"


def month_days(archive_dir: Path, first_day: str, last_day: str) -> list[str]:
    """The days with a segment between two days, both included."""
    return [d for d in segments.days(archive_dir) if first_day <= d <= last_day]


def scan_day(archive_dir: Path, day: str, name: str = "") -> Iterator[Entry]:
    """A day's entries of one archive; `name` is how findings name the archive."""
    path = segments.segment_path(archive_dir, day)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    if not data.startswith(segments.FILE_MAGIC):
        problem = "not a Pantau archive segment (bad file header)"
        yield Entry(day, 0, 0, b"", None, problem, name)
        return
    offset, index = len(segments.FILE_MAGIC), 0
    while offset < len(data):
        entry, end = _entry(data, offset, day, index)
        yield replace(entry, archive=name) if name else entry
        if end is None:  # a broken frame: on to the next record that holds, or the end
            nxt = _next_valid(data, offset + 1)
            if nxt is None:
                return
            offset = nxt
        else:
            offset = end
        index += 1


def scan(archive_dir: Path, days: Iterable[str]) -> Iterator[Entry]:
    for day in days:
        yield from scan_day(archive_dir, day)


def _entry(data: bytes, offset: int, day: str, index: int) -> tuple[Entry, int | None]:
    if len(data) - offset < _HEAD.size + _CRC.size:
        return Entry(day, index, offset, b"", None, "torn record at the end of the file"), None
    marker, length = _HEAD.unpack_from(data, offset)
    end = offset + _HEAD.size + length + _CRC.size
    if marker != segments.RECORD_MAGIC or length > segments.MAX_BODY_BYTES or end > len(data):
        return Entry(day, index, offset, b"", None, "unreadable bytes (no record frame)"), None
    body = data[offset + _HEAD.size : end - _CRC.size]
    problem = None
    if zlib.crc32(body, zlib.crc32(data[offset + 4 : offset + _HEAD.size])) != int.from_bytes(
        data[end - _CRC.size : end], "big"
    ):
        problem = "checksum mismatch (the record's bytes were changed)"
    try:
        record: Record | None = Record.decode(body)
    except (ValueError, UnicodeDecodeError) as exc:
        record, problem = None, problem or f"malformed record body: {exc}"
    return Entry(day, index, offset, body, record, problem), end


def _next_valid(data: bytes, start: int) -> int | None:
    at = data.find(segments.RECORD_MAGIC, start)
    while at >= 0:
        if not isinstance(segments._record_end(data, at), str):
            return at
        at = data.find(segments.RECORD_MAGIC, at + 1)
    return None
