"""Samples of one point and one UTC hour → one `sla_hourly` row. Pure.

The row keeps everything a month report needs, so reports never read raw samples and still get
exact figures: a 60-letter minute-state string (outages crossing hours stay exact), sample and
seq counts, 5-minute mean throughput, client sums, and hourly medians of RTT/loss/jitter.

A sample taken at t with interval i covers the minute containing t and the following minutes up
to ⌈i/60⌉ minutes in all: with i ≤ 60 s that is exactly "the minute the sample falls in".
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pantau.collector.sla.periods import HOUR_MS, MINUTE_MS

ROLLUP_VERSION = 1
MAX_COVER_MS = HOUR_MS  # a sample covers at most one hour (longer intervals are truncated)

# Minute-state letters stored in rollups (data-derived) ...
UP = "U"
DOWN = "D"
NO_SAMPLE = "N"
UNREACHABLE = "X"
WAN_UNKNOWN = "W"
# ... and the two the registry adds at report time.
EXCLUDED = "E"
INACTIVE = "-"
NO_DATA_LETTERS = NO_SAMPLE + UNREACHABLE + WAN_UNKNOWN
SLOTS_PER_HOUR = 12  # 5-minute slots
EMPTY_SLOTS = "," * (SLOTS_PER_HOUR - 1)


@dataclass(frozen=True, slots=True)
class RawSample:
    """The fields of a stored `telemetry` row the SLA needs."""

    ts_ms: int
    seq: int | None = None
    interval_s: float = 60.0
    device_up: bool = True
    wan_up: bool | None = None
    rtt_ms: float | None = None
    loss_pct: float | None = None
    jitter_ms: float | None = None
    rx_bps: float | None = None
    tx_bps: float | None = None
    clients: int | None = None
    clock_synced: bool | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> RawSample:
        """From an InfluxQL row (time in epoch ms) or a wire Sample dumped to a dict."""
        ts = row.get("ts_ms", row.get("time"))
        clients = _first_not_none(
            row.get("clients_hotspot"), row.get("clients_assoc"), row.get("clients_dhcp")
        )
        seq = row.get("seq")
        return cls(
            ts_ms=int(ts),
            seq=int(seq) if seq is not None else None,
            interval_s=float(row.get("interval_s") or 60.0),
            device_up=row.get("device_up") is not False,  # absent: let wan_up decide
            wan_up=row.get("wan_up"),
            rtt_ms=row.get("rtt_ms"),
            loss_pct=row.get("loss_pct"),
            jitter_ms=row.get("jitter_ms"),
            rx_bps=row.get("rx_bps"),
            tx_bps=row.get("tx_bps"),
            clients=int(clients) if clients is not None else None,
            clock_synced=row.get("clock_synced"),
        )

    def covered_minutes(self) -> range:
        """Epoch minutes this sample speaks for."""
        first = self.ts_ms // MINUTE_MS
        count = max(1, math.ceil(self.interval_s / 60 - 1e-9))
        count = min(count, MAX_COVER_MS // MINUTE_MS)
        return range(first, first + count)

    def vote(self) -> str:
        """u: WAN up, d: WAN down, x: router unreachable, w: WAN state unknown."""
        if not self.device_up:
            return "x"
        if self.wan_up is None:
            return "w"
        return "u" if self.wan_up else "d"


def _first_not_none(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


@dataclass(frozen=True, slots=True)
class HourRollup:
    """One `sla_hourly` row. `hour_ms` is the UTC hour start."""

    hour_ms: int
    states: str  # 60 letters: U D N X W
    samples_n: int = 0
    interval_s: float | None = None
    seq_first: int | None = None
    seq_last: int | None = None
    seq_gaps: int = 0
    seq_resets: int = 0
    unsynced_n: int = 0
    clients_max: int | None = None
    clients_sum: int = 0
    clients_n: int = 0
    rtt_median_ms: float | None = None
    loss_median_pct: float | None = None
    jitter_median_ms: float | None = None
    rx_kbps_5m: str = EMPTY_SLOTS  # encoded, see encode_slots
    tx_kbps_5m: str = EMPTY_SLOTS

    def to_fields(self) -> dict[str, Any]:
        """Line-protocol fields. Strings and counts are always written, so a recomputed hour
        overwrites every field it had before; medians appear once there is data for them."""
        fields: dict[str, Any] = {
            "v": ROLLUP_VERSION,
            "states": compact_states(self.states),
            "samples_n": self.samples_n,
            "seq_gaps": self.seq_gaps,
            "seq_resets": self.seq_resets,
            "unsynced_n": self.unsynced_n,
            "clients_sum": self.clients_sum,
            "clients_n": self.clients_n,
            "rx_kbps_5m": self.rx_kbps_5m,
            "tx_kbps_5m": self.tx_kbps_5m,
        }
        optional = {
            "interval_s": self.interval_s,
            "seq_first": self.seq_first,
            "seq_last": self.seq_last,
            "clients_max": self.clients_max,
            "rtt_median_ms": self.rtt_median_ms,
            "loss_median_pct": self.loss_median_pct,
            "jitter_median_ms": self.jitter_median_ms,
        }
        fields.update({k: v for k, v in optional.items() if v is not None})
        return fields

    @classmethod
    def from_fields(cls, hour_ms: int, row: Mapping[str, Any]) -> HourRollup:
        def opt_int(name: str) -> int | None:
            value = row.get(name)
            return int(value) if value is not None else None

        def opt_float(name: str) -> float | None:
            value = row.get(name)
            return float(value) if value is not None else None

        return cls(
            hour_ms=hour_ms,
            states=expand_states(str(row.get("states") or NO_SAMPLE)),
            samples_n=int(row.get("samples_n") or 0),
            interval_s=opt_float("interval_s"),
            seq_first=opt_int("seq_first"),
            seq_last=opt_int("seq_last"),
            seq_gaps=int(row.get("seq_gaps") or 0),
            seq_resets=int(row.get("seq_resets") or 0),
            unsynced_n=int(row.get("unsynced_n") or 0),
            clients_max=opt_int("clients_max"),
            clients_sum=int(row.get("clients_sum") or 0),
            clients_n=int(row.get("clients_n") or 0),
            rtt_median_ms=opt_float("rtt_median_ms"),
            loss_median_pct=opt_float("loss_median_pct"),
            jitter_median_ms=opt_float("jitter_median_ms"),
            rx_kbps_5m=str(row.get("rx_kbps_5m") or EMPTY_SLOTS),
            tx_kbps_5m=str(row.get("tx_kbps_5m") or EMPTY_SLOTS),
        )


def compact_states(states: str) -> str:
    """An hour of one state (most hours) is stored as its one letter."""
    return states[0] if states == states[0] * 60 else states


def expand_states(stored: str) -> str:
    return stored * 60 if len(stored) == 1 else stored


def encode_slots(values: Iterable[int | None]) -> str:
    """12 five-minute means as 'kbps,kbps,,...' (empty where the slot had no rate)."""
    return ",".join("" if v is None else str(v) for v in values)


def minute_state(votes: str) -> str:
    """One minute's letter from its samples' votes (see RawSample.vote).

    Among samples that could see the WAN, more than half down → provider_down, else up. With
    none that could see it: router unreachable (X) wins over WAN unknown (W); none at all: N.
    """
    up, down = votes.count("u"), votes.count("d")
    if up + down:
        return DOWN if 2 * down > up + down else UP
    if "x" in votes:
        return UNREACHABLE
    if "w" in votes:
        return WAN_UNKNOWN
    return NO_SAMPLE


def hours_touched(samples: Iterable[RawSample]) -> set[int]:
    """UTC hour starts (ms) whose rollup a write of these samples changes."""
    hours: set[int] = set()
    for sample in samples:
        covered = sample.covered_minutes()
        first = covered.start * MINUTE_MS // HOUR_MS
        last = (covered.stop - 1) * MINUTE_MS // HOUR_MS
        hours.update(h * HOUR_MS for h in range(first, last + 1))
    return hours


def rollup_hour(samples: Iterable[RawSample], hour_ms: int) -> HourRollup | None:
    """Everything one point-hour contributes to the SLA; None when no sample touches the hour.

    `samples` may include samples of neighbouring hours: those of the previous hour whose
    interval reaches into this one vote for its first minutes; the rest are ignored.
    """
    if hour_ms % HOUR_MS:
        raise ValueError(f"hour_ms {hour_ms} is not on a UTC hour boundary")
    first_minute = hour_ms // MINUTE_MS
    votes = [""] * 60
    rx: list[list[float]] = [[] for _ in range(60)]
    tx: list[list[float]] = [[] for _ in range(60)]
    inside: list[RawSample] = []
    touched = False
    for sample in samples:
        if hour_ms <= sample.ts_ms < hour_ms + HOUR_MS:
            inside.append(sample)
        vote = sample.vote()
        for minute in sample.covered_minutes():
            index = minute - first_minute
            if 0 <= index < 60:
                touched = True
                votes[index] += vote
                if sample.rx_bps is not None:
                    rx[index].append(sample.rx_bps)
                if sample.tx_bps is not None:
                    tx[index].append(sample.tx_bps)
    if not touched and not inside:
        return None
    inside.sort(key=lambda s: s.ts_ms)
    seq_first, seq_last, gaps, resets = _seq_figures(inside)
    clients = [s.clients for s in inside if s.clients is not None]
    return HourRollup(
        hour_ms=hour_ms,
        states="".join(minute_state(v) for v in votes),
        samples_n=len(inside),
        interval_s=_median([s.interval_s for s in inside]),
        seq_first=seq_first,
        seq_last=seq_last,
        seq_gaps=gaps,
        seq_resets=resets,
        unsynced_n=sum(1 for s in inside if s.clock_synced is False),
        clients_max=max(clients) if clients else None,
        clients_sum=sum(clients),
        clients_n=len(clients),
        rtt_median_ms=_median([s.rtt_ms for s in inside if s.rtt_ms is not None]),
        loss_median_pct=_median([s.loss_pct for s in inside if s.loss_pct is not None]),
        jitter_median_ms=_median([s.jitter_ms for s in inside if s.jitter_ms is not None]),
        rx_kbps_5m=encode_slots(_slot_means(rx)),
        tx_kbps_5m=encode_slots(_slot_means(tx)),
    )


def _seq_figures(inside: list[RawSample]) -> tuple[int | None, int | None, int, int]:
    """First and last seq of the hour, missing seq numbers between samples, and resets."""
    seqs = [s.seq for s in inside if s.seq is not None]
    if not seqs:
        return None, None, 0, 0
    gaps = resets = 0
    for before, after in itertools.pairwise(seqs):
        if after > before + 1:
            gaps += after - before - 1
        elif after < before:
            resets += 1
    return seqs[0], seqs[-1], gaps, resets


def _median(values: list[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def _slot_means(per_minute: list[list[float]]) -> tuple[int | None, ...]:
    """Mean of the minute means in each 5-minute slot, in kbit/s (rounded)."""
    slots: list[int | None] = []
    for slot in range(SLOTS_PER_HOUR):
        minute_means = [sum(v) / len(v) for v in per_minute[slot * 5 : slot * 5 + 5] if v]
        slots.append(round(sum(minute_means) / len(minute_means) / 1000) if minute_means else None)
    return tuple(slots)
