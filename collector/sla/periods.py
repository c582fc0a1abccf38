"""Report periods in local time (Asia/Jakarta), expressed as UTC milliseconds.

WIB has no daylight saving, so every WIB day and month starts on a UTC hour boundary and the
hourly rollups (keyed by UTC hour) tile a month exactly.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from pantau.shared.errors import ConfigError

WIB = ZoneInfo("Asia/Jakarta")
MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def day_start_ms(day: dt.date) -> int:
    """00:00 WIB of `day`, in UTC epoch ms."""
    return to_ms(dt.datetime(day.year, day.month, day.day, tzinfo=WIB))


def to_ms(moment: dt.datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=WIB)
    return int(moment.timestamp() * 1000)


def from_ms(ms: int) -> dt.datetime:
    """The WIB wall-clock time of an epoch ms."""
    return dt.datetime.fromtimestamp(ms / 1000, tz=WIB)


@dataclass(frozen=True)
class Period:
    """[start_ms, end_ms): a calendar month (or any run of whole WIB days)."""

    label: str
    start_ms: int
    end_ms: int

    @property
    def minutes(self) -> int:
        return (self.end_ms - self.start_ms) // MINUTE_MS

    @property
    def days(self) -> int:
        return (self.end_ms - self.start_ms) // DAY_MS


def month(label: str) -> Period:
    """'2026-10' → 1 Oct 00:00 WIB to 1 Nov 00:00 WIB."""
    match = _MONTH.match(label)
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise ConfigError(f"month {label!r}: expected YYYY-MM, e.g. 2026-10")
    year, mon = int(match.group(1)), int(match.group(2))
    start = dt.date(year, mon, 1)
    end = dt.date(year + (mon == 12), mon % 12 + 1, 1)
    return Period(label, day_start_ms(start), day_start_ms(end))


def hour_of_day_wib(hour_ms: int) -> int:
    """WIB hour of day (0-23) of a UTC hour start."""
    return from_ms(hour_ms).hour
