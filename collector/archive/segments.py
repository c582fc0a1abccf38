"""The append-only archive: every raw message, byte for byte, in one segment file per UTC day.

The collector appends a message here and the call returns only after the bytes are on disk
(fdatasync), so a message it acknowledges afterwards survives a crash. Files are opened
O_APPEND and never rewritten; the one exception is the tail a crash can leave, a record whose
write never completed (and was therefore never acknowledged), which is cut off the next time
the file is opened for writing. Damage anywhere else is never "repaired": it is reported with
the file and offset, and the archive refuses to write to that day.

Layout: `<dir>/<YYYY-MM>/<YYYY-MM-DD>.seg`, one month per folder (what an auditor is handed).
A segment starts with `FILE_MAGIC`; then records, each framed as

    "\\x1ePNT" | u32 body length | body | u32 CRC-32 of (length, body)        (big endian)
    body = u8 version (1) | u64 received_ms | u16 topic length | topic (UTF-8)
         | u16 property count | per property, sorted by name: u16 name length | name
           | u32 value length | value | u32 payload length | payload

The body is the Merkle leaf of the day's tree: it covers when the message arrived, its topic,
its properties and its exact payload.

A signed message the collector refused for its content (a sample from the future, an invalid
event: its signature and key were good) is archived too, with one property the collector adds,
`REFUSED`, saying why: the point's chain runs through it, so leaving it out would look exactly
like a deleted record, and it is what the agent said. Replay stores nothing of it.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import mmap
import os
import struct
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pantau.shared.errors import PantauError

log = logging.getLogger(__name__)

FILE_MAGIC = b"PANTAU-ARCHIVE/1\n"
RECORD_MAGIC = b"\x1ePNT"
VERSION = 1
MAX_BODY_BYTES = 16 * 1024 * 1024
_FRAME = struct.Struct(">4sI")  # marker, body length
_CRC = struct.Struct(">I")
_FIXED = struct.Struct(">BQH")  # version, received_ms, topic length
_MIN_BODY = _FIXED.size + 2 + 4  # empty topic, no properties, empty payload
_OVERHEAD = _FRAME.size + _CRC.size
_OPEN_SEGMENTS = 2  # today and yesterday (a message received just before midnight)
# The property a refused message is archived with: "<reason>: <detail>". The collector keeps 16
# characters of a property name it receives (collector/service.py `user_properties`), so no
# message can carry this one itself.
REFUSED = "collector.refused"


class ArchiveError(PantauError):
    """The archive cannot be written or read as asked (locked, disk full, bad day name)."""


class CorruptSegmentError(ArchiveError):
    """A segment holds bytes that are not a valid record where one should be."""

    def __init__(self, path: Path, offset: int, reason: str) -> None:
        super().__init__(f"{path}: offset {offset}: {reason}")
        self.path = path
        self.offset = offset
        self.reason = reason


@dataclass(frozen=True)
class Record:
    """One message as the collector received it."""

    received_ms: int
    topic: str
    payload: bytes
    properties: Mapping[str, str] = field(default_factory=dict)

    @property
    def day(self) -> str:
        return day_of(self.received_ms)

    @property
    def refused(self) -> str | None:
        """Why the collector refused this message ("<reason>: <detail>"), None if it took it."""
        return self.properties.get(REFUSED)

    def encode(self) -> bytes:
        """The body (and Merkle leaf): the same record always gives the same bytes."""
        if not 0 <= self.received_ms < 2**63:
            raise ValueError(f"received_ms {self.received_ms} is out of range")
        topic = self.topic.encode("utf-8")
        if len(topic) > 0xFFFF:
            raise ValueError(f"topic of {len(topic)} bytes is too long (max 65535)")
        if len(self.properties) > 0xFFFF:
            raise ValueError(f"{len(self.properties)} properties are too many (max 65535)")
        parts = [_FIXED.pack(VERSION, self.received_ms, len(topic)), topic]
        parts.append(len(self.properties).to_bytes(2, "big"))
        for name in sorted(self.properties):
            key, value = name.encode("utf-8"), self.properties[name].encode("utf-8")
            if len(key) > 0xFFFF:
                raise ValueError(f"property name of {len(key)} bytes is too long (max 65535)")
            parts += [len(key).to_bytes(2, "big"), key, len(value).to_bytes(4, "big"), value]
        parts += [len(self.payload).to_bytes(4, "big"), bytes(self.payload)]
        body = b"".join(parts)
        if len(body) > MAX_BODY_BYTES:
            raise ValueError(f"record of {len(body)} bytes is too large (max {MAX_BODY_BYTES})")
        return body

    @classmethod
    def decode(cls, body: bytes | memoryview) -> Record:
        """Raises ValueError naming what is wrong with the body."""
        body = bytes(body)
        if len(body) < _MIN_BODY:
            raise ValueError(f"record body of {len(body)} bytes is too short")
        version, received_ms, topic_len = _FIXED.unpack_from(body)
        if version != VERSION:
            raise ValueError(f"record version {version} is not {VERSION}")
        at = _FIXED.size
        topic, at = _take(body, at, topic_len), at + topic_len
        count, at = int.from_bytes(_take(body, at, 2), "big"), at + 2
        properties: dict[str, str] = {}
        for _ in range(count):
            size, at = int.from_bytes(_take(body, at, 2), "big"), at + 2
            name, at = _take(body, at, size).decode("utf-8"), at + size
            size, at = int.from_bytes(_take(body, at, 4), "big"), at + 4
            properties[name], at = _take(body, at, size).decode("utf-8"), at + size
        if list(properties) != sorted(properties) or len(properties) != count:
            raise ValueError("record properties are not unique and sorted")
        size, at = int.from_bytes(_take(body, at, 4), "big"), at + 4
        payload, at = _take(body, at, size), at + size
        if at != len(body):
            raise ValueError(f"record body has {len(body) - at} bytes after the payload")
        return cls(received_ms, topic.decode("utf-8"), payload, properties)


@dataclass(frozen=True)
class Location:
    """Where a record landed: its day, its index in the day (its Merkle leaf) and offset."""

    day: str
    index: int
    offset: int


def day_of(received_ms: int) -> str:
    tm = time.gmtime(received_ms // 1000)
    return f"{tm.tm_year:04d}-{tm.tm_mon:02d}-{tm.tm_mday:02d}"


def segment_path(directory: Path, day: str) -> Path:
    if len(day) != 10 or not day[:4].isdigit() or day[4] != "-" or day[7] != "-":
        raise ArchiveError(f"{day!r} is not a day (YYYY-MM-DD)")
    return Path(directory) / day[:7] / f"{day}.seg"


def days(directory: Path) -> list[str]:
    """Every day that has a segment, oldest first."""
    return sorted(p.stem for p in Path(directory).glob("????-??/????-??-??.seg"))


def frame(body: bytes) -> bytes:
    head = _FRAME.pack(RECORD_MAGIC, len(body))
    return head + body + _CRC.pack(zlib.crc32(body, zlib.crc32(head[4:])))


def read_bodies(path: Path, partial_tail_ok: bool = False) -> Iterator[tuple[int, bytes]]:
    """(offset, body) of every record of one segment, in order. Raises CorruptSegmentError at the
    first bad one; with `partial_tail_ok` an incomplete last record (one being written right
    now, or left by a crash before repair) ends the reading instead."""
    with _mapped(path) as data:
        if partial_tail_ok and len(data) < len(FILE_MAGIC) and FILE_MAGIC.startswith(data[:]):
            return  # being created
        _check_file_magic(path, data)
        offset = len(FILE_MAGIC)
        while offset < len(data):
            end = _record_end(data, offset)
            if isinstance(end, str):
                if partial_tail_ok and not _valid_record_after(data, offset + 1):
                    return
                raise CorruptSegmentError(path, offset, end)
            yield offset, bytes(data[offset + _FRAME.size : end - _CRC.size])
            offset = end


def read_day(directory: Path, day: str, partial_tail_ok: bool = False) -> Iterator[Record]:
    path = segment_path(directory, day)
    for offset, body in read_bodies(path, partial_tail_ok):
        try:
            yield Record.decode(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CorruptSegmentError(path, offset, f"malformed record body: {exc}") from None


@dataclass
class _Segment:
    fd: int
    size: int
    count: int


class ArchiveWriter:
    """The one process that appends to an archive directory (an exclusive lock says so)."""

    def __init__(self, directory: str | Path) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = os.open(self.dir / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._lock)
            raise ArchiveError(f"{self.dir}: another process is writing this archive") from None
        self._open: dict[str, _Segment] = {}
        self.repaired: list[tuple[Path, int]] = []  # (segment, bytes cut off a torn tail)

    def __enter__(self) -> ArchiveWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def append(self, record: Record) -> Location:
        """On disk (fdatasync) when this returns."""
        return self.append_many([record])[0]

    def append_many(self, records: Iterable[Record]) -> list[Location]:
        """All on disk when this returns, with one fdatasync per day touched."""
        by_day: dict[str, list[bytes]] = {}
        order: list[tuple[str, int]] = []
        for record in records:
            bodies = by_day.setdefault(record.day, [])
            order.append((record.day, len(bodies)))
            bodies.append(frame(record.encode()))
        placed: dict[str, list[Location]] = {}
        for day, framed in by_day.items():
            placed[day] = self._write(day, framed)
        return [placed[day][i] for day, i in order]

    def close(self) -> None:
        for segment in self._open.values():
            os.close(segment.fd)
        self._open.clear()
        if self._lock >= 0:
            os.close(self._lock)  # releases the lock
            self._lock = -1

    # -- internals -----------------------------------------------------------------------------
    def _write(self, day: str, framed: list[bytes]) -> list[Location]:
        segment = self._segment(day)
        locations = []
        offset, count = segment.size, segment.count
        for item in framed:
            locations.append(Location(day, count, offset))
            offset += len(item)
            count += 1
        data = b"".join(framed)
        try:
            _write_all(segment.fd, data)
            os.fdatasync(segment.fd)
        except OSError as exc:
            # Nothing of this call was acknowledged: take back what half-landed, so the next
            # append does not follow a broken record.
            with contextlib.suppress(OSError):
                os.ftruncate(segment.fd, segment.size)
                os.fdatasync(segment.fd)
            self._forget(day)
            raise ArchiveError(
                f"{segment_path(self.dir, day)}: append failed: {exc.strerror}"
            ) from exc
        segment.size, segment.count = offset, count
        return locations

    def _segment(self, day: str) -> _Segment:
        segment = self._open.pop(day, None)
        if segment is None:
            segment = self._open_segment(day)
        self._open[day] = segment  # most recently used last
        while len(self._open) > _OPEN_SEGMENTS:
            self._forget(next(iter(self._open)))
        return segment

    def _forget(self, day: str) -> None:
        segment = self._open.pop(day, None)
        if segment is not None:
            os.close(segment.fd)

    def _open_segment(self, day: str) -> _Segment:
        path = segment_path(self.dir, day)
        path.parent.mkdir(parents=True, exist_ok=True)
        created = not path.exists()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        try:
            size, count = self._check_and_repair(path, fd)
            if size == 0:
                _write_all(fd, FILE_MAGIC)
                os.fsync(fd)
                size = len(FILE_MAGIC)
            if created:
                _fsync_dir(path.parent)
                _fsync_dir(self.dir)
        except BaseException:
            os.close(fd)
            raise
        return _Segment(fd, size, count)

    def _check_and_repair(self, path: Path, fd: int) -> tuple[int, int]:
        """(size, records) of a segment about to be appended to, after cutting a torn tail."""
        with _mapped(path) as data:
            if len(data) < len(FILE_MAGIC) and FILE_MAGIC.startswith(bytes(data)):
                cut_at, count = 0, 0  # a crash while the file was being created
            else:
                _check_file_magic(path, data)
                offset, count = len(FILE_MAGIC), 0
                while offset < len(data):
                    end = _record_end(data, offset)
                    if isinstance(end, str):
                        if _valid_record_after(data, offset + 1):
                            raise CorruptSegmentError(path, offset, end)
                        break
                    offset, count = end, count + 1
                cut_at = offset
            size = len(data)
        if cut_at < size:
            os.ftruncate(fd, cut_at)
            os.fsync(fd)
            self.repaired.append((path, size - cut_at))
            log.warning(
                "%s: cut a torn last record (%d bytes) at offset %d", path, size - cut_at, cut_at
            )
        return cut_at, count


def _record_end(data: bytes | mmap.mmap, offset: int) -> int | str:
    """Where the valid record at `offset` ends, or why there is none."""
    if len(data) - offset < _OVERHEAD:
        return "torn record (file ends inside its header)"
    marker, length = _FRAME.unpack_from(data, offset)
    if marker != RECORD_MAGIC:
        return "no record marker"
    if not _MIN_BODY <= length <= MAX_BODY_BYTES:
        return f"impossible record length {length}"
    end = offset + _FRAME.size + length + _CRC.size
    if end > len(data):
        return "torn record (file ends inside it)"
    view = memoryview(data)[offset + 4 : end - _CRC.size]
    try:
        if zlib.crc32(view) != _CRC.unpack_from(data, end - _CRC.size)[0]:
            return "checksum mismatch"
    finally:
        view.release()
    return end


def _valid_record_after(data: bytes | mmap.mmap, start: int) -> bool:
    """Whether any valid record begins after `start`: then the damage is not a torn tail."""
    at = data.find(RECORD_MAGIC, start)
    while at >= 0:
        if not isinstance(_record_end(data, at), str):
            return True
        at = data.find(RECORD_MAGIC, at + 1)
    return False


def _check_file_magic(path: Path, data: bytes | mmap.mmap) -> None:
    if data[: len(FILE_MAGIC)] != FILE_MAGIC:
        raise CorruptSegmentError(path, 0, "not a Pantau archive segment (bad file header)")


@contextlib.contextmanager
def _mapped(path: Path) -> Iterator[bytes | mmap.mmap]:
    try:
        handle = open(path, "rb")  # noqa: SIM115 (closed below, after the map)
    except FileNotFoundError:
        raise ArchiveError(f"{path}: no such segment") from None
    with handle:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            yield b""
            return
        with mmap.mmap(handle.fileno(), size, access=mmap.ACCESS_READ) as data:
            yield data


def _take(body: bytes, at: int, size: int) -> bytes:
    if at + size > len(body):
        raise ValueError(f"record body ends inside a field (needs {at + size} of {len(body)})")
    return body[at : at + size]


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
