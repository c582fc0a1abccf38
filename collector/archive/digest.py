"""What a report carries of the archive: the month's checkpoints (root, tree size, signer) and
the one command that checks the report against them.

A WIB month (UTC+7) runs from 17:00 UTC on the last day of the month before to 17:00 UTC on its
own last day: `utc_days` names the first and last UTC day. The month's digest is the
last of those days that has a checkpoint; every day's is listed too (a few hundred bytes each).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from pantau.collector.archive.archives import resolve
from pantau.collector.archive.checkpoint import Checkpoint, CheckpointStore
from pantau.collector.archive.segments import day_of
from pantau.collector.sla.periods import Period

REPORT_PLACEHOLDER = "<this report's JSON>"


@dataclass(frozen=True)
class DayHead:
    day: str
    tree_size: int
    root: str
    signer: str
    archive: str = ""  # which archive (a collector worker's), when there are several

    @classmethod
    def of(cls, checkpoint: Checkpoint, archive: str = "") -> DayHead:
        return cls(
            checkpoint.day, checkpoint.tree_size, checkpoint.root, checkpoint.signer, archive
        )

    def as_dict(self) -> dict[str, object]:
        found: dict[str, object] = {
            "day": self.day,
            "tree_size": self.tree_size,
            "root": self.root,
            "signer": self.signer,
        }
        return found | ({"archive": self.archive} if self.archive else {})


@dataclass(frozen=True)
class MonthDigest:
    month: str
    first_day: str
    last_day: str
    last: DayHead | None  # the month's last checkpoint (None: no day checkpointed yet)
    days: tuple[DayHead, ...]
    missing_days: tuple[str, ...]  # days between the first and last checkpoint without one
    report_file: str = REPORT_PLACEHOLDER  # the report's JSON, named in the command

    @property
    def command(self) -> str:
        return verify_command(self.month, self.report_file)

    def as_dict(self) -> dict[str, object]:
        return {
            "configured": True,
            "first_day": self.first_day,
            "last_day": self.last_day,
            "checkpoint": None if self.last is None else self.last.as_dict(),
            "days": [d.as_dict() for d in self.days],
            "missing_days": list(self.missing_days),
            "verify": self.command,
        }


def verify_command(month: str, report: str = REPORT_PLACEHOLDER) -> str:
    return f"pantau evidence verify --month {month} --report {report}"


def utc_days(period: Period) -> tuple[str, str]:
    """The first and last UTC day a WIB period touches."""
    return day_of(period.start_ms), day_of(period.end_ms - 1)


def month_digest(archive_dir: Path, period: Period) -> MonthDigest:
    """The month's checkpoints of the archive at `archive_dir`, or of every archive it holds
    (one per collector worker): each day's of each archive, the last of the latest day first
    named; a day missing in any archive is missing."""
    first, last = utc_days(period)
    heads: list[DayHead] = []
    missing: set[str] = set()
    for archive in resolve([archive_dir]):
        store = CheckpointStore(archive.path)
        days = [d for d in store.days() if first <= d <= last]
        own = [DayHead.of(store.load(d), archive.name) for d in days]
        if own:  # the archive may begin mid-month
            missing |= set(_day_range(own[0].day, own[-1].day)) - set(days)
        heads += own
    heads.sort(key=lambda h: (h.day, h.archive))
    return MonthDigest(
        period.label,
        first,
        last,
        heads[-1] if heads else None,
        tuple(heads),
        tuple(sorted(missing)),
    )


def _day_range(first: str, last: str) -> list[str]:
    day, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    found = []
    while day <= end:
        found.append(day.isoformat())
        day += dt.timedelta(days=1)
    return found
