"""Stored evidence is append-only: a write for a point and timestamp already stored is let
through only when it is the same row again (a redelivery), never when its content differs.

InfluxDB overwrites silently: a line for an existing series and timestamp replaces the fields it
names. So before the collector writes agent evidence (`telemetry`, `event`, `capacity`, `state`),
every line is screened:

- a line newer than the newest row its series holds is new: written without any read. Agents
  sample forward in time, so this is nearly every line;
- a line at or before that newest timestamp is read back (one bounded range read per series and
  cluster of such timestamps, all in one request): the same fields and values, it is a
  redelivery and is dropped (already stored); other content at a stored timestamp is refused,
  counted (`rewrite`), and recorded in measurement `integrity` for the NOC;
- no row there, it is late data. An event is written. A sample is written only where one is
  missing: its `seq` between those of the point's stored samples on either side of it (and of
  the late samples just let through), and an interval no longer than theirs. Otherwise it
  would only add votes to minutes stored samples already decide (collector/sla/hourly.py), so
  a point's credential could outvote a stored outage days later: refused, counted (`overlap`)
  and recorded in `integrity` like a rewrite. A real backlog fills real gaps (`seq` runs on
  across restarts), so none of it is refused.

A series here is what identifies a row whatever the registry says: the measurement, the point
and the tags an agent's message decides (an event's kind, a test's method); the registry's
tags (kelurahan, kecamatan, provider) are left out, so moving a point to another provider or
kelurahan keeps its history guarded. The newest timestamp of a series is learned from InfluxDB
the first time the series is seen (one statement per measurement and 100 points; bounded
to the data the collector accepts), then kept up to date from this collector's own writes. The cost: that first read per point and
measurement after a start, and read-backs only for redeliveries and late data. Workers that
share a subscription read the newest rows of a write's points before every write (`Guard`).
"""

from __future__ import annotations

import bisect
import logging
import re
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from itertools import compress, groupby, repeat
from operator import gt, itemgetter
from typing import Any, NamedTuple

from pantau.collector.influxdb.client import Influx
from pantau.collector.influxdb.influxql import ident, string
from pantau.collector.influxdb.line_protocol import line, series_key
from pantau.shared.errors import SinkError

log = logging.getLogger(__name__)

EVIDENCE = frozenset({"telemetry", "event", "capacity", "state"})
INTEGRITY = "integrity"  # the collector's own record of refused rewrites
REWRITE = "rewrite"  # reasons counted in the collector's stats and /metrics, and in `integrity`
OVERLAP = "overlap"
TELEMETRY = "telemetry"
REGISTRY_TAGS = frozenset({"kelurahan", "kecamatan", "provider"})
CLUSTER_GAP_MS = 3_600_000  # suspect timestamps this close are read back in one range
STATEMENTS_PER_REQUEST = 200
POINTS_PER_STATEMENT = 100  # a newest-row read names this many points at most
TELEMETRY_ALWAYS = "seq"  # a field every telemetry row has (wire.Sample requires it)
NO_ROWS = -1
# Beside another run's sample whose seq does not fit, a late one needs this share of an
# interval of time (`no_gap`): a missing sample leaves about one interval on either side.
ROOM = 0.75
_NEIGHBOUR = "neighbour_"  # the prefix of the columns a read of the samples around names

SeriesKey = str  # a row's identity: measurement and tags as line protocol writes them, less
# the registry's tags (`identity`)
_POINT_TAG = re.compile(r",point=([^,\\ ]+)")
_REGISTRY_TAG = re.compile(r",(?:kecamatan|kelurahan|provider)=(?:[^,\\ ]|\\.)*")
_EVIDENCE_PREFIXES = tuple(f"{m}," for m in EVIDENCE)
_first, _last = itemgetter(0), itemgetter(2)  # of a str.partition: the series, the timestamp


_identities: dict[str, SeriesKey] = {}


def identity(series: str) -> SeriesKey:
    """A line's series without the registry's tags (cached: one per point and kind)."""
    found = _identities.get(series)
    if found is None:
        if len(_identities) >= 65_536:
            _identities.clear()
        found = _identities[series] = _REGISTRY_TAG.sub("", series)
    return found


class Parsed:
    """What the guard needs of a line: cheap for every line, the fields only when asked."""

    __slots__ = ("body_at", "series", "text", "ts_ms")

    def __init__(self, series: SeriesKey, ts_ms: int, text: str, body_at: int) -> None:
        self.series, self.ts_ms, self.text, self.body_at = series, ts_ms, text, body_at

    def neighbour(self) -> Neighbour:
        """A sample as a late one's neighbour: only the fields that says are read."""
        body = self.text[self.body_at : self.text.rindex(" ")]
        return Neighbour.of(self.ts_ms, parse_fields(body, NEIGHBOUR_FIELDS))

    @property
    def fields(self) -> dict[str, Any]:
        return parse_fields(self.text[self.body_at : self.text.rindex(" ")])

    @property
    def measurement(self) -> str:
        if "\\" not in self.series:
            return self.series.partition(",")[0]
        return _unescape(self.text[: _unescaped(self.text, ",", " ")])

    @property
    def tags(self) -> dict[str, str]:
        start = _unescaped(self.text, ",", " ")
        tags: dict[str, str] = {}
        if self.text[start] == ",":
            for pair in _split(self.text[start + 1 : self.body_at - 1], ","):
                k, v = _split_pair(pair)  # keys and values escape their '='
                tags[k] = v
        return tags

    @property
    def point(self) -> str | None:
        found = _POINT_TAG.search(self.series)
        return found.group(1) if found else None


NEIGHBOUR_FIELDS = ("seq", "interval_s", "boot")  # what `Neighbour.of` reads; every sample has them


class Neighbour(NamedTuple):
    """A stored (or just let through) sample around a late one: where it is, what it says (a
    tuple: one is made per late line)."""

    ts_ms: int
    seq: float | None
    interval_s: float | None
    boot: str | None = None

    @classmethod
    def of(cls, ts_ms: int, fields: dict[str, Any]) -> Neighbour:
        seq, interval, boot = fields.get("seq"), fields.get("interval_s"), fields.get("boot")
        return cls(
            ts_ms,
            float(seq) if isinstance(seq, int | float) else None,
            float(interval) if isinstance(interval, int | float) else None,
            boot if isinstance(boot, str) else None,
        )


def no_gap(late: Neighbour, before: Neighbour | None, after: Neighbour | None) -> str | None:
    """Why a late sample fills no gap between its neighbours (None: it fills one).

    `seq` runs on across an agent's restarts, so a sample between two others has a seq between
    theirs. Only an agent installed afresh starts again from 0: beside a sample of another run
    (`boot`) whose seq does not fit, a late one needs `ROOM` of an interval of time instead.
    And it may not speak for longer than its neighbours do where that would reach into the
    time of the next stored sample."""
    for neighbour, side in ((before, -1), (after, 1)):
        if neighbour is None:
            continue
        if (
            late.seq is not None
            and neighbour.seq is not None
            and (neighbour.seq - late.seq) * side > 0
        ):
            continue  # in order
        if neighbour.boot != late.boot:
            gap_s = abs(late.ts_ms - neighbour.ts_ms) / 1000
            if gap_s >= ROOM * max(late.interval_s or 0, neighbour.interval_s or 0):
                continue  # another run's sample, far enough
        bounds = " and ".join(
            f"{n.seq:.0f}" for n in (before, after) if n is not None and n.seq is not None
        )
        seq = "none" if late.seq is None else f"{late.seq:.0f}"
        return f"seq {seq} fits no gap between stored seq {bounds}"
    intervals = [n.interval_s for n in (before, after) if n is not None and n.interval_s]
    claims_s = late.interval_s or 0
    if (
        intervals
        and claims_s > max(intervals)
        and (after is None or after.ts_ms - late.ts_ms < ROOM * claims_s * 1000)
    ):
        return (
            f"declares an interval of {late.interval_s:g} s where its neighbours have"
            f" {max(intervals):g} s"
        )
    return None


_ts_ms = itemgetter(0)  # of a Neighbour


def fill_gap(around: list[Neighbour], late: Neighbour) -> str | None:
    """Take a late sample into `around` (samples of its point sorted by time) if it fills a
    gap there; else say why not."""
    at = bisect.bisect_left(around, late.ts_ms, key=_ts_ms)
    why = no_gap(late, around[at - 1] if at else None, around[at] if at < len(around) else None)
    if why is None:
        around.insert(at, late)
    return why


@dataclass(frozen=True)
class Refusal:
    measurement: str
    tags: dict[str, str]
    ts_ms: int
    changed: tuple[str, ...]  # field names whose stored value the line would change
    reason: str = REWRITE
    why: str = ""  # an overlap: where the late sample would have gone

    def describe(self) -> str:
        if self.reason == OVERLAP:
            return f"late sample at {self.ts_ms}: {self.why}"
        return f"{self.measurement} at {self.ts_ms} would change {', '.join(self.changed)[:200]}"


@dataclass
class Screened:
    lines: list[str]  # what to write
    refused: list[Refusal] = field(default_factory=list)
    identical: int = 0  # redeliveries of rows already stored, dropped
    newest: dict[SeriesKey, int] = field(default_factory=dict)  # to remember once written


class Guard:
    """Screens lines before they are written; `written` is told what was written.

    `shared`: other writers (the other workers of a `$share` subscription, on this host or
    another) store rows of the same points, so what this one wrote is not all there is: before
    each write it asks InfluxDB for the newest row of every point the write names, and a line
    at or before that is checked like any late one. Without it a worker took a copy of a row
    its partner had just stored for a new row, and wrote it over the stored one. Two workers
    screening copies of one row in the same few milliseconds can still both see it new."""

    def __init__(
        self, influx: Influx, horizon_s: float, shared: bool = False, writer: str = ""
    ) -> None:
        self.influx = influx
        self.horizon_s = horizon_s  # older rows cannot be written: the collector refuses them
        self.shared = shared
        self.writer = writer  # tags its `integrity` rows: two workers' rows never overwrite
        self._newest: dict[SeriesKey, int] = {}
        self._known_points: set[tuple[str, str]] = set()  # (measurement, point) learned
        self._last_integrity_ms = 0

    def screen(self, lines: list[str]) -> Screened:
        """Raises SinkError when InfluxDB cannot be read (retryable: buffer and try later)."""
        if self.shared:  # one line of each series: what its point has stored now
            heads = list(map(_first, map(str.partition, lines, repeat(" "))))
            one_each = dict(zip(heads, lines, strict=True)).values()
            self._learn(filter(None, map(parse, one_each)), again=True)
        fresh = self._all_new(lines)
        return fresh if fresh is not None else self._screen(lines)

    def _all_new(self, lines: list[str]) -> Screened | None:
        """What `_screen` makes of a write whose every evidence line is newer than its series'
        newest row and names a series and instant no other line of the write names (nearly
        every write): everything written, nothing read back. Found by C calls over the whole
        write instead of Python per line; None for any other write, or a line whose series
        holds an escaped space, which `_screen` then decides."""
        chosen = list(compress(lines, map(str.startswith, lines, repeat(_EVIDENCE_PREFIXES))))
        if not chosen:
            return None
        heads = list(map(_first, map(str.partition, chosen, repeat(" "))))
        if any(map(str.endswith, heads, repeat("\\"))):
            return None
        try:
            stamps = list(map(int, map(_last, map(str.rpartition, chosen, repeat(" ")))))
        except ValueError:
            return None
        keys = list(map(_identities.get, heads))
        if None in keys:
            keys = list(map(identity, heads))
        if len(set(zip(keys, stamps, strict=True))) != len(keys):
            return None  # a series and instant twice: the second compares with the first
        self._learn(
            item for item in map(parse, dict(zip(keys, chosen, strict=True)).values()) if item
        )
        newest = self._newest
        if not all(map(gt, stamps, map(newest.get, keys, repeat(NO_ROWS)))):
            return None
        return Screened(lines=list(lines), newest=dict(sorted(zip(keys, stamps, strict=True))))

    def _screen(self, lines: list[str]) -> Screened:
        parsed: list[tuple[str, Parsed | None]] = [(text, parse(text)) for text in lines]
        keys = [_identities.get(p.series) or identity(p.series) if p else "" for _, p in parsed]
        self._learn({k: p for k, (_, p) in zip(keys, parsed, strict=True) if p}.values())
        suspects: dict[SeriesKey, set[int]] = {}
        samples: dict[SeriesKey, Parsed] = {}
        newest = self._newest
        for key, (_, item) in zip(keys, parsed, strict=True):
            if item is not None and item.ts_ms <= newest.get(key, NO_ROWS):
                suspects.setdefault(key, set()).add(item.ts_ms)
                samples.setdefault(key, item)
        stored, neighbours = self._read_back(suspects, samples) if suspects else ({}, {})
        out = Screened(lines=[])
        first: dict[tuple[SeriesKey, int], Any] = dict(stored)  # fields, or the line's own
        for key, (text, item) in zip(keys, parsed, strict=True):
            if item is None:
                out.lines.append(text)
                continue
            out.newest[key] = max(out.newest.get(key, NO_ROWS), item.ts_ms)
            before = first.get((key, item.ts_ms))
            if before is None:  # new, or late data: no need to read its fields
                late = item.ts_ms <= newest.get(key, NO_ROWS)
                if late and key in neighbours:  # a telemetry series
                    why = fill_gap(neighbours[key], item.neighbour())
                    if why is not None:
                        out.refused.append(
                            Refusal(item.measurement, item.tags, item.ts_ms, (), OVERLAP, why)
                        )
                        continue
                first[(key, item.ts_ms)] = item
                out.lines.append(text)
            elif not (changed := differences(_fields(before), item.fields)):
                out.identical += 1  # the same row again: stored already
            else:
                out.refused.append(Refusal(item.measurement, item.tags, item.ts_ms, changed))
        return out

    def written(self, screened: Screened) -> None:
        for series, ts in screened.newest.items():
            if ts > self._newest.get(series, NO_ROWS):
                self._newest[series] = ts

    def integrity_lines(self, refused: list[Refusal], now_ms: int) -> list[str]:
        """One `integrity` row per refused write, each at its own instant."""
        out = []
        for refusal in refused:
            tags = {k: v for k, v in refusal.tags.items() if k != "kind" and k != "subject"}
            tags |= {"measurement": refusal.measurement, "reason": refusal.reason}
            tags["writer"] = self.writer  # its own series: another's rows at this ms stay
            fields: dict[str, Any] = {"ts_ms": refusal.ts_ms, "fields": ",".join(refusal.changed)}
            if refusal.why:
                fields["detail"] = refusal.why
            # distinct timestamps: two refusals of one point in one millisecond are two rows
            self._last_integrity_ms = max(now_ms, self._last_integrity_ms + 1)
            out.append(line(INTEGRITY, tags, fields, self._last_integrity_ms))
        return out

    # -- reads ---------------------------------------------------------------------------------
    def _learn(self, series: Any, again: bool = False) -> None:
        """The newest stored row of every series of a point not seen before (`again`: of
        every point named)."""
        wanted: set[tuple[str, str]] = set()
        for item in series:
            point = item.point
            measurement = item.series.split(",", 1)[0]
            if point is not None and (again or (measurement, point) not in self._known_points):
                wanted.add((measurement, point))
        if not wanted:
            return
        for row in self._run(self._newest_rows(sorted(wanted))):
            key = identity(_row_series(row))
            self._newest[key] = max(self._newest.get(key, NO_ROWS), int(row["time"]))
        self._known_points |= wanted

    def _newest_rows(self, wanted: list[tuple[str, str]]) -> list[str]:
        """Statements for the newest row of every series of these (measurement, point): one per
        measurement and `POINTS_PER_STATEMENT` points. A telemetry row is found by `seq`, which
        every sample has: reading one column instead of all costs influxd a seventh as much,
        and the shared guard asks before every write."""
        since = f"now() - {int(self.horizon_s)}s"
        statements = []
        for measurement, pairs in groupby(wanted, key=_first):
            points = [point for _, point in pairs]
            columns = ident(TELEMETRY_ALWAYS) if measurement == TELEMETRY else "*"
            for start in range(0, len(points), POINTS_PER_STATEMENT):
                which = " OR ".join(
                    f"{ident('point')} = {string(p)}"
                    for p in points[start : start + POINTS_PER_STATEMENT]
                )
                statements.append(
                    f"SELECT {columns} FROM {ident(measurement)} WHERE ({which})"
                    f" AND time > {since} GROUP BY * ORDER BY time DESC LIMIT 1"
                )
        return statements

    def _read_back(
        self, suspects: dict[SeriesKey, set[int]], samples: dict[SeriesKey, Parsed]
    ) -> tuple[dict[tuple[SeriesKey, int], Any], dict[SeriesKey, list[Neighbour]]]:
        """Stored fields at the suspect timestamps, one range read per cluster of them; and for
        samples, the stored samples in and around those clusters, by series.

        Telemetry is read in two steps: what a neighbour says (seq, interval, boot) over each
        cluster and just outside it, then every field only at the suspect timestamps found
        stored. Two workers write a point's messages behind each other, so a late line mostly
        has the other worker's samples around it and none at its own time: reading all of
        their fields cost InfluxDB and the collector more than the write itself."""
        where_of = {series: self._where(samples[series]) for series in suspects}
        statements = []
        for series, stamps in sorted(suspects.items()):
            measurement, where = samples[series].measurement, where_of[series]
            for low, high in clusters(sorted(stamps)):
                if measurement != TELEMETRY:
                    statements.append(_range(measurement, where, low, high, "*"))
                    continue
                statements.append(_range(measurement, where, low, high, _NEIGHBOUR_COLUMNS))
                for side, order in ((f"< {low}ms", "DESC"), (f"> {high}ms", "ASC")):
                    statements.append(
                        f"SELECT {_NEIGHBOUR_COLUMNS} FROM {ident(measurement)} WHERE {where}"
                        f" AND time {side} AND time > now() - {int(self.horizon_s)}s"
                        f" GROUP BY * ORDER BY time {order} LIMIT 1"
                    )
        found: dict[tuple[SeriesKey, int], Any] = {}
        neighbours: dict[SeriesKey, list[Neighbour]] = {
            series: [] for series, item in samples.items() if item.measurement == TELEMETRY
        }
        stored_at: dict[SeriesKey, set[int]] = {}  # telemetry: suspect times found stored
        keys: dict[int, SeriesKey] = {}  # by the tags object a series' rows share
        for row in self._run(statements):
            key = keys.get(id(row["_tags"])) or keys.setdefault(
                id(row["_tags"]), identity(_row_series(row))
            )
            ts = row["time"]
            if f"{_NEIGHBOUR}seq" in row:
                fields = {k.removeprefix(_NEIGHBOUR): v for k, v in row.items()}
                if key in neighbours:
                    neighbours[key].append(Neighbour.of(ts, fields))
                if ts in suspects.get(key, ()):
                    stored_at.setdefault(key, set()).add(ts)
            elif ts in suspects.get(key, ()):
                found[(key, ts)] = _row_fields(row)
        if stored_at:  # the rows a late line would meet: every field, to compare
            statements = [
                _range(TELEMETRY, where_of[series], low, high, "*")
                for series, stamps in sorted(stored_at.items())
                for low, high in clusters(sorted(stamps))
            ]
            for row in self._run(statements):
                key = identity(_row_series(row))
                if row["time"] in stored_at.get(key, ()):
                    found[(key, row["time"])] = _row_fields(row)
        for around in neighbours.values():
            around.sort(key=_ts_ms)
        return found, neighbours

    @staticmethod
    def _where(item: Parsed) -> str:
        """A series' rows by its identity: the tags less the registry's."""
        tags = {k: v for k, v in item.tags.items() if k not in REGISTRY_TAGS}
        return " AND ".join(f"{ident(k)} = {string(v)}" for k, v in sorted(tags.items()))

    def _run(self, statements: list[str]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for start in range(0, len(statements), STATEMENTS_PER_REQUEST):
            chunk = statements[start : start + STATEMENTS_PER_REQUEST]
            for result in self.influx.query_raw(";".join(chunk)):
                if "error" in result:
                    if "database not found" in str(result["error"]):
                        continue  # nothing stored yet
                    # never write unchecked: the lines wait in the buffer for a read that works
                    raise SinkError(f"evidence check: {result['error']}", retryable=True)
                try:
                    for series in result.get("series", []):
                        tags = dict(series.get("tags") or {})
                        for values in series["values"]:
                            row = dict(zip(series["columns"], values, strict=True))
                            row["time"] = int(row["time"])
                            row["_tags"] = tags
                            row["_measurement"] = str(series["name"])
                            rows.append(row)
                except (KeyError, TypeError, ValueError) as exc:
                    raise SinkError(
                        f"evidence check: unexpected answer ({type(exc).__name__})", retryable=True
                    ) from None
        return rows


_NEIGHBOUR_COLUMNS = ", ".join(f'"{name}" AS "{_NEIGHBOUR}{name}"' for name in NEIGHBOUR_FIELDS)


def _range(measurement: str, where: str, low: int, high: int, columns: str) -> str:
    return (
        f"SELECT {columns} FROM {ident(measurement)} WHERE {where}"
        f" AND time >= {low}ms AND time <= {high}ms GROUP BY *"
    )


def _row_series(row: dict[str, Any]) -> SeriesKey:
    """A stored row's series as our lines write it: sorted tags, empty ones left out."""
    return series_key(row["_measurement"], row["_tags"])


def _fields(before: Any) -> dict[str, Any]:
    return before.fields if isinstance(before, Parsed) else before


def _row_fields(row: dict[str, Any]) -> dict[str, Any]:
    skip = {"time", "_tags", "_measurement", *row["_tags"]}
    return {k: v for k, v in row.items() if k not in skip and v is not None}


def clusters(stamps: list[int]) -> list[tuple[int, int]]:
    """Sorted timestamps grouped into ranges whose neighbours are at most an hour apart."""
    out: list[tuple[int, int]] = []
    for ts in stamps:
        if out and ts - out[-1][1] <= CLUSTER_GAP_MS:
            out[-1] = (out[-1][0], ts)
        else:
            out.append((ts, ts))
    return out


def differences(stored: dict[str, Any], incoming: dict[str, Any]) -> tuple[str, ...]:
    """Field names whose value would change (or appear) if `incoming` were written over
    `stored`; numbers compare by value (InfluxDB answers 5.0 as 5)."""
    changed = []
    for name in sorted(set(stored) | set(incoming)):
        if name not in incoming:
            continue  # a field the line does not name keeps its stored value
        if name not in stored or not _same(stored[name], incoming[name]):
            changed.append(name)
    return tuple(changed)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return bool(a == b)


# -- line protocol, read back ----------------------------------------------------------------
def parse(text: str) -> Parsed | None:
    """Series and timestamp of one line of ours; None for lines that are not evidence."""
    if not text.startswith(_EVIDENCE_PREFIXES):
        return None
    end = text.find(" ")
    while end > 0 and text[end - 1] == "\\":  # an escaped space inside a tag
        end = text.find(" ", end + 1)
    if end < 0:
        return None
    return Parsed(text[:end], int(text[text.rindex(" ") + 1 :]), text, end + 1)


def _split_pair(pair: str) -> tuple[str, str]:
    at = _unescaped(pair, "=")
    return _unescape(pair[:at]), _unescape(pair[at + 1 :])


def _unescaped(text: str, *chars: str) -> int:
    """Index of the first of `chars` not escaped by a backslash (len(text) if none)."""
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c in chars:
            return i
        i += 1
    return len(text)


def _split(text: str, sep: str) -> list[str]:
    parts, start = [], 0
    while start <= len(text):
        end = start + _unescaped(text[start:], sep)
        parts.append(text[start:end])
        start = end + 1
    return parts


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def parse_fields(body: str, only: Collection[str] | None = None) -> dict[str, Any]:
    """A line's fields (`only`: at least those). Every late line is read back (two collector
    workers share a point's messages, so each writes behind the other): text without a
    backslash is cut at its quotes and commas in C (`_plain_fields`); the rest is read
    character by character, the same way, every field."""
    if "\\" not in body:
        fields = _plain_fields(body, only)
        if fields is not None:
            return fields
    return _parse_fields_slowly(body)


def _plain_fields(body: str, only: Collection[str] | None = None) -> dict[str, Any] | None:
    """Fields of text with no escapes, where quotes bound strings exactly: between strings,
    `key=value` pairs, the last one's value the string that follows. None for text that is not
    that shape (the slow reading decides what it means). `only`: the values of those keys
    alone are read, a key named twice by its last value, and the rest of the text is not
    checked: it is a line we wrote."""
    parts = body.split('"')
    if len(parts) % 2 == 0:
        return None
    fields: dict[str, Any] = {}
    last = len(parts) - 1
    for k in range(0, len(parts), 2):
        outside = parts[k]
        if k:  # after a string: the end, or a comma and more fields
            if not outside:
                if k == last:
                    break
                return None
            if outside[0] != ",":
                return None
            outside = outside[1:]
        string_key = None
        if k < last:  # `key=` of the string that follows
            if not outside.endswith("="):
                return None
            outside, _, string_key = outside[:-1].rpartition(",")
            if not string_key or "=" in string_key:
                return None
        if outside and only is None:
            for pair in outside.split(","):
                key, equals, raw = pair.partition("=")
                if not key or not equals:
                    return None
                fields[key] = _scalar(raw)
        elif outside:  # found in C: a late line's neighbour reads 3 of some 25 fields
            text = f",{outside},"
            for key in only:
                at = text.rfind(f",{key}=")
                if at >= 0:
                    start = at + len(key) + 2
                    fields[key] = _scalar(text[start : text.index(",", start)])
        if string_key is not None and (only is None or string_key in only):
            fields[string_key] = parts[k + 1]
    return fields


def _parse_fields_slowly(body: str) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    i, n = 0, len(body)
    while i < n:
        at = i + _unescaped(body[i:], "=")
        key = _unescape(body[i:at])
        i = at + 1
        if i < n and body[i] == '"':
            i += 1
            chars = []
            while i < n and body[i] != '"':
                if body[i] == "\\" and i + 1 < n and body[i + 1] in '"\\':
                    chars.append(body[i + 1])
                    i += 2
                else:
                    chars.append(body[i])
                    i += 1
            i += 1
            fields[key] = "".join(chars)
        else:
            end = body.find(",", i)
            end = n if end < 0 else end
            fields[key] = _scalar(body[i:end])
            i = end
        if i < n and body[i] == ",":
            i += 1
    return fields


_BOOLEANS = dict.fromkeys(("true", "t", "T", "True", "TRUE"), True) | dict.fromkeys(
    ("false", "f", "F", "False", "FALSE"), False
)


def _scalar(raw: str) -> Any:
    found = _BOOLEANS.get(raw)
    if found is not None:
        return found
    if raw.endswith("i"):
        return int(raw[:-1])
    return float(raw)


def now_ms() -> int:
    return int(time.time() * 1000)
