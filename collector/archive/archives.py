"""The set of archives one check reads: every collector worker and host writes its own (an
archive has one writer), and one point's messages are spread over them.

A folder given that holds `worker-<n>` archives and no segments or checkpoints of its own means
all of them (what `workers: N` makes of `evidence.archive_dir`). Each archive keeps its own
checkpoints; the messages are read day by day across all of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pantau.collector.archive import segments
from pantau.collector.archive.checkpoint import CheckpointStore
from pantau.collector.archive.scan import Entry, scan_day
from pantau.shared.errors import ConfigError

_WORKER = re.compile(r"worker-(\d+)")


@dataclass(frozen=True)
class Archive:
    path: Path
    name: str  # how findings name it: "" when it is the only one

    def days(self, first: str = "", last: str = "9999") -> list[str]:
        return [d for d in segments.days(self.path) if first <= d <= last]

    def label(self) -> str:
        return self.name or str(self.path)


def resolve(folders: Sequence[Path | str], flag: str = "--archive") -> list[Archive]:
    """The archives named by these folders, each once, in the order given (workers by number)."""
    paths: list[Path] = []
    for given in folders:
        folder = Path(given)
        if not folder.is_dir():
            raise ConfigError(f"{flag} {folder}: no such folder")
        workers = sorted(
            (p for p in folder.iterdir() if p.is_dir() and _WORKER.fullmatch(p.name)),
            key=lambda p: int(p.name.removeprefix("worker-")),
        )
        own = segments.days(folder) or CheckpointStore(folder).days()
        for path in [folder] if own or not workers else workers:
            if path.resolve() not in {p.resolve() for p in paths}:
                paths.append(path)
    if len(paths) == 1:
        return [Archive(paths[0], "")]
    return [Archive(p, n) for p, n in zip(paths, _names(paths), strict=True)]


def _names(paths: list[Path]) -> list[str]:
    """The shortest tail of each path that tells them apart (worker-1, host-b/worker-1)."""
    for depth in range(1, max(len(p.parts) for p in paths) + 1):
        names = ["/".join(p.parts[-depth:]) for p in paths]
        if len(set(names)) == len(names):
            return names
    return [str(p) for p in paths]


def days(archives: Iterable[Archive], first: str = "", last: str = "9999") -> list[str]:
    """The days any of the archives has a segment for, between two days (both included)."""
    return sorted({d for a in archives for d in a.days(first, last)})


def scan(archives: Sequence[Archive], wanted: Iterable[str]) -> Iterator[Entry]:
    """Every archive's entries of a day, then the next day's: the order the chain check and
    the replay want."""
    for day in wanted:
        for archive in archives:
            yield from scan_day(archive.path, day, archive.name)


def size(archives: Sequence[Archive], wanted: Iterable[str]) -> int:
    """Bytes the scan reads, for a progress bar."""
    total = 0
    for day in wanted:
        for archive in archives:
            path = segments.segment_path(archive.path, day)
            total += path.stat().st_size if path.exists() else 0
    return total
