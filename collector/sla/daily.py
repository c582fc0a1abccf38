"""A point's hourly rollups as columns (`PointHours`), and runs of hours packed into one row
(a day of them is one `sla_daily` row). Pure.

A month report needs about 800 hourly rollups per point (the month and a day either side).
Read as rows, a city's month is 340 000 rows that InfluxDB spends most of the report's time
encoding as JSON. Packed, a day of a point is one row: its evidence letters, its minute states
as runs, and every other rollup field as a compressed binary column (`pack`), which the report
turns back into arrays without parsing text (`unpack`).

Integers travel as int64 and floats as float64, so every value round-trips exactly and the
figures computed from `PointHours` are the same whether it was built from rollup rows or from
packed days.

Each hour also carries its evidence letter, from the `marked_ms`/`rolled_ms` pair the collector
keeps on `sla_hourly`: `marked_ms` is when raw telemetry touching the hour was written,
`rolled_ms` when the rollup that is stored started reading raw rows (0 until one has).
"""

from __future__ import annotations

import base64
import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import numpy as np

from pantau.collector.sla.hourly import (
    EMPTY_SLOTS,
    NO_SAMPLE,
    SLOTS_PER_HOUR,
    HourRollup,
)
from pantau.collector.sla.periods import DAY_MS, HOUR_MS

PACK_VERSION = 1
WIB_OFFSET_MS = 7 * HOUR_MS
EMPTY_HOUR = NO_SAMPLE * 60

# Evidence letters, one per hour.
NO_ROW = "-"  # no rollup and no mark: no raw data arrived for this hour
ROLLED = "r"  # a rollup that reflects every raw write marked on the hour (or predates marks)
MISSING = "m"  # raw data was written, no rollup yet
STALE = "s"  # a rollup older than raw data written since

INT_FIELDS = (
    "samples_n",
    "seq_first",
    "seq_last",
    "seq_gaps",
    "seq_resets",
    "unsynced_n",
    "clients_max",
    "clients_sum",
    "clients_n",
)
FLOAT_FIELDS = ("interval_s", "rtt_median_ms", "loss_median_pct", "jitter_median_ms")
SLOT_FIELDS = ("rx_kbps_5m", "tx_kbps_5m")
_OPTIONAL_INTS = frozenset({"seq_first", "seq_last", "clients_max"})  # None in HourRollup
_VALUES = attrgetter(*INT_FIELDS, *FLOAT_FIELDS)
PACKED_FIELDS = ("v", "hours", "states", "data")  # the fields of a packed row
ABSENT = -1  # in an integer column: the hour has no rollup, or the rollup has no such value
_RUN = re.compile(r"([A-Z])(\d+)")


def wib_day(ms: int) -> int:
    """Start (epoch ms) of the WIB day containing ms: 17:00 UTC the day before."""
    return ms - (ms + WIB_OFFSET_MS) % DAY_MS


def hour_evidence(has_rollup: bool, marked_ms: int | None, rolled_ms: int | None) -> str:
    """The evidence letter of one `sla_hourly` row. A row without marks (written before the
    collector kept them) is taken as it is."""
    if marked_ms is not None and marked_ms > (rolled_ms or 0):
        return STALE if has_rollup else MISSING
    return ROLLED if has_rollup else NO_ROW


@dataclass(frozen=True)
class PointHours:
    """One point's rollups over `hours` consecutive UTC hours from `start_ms`, as columns.

    Integer columns hold ABSENT and float columns NaN where the hour has no rollup or the rollup
    has no such value; `states` holds 60 letters per hour (60 × N without a rollup); the slot
    arrays are (hours, 12) kbit/s with ABSENT where a slot had no rate.
    """

    start_ms: int
    evidence: str
    states: str
    ints: Mapping[str, np.ndarray]
    floats: Mapping[str, np.ndarray]
    slots: Mapping[str, np.ndarray]

    @property
    def hours(self) -> int:
        return len(self.evidence)

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.hours * HOUR_MS

    def hour_ms(self) -> np.ndarray:
        return self.start_ms + HOUR_MS * np.arange(self.hours, dtype=np.int64)

    def column(self, name: str) -> np.ndarray:
        """One rollup field's column, by its `sla_hourly` name."""
        for group in (self.ints, self.floats, self.slots):
            if name in group:
                return group[name]
        raise KeyError(name)

    def has_rollup(self) -> np.ndarray:
        """Per hour: a rollup row is stored (possibly a stale one)."""
        letters = np.frombuffer(self.evidence.encode("ascii"), dtype=np.uint8)
        return (letters == ord(ROLLED)) | (letters == ord(STALE))

    def incomplete(self) -> np.ndarray:
        """Per hour: raw data the stored rollup does not reflect (missing or stale)."""
        letters = np.frombuffer(self.evidence.encode("ascii"), dtype=np.uint8)
        return (letters == ord(MISSING)) | (letters == ord(STALE))

    @classmethod
    def empty(cls, start_ms: int, hours: int) -> PointHours:
        return unpack(start_ms, hours, [])

    @classmethod
    def from_rollups(
        cls,
        rollups: Mapping[int, HourRollup],
        start_ms: int,
        end_ms: int,
        marks: Mapping[int, tuple[int | None, int | None]] | None = None,
    ) -> PointHours:
        """Columns over [start_ms, end_ms) from rollup rows by UTC hour start; `marks` gives
        (marked_ms, rolled_ms) by hour where the rows carry them."""
        hours = range(start_ms, end_ms, HOUR_MS)
        rows = [rollups.get(h) for h in hours]
        letters = [NO_ROW if r is None else ROLLED for r in rows]
        for hour, (marked, rolled) in (marks or {}).items():
            if start_ms <= hour < end_ms:
                i = (hour - start_ms) // HOUR_MS
                letters[i] = hour_evidence(rows[i] is not None, marked, rolled)
        where = np.array([i for i, r in enumerate(rows) if r is not None], dtype=np.int64)
        table = list(zip(*(_VALUES(r) for r in rows if r is not None), strict=True))
        columns = dict(zip((*INT_FIELDS, *FLOAT_FIELDS), table, strict=True)) if table else {}
        ints = {}
        for name in INT_FIELDS:
            column = np.full(len(rows), ABSENT, dtype=np.int64)
            if name in columns:
                values = columns[name]
                if name in _OPTIONAL_INTS:
                    values = tuple(ABSENT if v is None else v for v in values)
                column[where] = values
            ints[name] = column
        floats = {}
        for name in FLOAT_FIELDS:
            column = np.full(len(rows), np.nan, dtype=np.float64)
            if name in columns:
                column[where] = [np.nan if v is None else v for v in columns[name]]
            floats[name] = column
        slots = {
            name: _parse_slots(
                [getattr(r, name) if r is not None else EMPTY_SLOTS for r in rows], len(rows)
            )
            for name in SLOT_FIELDS
        }
        states = "".join(r.states if r is not None else EMPTY_HOUR for r in rows)
        return cls(start_ms, "".join(letters), states, ints, floats, slots)


# -- packing ----------------------------------------------------------------------------------
# A packed run of n hours: `hours` (n evidence letters), `states` (runs of minute letters, see
# encode_runs) and `data`: base64 of zlib of n records, one per hour, little-endian: the
# INT_FIELDS as int64, the FLOAT_FIELDS as float64, then the 12 slots of each SLOT_FIELD as int32
# (kbit/s: up to 2.1 Tbit/s). Hour-major, so runs join by joining their bytes.
_RECORD = np.dtype(
    [
        ("ints", "<i8", (len(INT_FIELDS),)),
        ("floats", "<f8", (len(FLOAT_FIELDS),)),
        ("slots", "<i4", (len(SLOT_FIELDS), SLOTS_PER_HOUR)),
    ]
)
_BYTES_PER_HOUR = _RECORD.itemsize
_SLOT_MAX = 2**31 - 1


def _empty_record() -> bytes:
    record = np.zeros(1, dtype=_RECORD)
    record["ints"] = ABSENT
    record["floats"] = np.nan
    record["slots"] = ABSENT
    return record.tobytes()


_EMPTY_RECORD = _empty_record()


def pack(hours: PointHours) -> dict[str, Any]:
    """The fields of one packed row holding these hours exactly."""
    records = np.empty(hours.hours, dtype=_RECORD)
    for i, name in enumerate(INT_FIELDS):
        records["ints"][:, i] = hours.ints[name]
    for i, name in enumerate(FLOAT_FIELDS):
        records["floats"][:, i] = hours.floats[name]
    for i, name in enumerate(SLOT_FIELDS):
        slots = hours.slots[name]
        if slots.size and int(slots.max()) > _SLOT_MAX:
            raise ValueError(f"{name}: a 5-minute rate above {_SLOT_MAX} kbit/s")
        records["slots"][:, i] = slots
    return {
        "v": PACK_VERSION,
        "hours": hours.evidence,
        "states": encode_runs(hours.states),
        "data": base64.b64encode(zlib.compress(records.tobytes(), 6)).decode("ascii"),
    }


def pack_day(
    day_ms: int,
    rows: Mapping[int, HourRollup],
    marks: Mapping[int, tuple[int | None, int | None]] | None = None,
) -> dict[str, Any]:
    """The packed row of the WIB day starting at day_ms, from its rollups and marks by hour."""
    if wib_day(day_ms) != day_ms:
        raise ValueError(f"{day_ms} is not the start of a WIB day")
    return pack(PointHours.from_rollups(rows, day_ms, day_ms + DAY_MS, marks))


def encode_runs(letters: str) -> str:
    """'UUUDD' → 'U3D2': minute states are long runs of one letter."""
    return "".join(f"{m.group(1)}{len(m.group(0))}" for m in re.finditer(r"([A-Z])\1*", letters))


def decode_runs(text: str) -> str:
    return "".join(letter * int(count) for letter, count in _RUN.findall(text))


def _records(run_start: int, fields: Mapping[str, Any], n: int) -> bytes:
    try:
        data = zlib.decompress(base64.b64decode(str(fields.get("data") or "")))
    except (ValueError, zlib.error) as exc:
        raise ValueError(f"packed row at {run_start}: unreadable data: {exc}") from exc
    if len(data) != n * _BYTES_PER_HOUR:
        raise ValueError(
            f"packed row at {run_start}: {len(data)} bytes of data, expected {n * _BYTES_PER_HOUR}"
        )
    return data


def unpack(
    start_ms: int, hours: int, packed: Iterable[tuple[int, Mapping[str, Any]]]
) -> PointHours:
    """Columns over `hours` hours from `start_ms`, from packed runs (start_ms, fields); hours no
    run covers have no rollup. Parts of runs outside the window are dropped; runs that overlap
    inside it raise ValueError, as does a malformed run."""
    end_ms = start_ms + hours * HOUR_MS
    letters: list[str] = []
    states: list[str] = []
    records: list[bytes] = []
    at = start_ms  # the window is filled up to here

    def empty(n: int) -> None:
        letters.append(NO_ROW * n)
        states.append(EMPTY_HOUR * n)
        records.append(_EMPTY_RECORD * n)

    for run_start, fields in sorted(packed, key=lambda run: run[0]):
        evidence = str(fields.get("hours") or "")
        n = len(evidence)
        if run_start + n * HOUR_MS <= start_ms or run_start >= end_ms:
            continue
        if int(fields.get("v") or 0) != PACK_VERSION:
            raise ValueError(f"packed row at {run_start}: format {fields.get('v')!r} unknown")
        if run_start < at and at > start_ms:
            raise ValueError(f"packed rows overlap at {run_start}")
        if run_start > at:
            empty((run_start - at) // HOUR_MS)
        minutes = decode_runs(str(fields.get("states") or ""))
        if len(minutes) != 60 * n:
            raise ValueError(f"packed row at {run_start}: {len(minutes)} minute states")
        data = _records(run_start, fields, n)
        first = max(0, (start_ms - run_start) // HOUR_MS)
        last = min(n, (end_ms - run_start) // HOUR_MS)
        letters.append(evidence[first:last])
        states.append(minutes[60 * first : 60 * last])
        records.append(data[first * _BYTES_PER_HOUR : last * _BYTES_PER_HOUR])
        at = run_start + last * HOUR_MS
    if at < end_ms:
        empty((end_ms - at) // HOUR_MS)
    evidence = "".join(letters)
    if len(evidence) != hours:
        raise ValueError(f"packed rows give {len(evidence)} hours, expected {hours}")
    table = np.frombuffer(b"".join(records), dtype=_RECORD)
    ints = table["ints"].astype(np.int64).T.copy()  # native order, one row per field
    floats = table["floats"].astype(np.float64).T.copy()
    slots = table["slots"].astype(np.int64)
    return PointHours(
        start_ms,
        evidence,
        "".join(states),
        {name: ints[i] for i, name in enumerate(INT_FIELDS)},
        {name: floats[i] for i, name in enumerate(FLOAT_FIELDS)},
        {name: slots[:, i] for i, name in enumerate(SLOT_FIELDS)},
    )


def _parse_slots(parts: list[str], hours: int) -> np.ndarray:
    """Encoded 5-minute slots of many hours ('kbps,kbps,,...', empty where no rate) → an
    (hours, 12) array with ABSENT where no rate, in one C call."""
    if hours == 0:
        return np.zeros((0, SLOTS_PER_HOUR), dtype=np.int64)
    text = "," + ",".join(parts) + ","
    text = text.replace(",,", f",{ABSENT},").replace(",,", f",{ABSENT},")
    values = np.fromstring(text[1:-1], dtype=np.int64, sep=",")
    if values.size != hours * SLOTS_PER_HOUR:
        raise ValueError(f"{values.size} 5-minute slots in {hours} hours")
    return values.reshape(hours, SLOTS_PER_HOUR)
