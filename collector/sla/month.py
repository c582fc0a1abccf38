"""One point over one period, from its hourly rollups and capacity tests. Pure.

The registry decides which minutes count: before installation, after removal and outside every
contract of the point's provider a minute is inactive (not billed, not judged); inside a
declared maintenance window it is excluded. Everything else comes from the rollups.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from pantau.collector.sla.capacity import CapacityTest, PointCapacity, point_capacity
from pantau.collector.sla.figures import Figures
from pantau.collector.sla.hourly import (
    DOWN,
    EXCLUDED,
    INACTIVE,
    NO_SAMPLE,
    UNREACHABLE,
    UP,
    WAN_UNKNOWN,
    HourRollup,
)
from pantau.collector.sla.outages import Availability, availability
from pantau.collector.sla.periods import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    Period,
    day_start_ms,
    from_ms,
)
from pantau.collector.sla.stats import median
from pantau.shared.registry import Point, Registry, Terms

WIB_OFFSET_H = 7  # Asia/Jakarta has been UTC+7, without daylight saving, since 1964
CONTEXT_MS = DAY_MS  # how far beyond the period an outage is followed to judge its length
EMPTY_HOUR = NO_SAMPLE * 60
_MIN = -(2**62)
_MAX = 2**62


@dataclass(frozen=True)
class PointPlan:
    """What the registry says about one point for one period."""

    point: Point
    terms: Terms
    active: tuple[tuple[int, int], ...]  # [start_ms, end_ms) intervals where the point counts
    excluded: tuple[tuple[int, int], ...]  # maintenance windows


def _intersect(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int] | None:
    lo, hi = max(a[0], b[0]), min(a[1], b[1])
    return (lo, hi) if lo < hi else None


def _merge(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(intervals):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


def plan_point(registry: Registry, point: Point, period: Period) -> PointPlan | None:
    """Active intervals within the period ± context, and the terms; None if never active."""
    life = (
        day_start_ms(point.installed) if point.installed else _MIN,
        day_start_ms(point.removed) if point.removed else _MAX,
    )
    contracts = registry.contracts_of(point.provider)
    covered = _merge(
        [
            (
                day_start_ms(c.valid_from) if c.valid_from else _MIN,
                day_start_ms(c.valid_until + dt.timedelta(days=1)) if c.valid_until else _MAX,
            )
            for c in contracts
        ]
    )
    window = (period.start_ms - CONTEXT_MS, period.end_ms + CONTEXT_MS)
    active = []
    for interval in covered:
        part = _intersect(interval, life)
        part = _intersect(part, window) if part else None
        if part:
            active.append(part)
    in_period = [p for a in active if (p := _intersect(a, (period.start_ms, period.end_ms)))]
    if not in_period:
        return None
    contract = registry.contract_on(point.provider, from_ms(in_period[0][0]).date())
    assert contract is not None  # the active interval lies inside a contract
    excluded = tuple(
        (int(w.start.timestamp() * 1000), int(w.end.timestamp() * 1000)) for w in point.maintenance
    )
    return PointPlan(point, contract.terms_for(point.kelurahan), tuple(active), excluded)


@dataclass
class PointDetail:
    """A point's figures plus what groups pool and what the HTML charts draw."""

    figures: Figures
    availability: Availability
    capacity: PointCapacity
    rtt_hour_medians: np.ndarray = field(default_factory=lambda: np.zeros(0))
    loss_hour_medians: np.ndarray = field(default_factory=lambda: np.zeros(0))
    jitter_hour_medians: np.ndarray = field(default_factory=lambda: np.zeros(0))
    rx_slots_kbps: np.ndarray = field(default_factory=lambda: np.zeros(0))
    tx_slots_kbps: np.ndarray = field(default_factory=lambda: np.zeros(0))
    clients_by_hour_sum: list[int] = field(default_factory=lambda: [0] * 24)
    clients_by_hour_n: list[int] = field(default_factory=lambda: [0] * 24)
    rtt_over_hours: int = 0
    loss_over_hours: int = 0


def masked_states(
    plan: PointPlan, rollups: Mapping[int, HourRollup], start_ms: int, end_ms: int
) -> str:
    """Minute letters over [start_ms, end_ms) with the registry's masks applied."""
    hours = range(start_ms, end_ms, HOUR_MS)
    states = bytearray(
        "".join(r.states if (r := rollups.get(h)) else EMPTY_HOUR for h in hours), "ascii"
    )
    n = len(states)
    keep = bytearray(INACTIVE * n, "ascii")
    for lo, hi in plan.active:
        a, b = _index(lo, start_ms, n), _index(hi, start_ms, n)
        keep[a:b] = states[a:b]
    excluded = ord(EXCLUDED)
    inactive = ord(INACTIVE)
    for lo, hi in plan.excluded:
        a, b = _index(lo, start_ms, n), _index(hi, start_ms, n)
        for i in range(a, b):
            if keep[i] != inactive:
                keep[i] = excluded
    return keep.decode("ascii")


def _index(ms: int, start_ms: int, n: int) -> int:
    """Index of the first minute starting at or after ms, clamped to [0, n]."""
    return min(n, max(0, -(-(ms - start_ms) // MINUTE_MS)))


def point_month(
    plan: PointPlan,
    period: Period,
    rollups: Mapping[int, HourRollup],
    tests: Sequence[CapacityTest],
) -> PointDetail:
    """Every figure of one point for the period. `rollups` maps UTC hour start → row and may
    (should) include the day before and after the period, so edge outages are judged whole."""
    terms = plan.terms
    ctx_start = period.start_ms - CONTEXT_MS
    states = masked_states(plan, rollups, ctx_start, period.end_ms + CONTEXT_MS)
    p0 = CONTEXT_MS // MINUTE_MS
    p1 = p0 + period.minutes
    window = states[p0:p1]
    avail = availability(
        states, ctx_start, p0, p1, terms.outage_threshold_s, terms.no_data_counts_as_down
    )
    counts = {letter: window.count(letter) for letter in "UDNXWE-"}
    active_minutes = period.minutes - counts[INACTIVE]
    judged = active_minutes - counts[EXCLUDED]
    no_data = counts[NO_SAMPLE] + counts[UNREACHABLE] + counts[WAN_UNKNOWN]
    pct = avail.pct

    detail = PointDetail(
        figures=Figures(level="point", id=plan.point.id),
        availability=avail,
        capacity=point_capacity(
            _active_tests(plan, tests, period),
            terms.down_mbps,
            terms.up_mbps,
            terms.peak_start,
            terms.peak_end,
        ),
    )
    f = detail.figures
    f.kelurahan, f.kecamatan, f.provider = (
        plan.point.kelurahan,
        plan.point.kecamatan,
        plan.point.provider,
    )
    f.points = 1
    f.active_days = round(active_minutes / 1440, 4)
    f.minutes_active = active_minutes
    f.minutes_excluded = counts[EXCLUDED]
    f.minutes_up = counts[UP]
    f.minutes_provider_down = counts[DOWN]
    f.minutes_no_data = no_data
    f.minutes_no_sample = counts[NO_SAMPLE]
    f.minutes_device_unreachable = counts[UNREACHABLE]
    f.minutes_wan_unknown = counts[WAN_UNKNOWN]
    f.minutes_outage = avail.outage_minutes
    f.minutes_short_interruption = avail.short_minutes
    f.availability_pct = pct
    f.availability_target_pct = terms.availability_target_pct
    f.meets_target = None if pct is None else pct >= terms.availability_target_pct
    f.points_meeting_target_n = int(bool(f.meets_target))
    f.no_data_pct = 100.0 * no_data / judged if judged else None
    f.no_data_counts_as_down = terms.no_data_counts_as_down
    durations = [o.duration_s for o in avail.outages]
    f.outages_n = len(durations)
    f.outage_total_s = sum(durations)
    f.outage_longest_s = max(durations, default=0)
    f.mttr_s = sum(durations) / len(durations) if durations else None
    f.short_interruptions_n = len(avail.short_interruptions)
    _capacity_figures(f, detail.capacity)
    _hourly_figures(detail, plan, period, rollups)
    _money_figures(f, terms, active_minutes, period.minutes, pct)
    f.rtt_threshold_ms = terms.rtt_threshold_ms
    f.loss_threshold_pct = terms.loss_threshold_pct
    return detail


def _active_tests(
    plan: PointPlan, tests: Sequence[CapacityTest], period: Period
) -> list[CapacityTest]:
    spans = [s for a in plan.active if (s := _intersect(a, (period.start_ms, period.end_ms)))]
    if len(spans) == 1:
        lo, hi = spans[0]
        return [t for t in tests if lo <= t.ts_ms < hi]
    return [t for t in tests if any(lo <= t.ts_ms < hi for lo, hi in spans)]


def _capacity_figures(f: Figures, cap: PointCapacity) -> None:
    f.committed_down_mbps = cap.committed_down_mbps
    f.committed_up_mbps = cap.committed_up_mbps
    f.tests_n = cap.tests_n
    f.points_tested = int(cap.tests_n > 0)
    f.down_median_mbps = cap.down_median_mbps
    f.down_median_pct = cap.down_median_pct
    f.tests_ge_100_pct = cap.tests_ge_100_pct
    f.tests_ge_80_pct = cap.tests_ge_80_pct
    f.peak_tests_n = len(cap.peak_down_mbps)
    f.peak_down_median_mbps = cap.peak_down_median_mbps
    f.up_tests_n = len(cap.up_mbps)
    f.up_median_mbps = cap.up_median_mbps
    f.speed_80_mbps = cap.down_80_mbps
    f.speed_class = cap.speed_class


def _money_figures(
    f: Figures, terms: Terms, active_minutes: int, period_minutes: int, pct: float | None
) -> None:
    """Fee prorated by active minutes; deduction from the penalty bracket; Rp per Mbps."""
    fee = round(terms.fee_idr * active_minutes / period_minutes)
    deduction_pct = terms.deduction_pct(pct)
    deduction = round(fee * deduction_pct / 100)
    f.fee_idr = fee
    f.deduction_pct = deduction_pct
    f.deduction_idr = deduction
    f.net_payable_idr = fee - deduction
    f.idr_per_mbps = (fee - deduction) / f.down_median_mbps if f.down_median_mbps else None


def _hourly_figures(
    detail: PointDetail,
    plan: PointPlan,
    period: Period,
    rollups: Mapping[int, HourRollup],
) -> None:
    """Data quality, latency, utilisation and clients from the active hours' rows.

    Written as passes over columns rather than one branchy loop: a month of 430 points is
    320 000 rows, and this runs inside the report's time budget.
    """
    f = detail.figures
    active_spans = [
        span for a in plan.active if (span := _intersect(a, (period.start_ms, period.end_ms)))
    ]
    active_hours = sum((hi - lo) // HOUR_MS for lo, hi in active_spans)
    context = [
        rollups[h] for h in sorted(rollups) if period.start_ms - CONTEXT_MS <= h < period.end_ms
    ]
    if len(active_spans) == 1:
        lo, hi = active_spans[0]
        rows = [r for r in context if lo <= r.hour_ms < hi]
    else:
        rows = [r for r in context if any(lo <= r.hour_ms < hi for lo, hi in active_spans)]
    counted = {r.hour_ms for r in rows}
    typical = median([r.interval_s for r in context if r.interval_s]) or 60.0
    expected = sum(3600 / (r.interval_s or typical) for r in rows)
    expected += (active_hours - len(rows)) * 3600 / typical

    gaps = resets = 0
    last_seq: int | None = None
    for row in context:  # seq gaps are counted between stored samples, across hours too
        if row.seq_first is None or row.seq_last is None:
            continue
        if row.hour_ms in counted:
            gaps += row.seq_gaps
            resets += row.seq_resets
            if last_seq is not None and row.seq_first > last_seq + 1:
                gaps += row.seq_first - last_seq - 1
            elif last_seq is not None and row.seq_first < last_seq:
                resets += 1
        last_seq = row.seq_last

    for row in rows:
        if row.clients_n:
            hod = (row.hour_ms // HOUR_MS + WIB_OFFSET_H) % 24
            detail.clients_by_hour_sum[hod] += row.clients_sum
            detail.clients_by_hour_n[hod] += row.clients_n
    clients_sum = sum(detail.clients_by_hour_sum)
    clients_n = sum(detail.clients_by_hour_n)
    peaks = [r.clients_max for r in rows if r.clients_max is not None]
    detail.rtt_hour_medians = _column([r.rtt_median_ms for r in rows])
    detail.loss_hour_medians = _column([r.loss_median_pct for r in rows])
    detail.jitter_hour_medians = _column([r.jitter_median_ms for r in rows])
    detail.rx_slots_kbps = parse_slots([r.rx_kbps_5m for r in rows])
    detail.tx_slots_kbps = parse_slots([r.tx_kbps_5m for r in rows])

    received = sum(r.samples_n for r in rows)
    f.samples_received = received
    f.samples_expected = round(expected)
    f.coverage_pct = 100.0 * received / expected if expected else None
    f.seq_gaps = gaps
    f.seq_resets = resets
    f.unsynced_samples = sum(r.unsynced_n for r in rows)
    f.clients_peak = max(peaks) if peaks else None
    f.clients_mean = clients_sum / clients_n if clients_n else None
    quality_figures(f, detail.rtt_hour_medians, detail.loss_hour_medians, plan.terms)
    detail.rtt_over_hours = int((detail.rtt_hour_medians > plan.terms.rtt_threshold_ms).sum())
    detail.loss_over_hours = int((detail.loss_hour_medians > plan.terms.loss_threshold_pct).sum())
    f.jitter_median_ms = array_median(detail.jitter_hour_medians)
    utilisation_figures(f, detail.rx_slots_kbps, detail.tx_slots_kbps, plan.terms.down_mbps)


def quality_figures(f: Figures, rtt: np.ndarray, loss: np.ndarray, terms: Terms) -> None:
    """Median of hourly medians, and the share of hours whose median is over the threshold."""
    f.rtt_median_ms = array_median(rtt)
    f.loss_median_pct = array_median(loss)
    f.rtt_over_threshold_hours_pct = (
        100.0 * int((rtt > terms.rtt_threshold_ms).sum()) / rtt.size if rtt.size else None
    )
    f.loss_over_threshold_hours_pct = (
        100.0 * int((loss > terms.loss_threshold_pct).sum()) / loss.size if loss.size else None
    )


def _column(values: list[float | None]) -> np.ndarray:
    """The values that are present, as a float array."""
    return np.array([v for v in values if v is not None], dtype=np.float64)


def array_median(values: np.ndarray) -> float | None:
    """The same median as stats.median (mean of the two middle values), in numpy."""
    return float(np.median(values)) if values.size else None


def utilisation_figures(f: Figures, rx: np.ndarray, tx: np.ndarray, committed: float) -> None:
    """95th percentile (nearest rank) of 5-minute mean throughput, in Mbit/s."""
    f.rx_p95_mbps = p95_mbps(rx)
    f.tx_p95_mbps = p95_mbps(tx)
    f.utilisation_p95_pct = 100.0 * f.rx_p95_mbps / committed if f.rx_p95_mbps is not None else None


def p95_mbps(kbps: np.ndarray) -> float | None:
    if kbps.size == 0:
        return None
    rank = max(1, -(-kbps.size * 95 // 100))
    return float(np.partition(kbps, rank - 1)[rank - 1]) / 1000


def parse_slots(parts: list[str]) -> np.ndarray:
    """Encoded 5-minute slots of many hours → one array of the slots that had a rate (kbit/s).

    Empty slots become -1 so numpy's C parser reads the whole text at once, then are dropped.
    """
    if not parts:
        return np.zeros(0, dtype=np.int64)
    text = "," + ",".join(parts) + ","
    text = text.replace(",,", ",-1,").replace(",,", ",-1,")
    values = np.fromstring(text[1:-1], dtype=np.int64, sep=",")
    return values[values >= 0]
