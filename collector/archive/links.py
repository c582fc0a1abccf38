"""Each point's chain put in order by its links, not by when its messages arrived. Pure.

With several collector workers (or hosts) on one share group, the broker spreads one point's
messages over several archives, and each archive's order is only part of the story. A message
names the chain value of the one before it (`p`) and has its own (`h`), so the order is in the
messages themselves: start at the point's earliest message (genesis, or for an archive handed
over mid-chain, the one whose `p` no other message produces) and follow `p -> h`.

What does not fit is named:

- gap: a message whose `p` no message produces (one is missing before it). It is held until
  the end: the missing message may still turn up (a backlog, or another archive's copy a moment
  after midnight), and then it is no gap;
- fork: a second, different message after one another message already follows (an agent whose
  spool was rolled back); the branch after it is followed silently;
- replay: a message already in the chain again, more than `redelivery_ms` after its first copy.
  Within that, in any archive, it is a redelivery (counted, harmless: the same samples).

A message that cannot be trusted (bad signature, wrong key) keeps its place, so the one after
it, whose `p` its altered bytes no longer produce, is not named a second time.

Memory: rows are fed day by day (every archive's segment of one day, then the next). Per point
only the day being read (`ROW.size` bytes a message, packed) and the messages placed the day
before (the same, sorted by `p`) are kept, plus the few gaps and branch tips still open; a
repeat older than that is no longer recognised as one (it is named a gap).
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from pantau.collector.archive import signing

REDELIVERY_MS = 3_600_000  # a resend the collector archived twice arrives within this
# p, h, received_ms, archive number, day (ordinal), index in the day, flags, seq
ROW = struct.Struct(">32s32sQHIIBq")
_TRUSTED, _HAS_SEQ = 1, 2
_TIPS = 8  # side branches (forks) followed per point


@dataclass(frozen=True)
class Row:
    """One chained message: its links and where it is archived."""

    p: bytes
    h: bytes
    received_ms: int
    archive: int
    day: int  # date ordinal
    index: int
    trusted: bool = True
    seq: int | None = None  # its first sample's seq, to name it

    def pack(self) -> bytes:
        flags = (_TRUSTED if self.trusted else 0) | (_HAS_SEQ if self.seq is not None else 0)
        seq = self.seq if self.seq is not None and -(2**63) <= self.seq < 2**63 else 0
        return ROW.pack(
            self.p, self.h, self.received_ms, self.archive, self.day, self.index, flags, seq
        )

    @classmethod
    def unpack(cls, data: bytes | bytearray | memoryview, at: int = 0) -> Row:
        p, h, received, archive, day, index, flags, seq = ROW.unpack_from(data, at)
        return cls(
            p, h, received, archive, day, index, bool(flags & _TRUSTED),
            seq if flags & _HAS_SEQ else None,
        )  # fmt: skip

    @property
    def order(self) -> tuple[int, int, int, int]:
        return (self.received_ms, self.archive, self.day, self.index)


@dataclass(frozen=True)
class Break:
    kind: str  # gap, fork, replay
    point: str
    row: Row
    detail: str


@dataclass
class _Point:
    head: Row | None = None  # the tip of the chain followed so far
    today: bytearray = field(default_factory=bytearray)  # the day's rows, packed
    before: bytes = b""  # the rows placed the day before, packed, sorted by p
    tips: dict[bytes, None] = field(default_factory=dict)  # side branches' tips
    gaps: dict[bytes, Break] = field(default_factory=dict)  # missing h -> its gap
    loose_bad: int = 0  # untrusted messages without links: each excuses one gap


class Links:
    """Rows in day by day; `close_day` after each day, `finish` at the end."""

    def __init__(self, where: Callable[[Row], str], redelivery_ms: int = REDELIVERY_MS) -> None:
        self.where = where  # how a finding names another message
        self.redelivery_ms = redelivery_ms
        self.breaks: list[Break] = []
        self.redelivered: Counter[str] = Counter()
        self.late: Counter[str] = Counter()  # gaps filled by a message that came later
        self._points: dict[str, _Point] = {}

    def add(self, point: str, row: Row) -> None:
        self._point(point).today += row.pack()

    def add_unlinked(self, point: str) -> None:
        """An untrusted message whose links cannot be read: the gap it leaves is not named."""
        self._point(point).loose_bad += 1

    def close_day(self) -> None:
        for point, state in self._points.items():
            if state.today:
                _Day(self, point, state).run()

    def finish(self) -> dict[str, bytes]:
        """Closes the last day; the gaps still open become breaks. Returns each point's head."""
        self.close_day()
        heads = {}
        for point, state in self._points.items():
            self.breaks += state.gaps.values()
            state.gaps.clear()
            if state.head is not None:
                heads[point] = state.head.h
        return heads

    def seed(self, point: str, head: bytes) -> None:
        """The chain value a point's chain continues from."""
        self._point(point).head = Row(bytes(32), head, 0, 0, 0, 0)

    def _point(self, point: str) -> _Point:
        state = self._points.get(point)
        if state is None:
            state = self._points[point] = _Point()
        return state


class _Day:
    """One point's day: its rows linked onto the chain so far."""

    def __init__(self, links: Links, point: str, state: _Point) -> None:
        self.links, self.point, self.state = links, point, state
        rows = sorted(
            (Row.unpack(state.today, at) for at in range(0, len(state.today), ROW.size)),
            key=lambda r: r.order,
        )
        state.today = bytearray()
        self.by_p: dict[bytes, list[Row]] = {}
        for row in rows:
            self.by_p.setdefault(row.p, []).append(row)
        self.produced = Counter(row.h for row in rows)  # h of rows not yet taken
        self.placed: dict[bytes, Row] = {}

    def run(self) -> None:
        state = self.state
        if state.head is None:
            self._start()
        self._walk()
        while self.by_p:
            roots = [p for p in self.by_p if not self.produced[p]]
            if not roots:  # a cycle cannot be signed; take what is left as it is
                roots = [next(iter(self.by_p))]
            orphans = [r for p in roots for r in self._settle(p)]
            for orphan in sorted(orphans, key=self._tip_ms):
                self._orphan(orphan)
        placed = sorted(row.pack() for row in self.placed.values())
        state.before = b"".join(placed)

    # -- the chain ------------------------------------------------------------------------------
    def _start(self) -> None:
        """The point's first message: genesis, or the earliest whose p nothing produces."""
        roots = [rows[0] for p, rows in self.by_p.items() if not self.produced[p]]
        if not roots:
            return
        genesis = [r for r in roots if r.p == signing.GENESIS]
        start = min(genesis or roots, key=lambda r: r.order)
        self._take_row(start)
        self._place(start)

    def _walk(self) -> None:
        """Follow p -> h from the head as far as the day's rows go."""
        state = self.state
        while state.head is not None:
            group = self._take(state.head.h)
            if not group:
                return
            main = group[0]
            self._place(main)
            for other in group[1:]:
                if other.h == main.h:
                    self._repeat(other, main)
                else:
                    self._break("fork", other, "follows a message another one already follows")
                    self._branch(other)

    def _settle(self, p: bytes) -> list[Row]:
        """Rows whose p no row of the day produces: repeats, forks and branches are dealt
        with; the rest (orphans) are returned."""
        orphans = []
        for row in self._take(p):
            prior = self.placed.get(p) or self._before(p)
            if row.h in self.state.gaps:  # the missing message, late
                del self.state.gaps[row.h]
                self.links.late[self.point] += 1
                self._branch(row, keep_tip=False)
            elif prior is not None and prior.h == row.h:
                self._repeat(row, prior)
            elif prior is not None:
                self._break("fork", row, "follows a message another one already follows")
                self._branch(row)
            elif p in self.state.tips:
                del self.state.tips[p]
                self._branch(row)
            elif p == signing.GENESIS:
                self._break("gap", row, "the chain starts again from its beginning")
                self._jump(row)
            else:
                orphans.append(row)
        return orphans

    def _orphan(self, row: Row) -> None:
        """A message after one nobody holds: the chain goes on from it if it is the newer
        line (held as a gap until the end), else it is a branch of its own."""
        state = self.state
        self._gap(row)
        head = state.head
        if head is None or self._tip_ms(row) >= head.received_ms:
            self._jump(row)
        else:
            self._branch(row)

    def _gap(self, row: Row) -> None:
        state = self.state
        head = state.head
        if head is not None and not head.trusted:
            return  # the message before it was altered: named already
        if state.loose_bad:
            state.loose_bad -= 1
            return
        state.gaps[row.p] = Break(
            "gap",
            self.point,
            row,
            "follows a message the archive does not hold (missing before it)",
        )

    def _jump(self, row: Row) -> None:
        self._place(row)
        self._walk()

    def _branch(self, row: Row, keep_tip: bool = True) -> None:
        """Follow a side branch silently (its first message is named already)."""
        tip = row
        for later in self._descendants(row):
            if later.order > tip.order:
                tip = later
        if keep_tip:
            tips = self.state.tips
            tips[tip.h] = None
            while len(tips) > _TIPS:
                del tips[next(iter(tips))]

    def _descendants(self, row: Row) -> Iterator[Row]:
        """Every row of the day that follows this one, directly or not; each is taken."""
        queue = [row.h]
        while queue:
            group = self._take(queue.pop())
            if not group:
                continue
            main = group[0]
            for other in group[1:]:
                if other.h == main.h:
                    self.links.redelivered[self.point] += 1
                else:
                    queue.append(other.h)
            queue.append(main.h)
            yield main

    def _tip_ms(self, row: Row) -> int:
        """When the newest message of the line that starts at `row` arrived (not taken)."""
        newest, at, seen = row.received_ms, row.h, 0
        while at in self.by_p and seen <= len(self.produced):
            nxt = self.by_p[at][0]
            newest, at, seen = max(newest, nxt.received_ms), nxt.h, seen + 1
        return newest

    # -- bookkeeping ----------------------------------------------------------------------------
    def _take(self, p: bytes) -> list[Row]:
        group = self.by_p.pop(p, [])
        for row in group:
            self.produced[row.h] -= 1
        return group

    def _take_row(self, row: Row) -> None:
        group = self.by_p[row.p]
        group.remove(row)
        self.produced[row.h] -= 1
        if not group:
            del self.by_p[row.p]
        else:  # the rest of its group follow the same message
            for other in self._take(row.p):
                if other.h == row.h:
                    self._repeat(other, row)
                else:
                    self._break("fork", other, "follows a message another one already follows")
                    self._branch(other)

    def _place(self, row: Row) -> None:
        self.placed[row.p] = row
        self.state.head = row

    def _repeat(self, row: Row, first: Row) -> None:
        age_ms = row.received_ms - first.received_ms
        if age_ms <= self.links.redelivery_ms:
            self.links.redelivered[self.point] += 1
            return
        self._break(
            "replay",
            row,
            f"the same message as {self.links.where(first)}, again {age_ms / 3_600_000:.1f} h"
            " later",
        )

    def _break(self, kind: str, row: Row, detail: str) -> None:
        self.links.breaks.append(Break(kind, self.point, row, detail))

    def _before(self, p: bytes) -> Row | None:
        """The row placed the day before that follows p (binary search in the packed rows)."""
        data = self.state.before
        low, high = 0, len(data) // ROW.size
        while low < high:
            mid = (low + high) // 2
            key = data[mid * ROW.size : mid * ROW.size + 32]
            if key < p:
                low = mid + 1
            elif key > p:
                high = mid
            else:
                return Row.unpack(data, mid * ROW.size)
        return None
