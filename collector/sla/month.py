"""One point over one period, from its hourly rollups and capacity tests. Pure.

The registry decides which minutes count: before installation, after removal and outside every
contract of the point's provider a minute is inactive (not billed, not judged); inside a
declared maintenance window it is excluded. Everything else comes from the rollups.

Money is never paid silently on missing evidence: a point with an active hour whose raw data
has no rollup, or a rollup older than its raw data, or with no usable minute at all, gets no
deduction and no net payable; its fee is "to be decided" instead (`to_be_decided_idr`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from pantau.collector.sla.capacity import CapacityTest, PointCapacity, point_capacity
from pantau.collector.sla.daily import ABSENT, MISSING, STALE, PointHours
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
from pantau.collector.sla.speed import (
    NOT_ENOUGH_TESTS,
    SpeedVerdict,
    dec,
    money,
    prorated_fee,
    speed_verdict,
)
from pantau.collector.sla.stats import median
from pantau.shared.registry import Contract, Point, Registry, Terms

WIB_OFFSET_H = 7  # Asia/Jakarta has been UTC+7, without daylight saving, since 1964
CONTEXT_MS = DAY_MS  # how far beyond the period an outage is followed to judge its length
EMPTY_HOUR = NO_SAMPLE * 60
# why a point's payment is to be decided, most pressing first
ROLLUP_MISSING = "rollup_missing"  # raw data without a rollup: rebuild the rollups
ROLLUP_STALE = "rollup_stale"  # a rollup older than raw data that arrived since: rebuild
NO_DATA = "no_data"  # judged minutes, but not one with data to judge them by
LOW_COVERAGE = "low_coverage"  # fewer samples than the contract's minimum coverage
NOT_ENOUGH = NOT_ENOUGH_TESTS  # fewer peak-window speed tests than the contract's minimum
_MIN = -(2**62)
_MAX = 2**62


@dataclass(frozen=True)
class PointPlan:
    """What the registry says about one point for one period."""

    point: Point
    terms: Terms
    contract: Contract
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
    return PointPlan(point, contract.terms_for(point.kelurahan), contract, tuple(active), excluded)


@dataclass
class PointDetail:
    """A point's figures plus what groups pool and what the HTML charts draw."""

    figures: Figures
    availability: Availability
    capacity: PointCapacity
    rtt_hour_medians: np.ndarray = field(default_factory=lambda: np.zeros(0))
    peak_rtt_hour_medians: np.ndarray = field(default_factory=lambda: np.zeros(0))
    loss_hour_medians: np.ndarray = field(default_factory=lambda: np.zeros(0))
    jitter_hour_medians: np.ndarray = field(default_factory=lambda: np.zeros(0))
    rx_slots_kbps: np.ndarray = field(default_factory=lambda: np.zeros(0))
    tx_slots_kbps: np.ndarray = field(default_factory=lambda: np.zeros(0))
    clients_by_hour_sum: list[int] = field(default_factory=lambda: [0] * 24)
    clients_by_hour_n: list[int] = field(default_factory=lambda: [0] * 24)
    rtt_over_hours: int = 0
    loss_over_hours: int = 0
    hours_with_data: int = 0  # active hours of the period with a rollup or raw data marked
    oldest_incomplete_ms: int | None = None  # first active hour whose rollup is missing/stale
    speed: SpeedVerdict = field(default_factory=lambda: SpeedVerdict("no_schedule"))


def masked_states(plan: PointPlan, states: str, start_ms: int) -> str:
    """Minute letters from start_ms (one per minute of `states`) with the registry's masks
    applied: inactive minutes become '-', maintenance 'E'."""
    n = len(states)
    raw = states.encode("ascii")
    keep = bytearray(INACTIVE * n, "ascii")
    for lo, hi in plan.active:
        a, b = _index(lo, start_ms, n), _index(hi, start_ms, n)
        keep[a:b] = raw[a:b]
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
    rollups: PointHours | Mapping[int, HourRollup],
    tests: Sequence[CapacityTest],
    now_ms: int | None = None,
) -> PointDetail:
    """Every figure of one point for the period. `rollups` covers the period and one day
    either side (CONTEXT_MS), so edge outages are judged whole: a PointHours over exactly that
    window, or rows by UTC hour start (hours without a row have no data). In a month not over
    at `now_ms`, data quality (coverage above all) counts only the hours already over."""
    terms = plan.terms
    ctx_start = period.start_ms - CONTEXT_MS
    ctx_end = period.end_ms + CONTEXT_MS
    if isinstance(rollups, PointHours):
        hours = rollups
        if (hours.start_ms, hours.end_ms) != (ctx_start, ctx_end):
            raise ValueError(
                f"point {plan.point.id}: hours cover [{hours.start_ms}, {hours.end_ms}),"
                f" the report needs [{ctx_start}, {ctx_end})"
            )
    else:
        hours = PointHours.from_rollups(rollups, ctx_start, ctx_end)
    states = masked_states(plan, hours.states, ctx_start)
    p0 = CONTEXT_MS // MINUTE_MS
    p1 = p0 + period.minutes
    window = states[p0:p1]
    avail = availability(
        states, ctx_start, p0, p1, terms.outage_threshold_s, terms.no_data_counts_as_down
    )
    tally = np.bincount(np.frombuffer(window.encode("ascii"), dtype=np.uint8), minlength=128)
    counts = {letter: int(tally[ord(letter)]) for letter in "UDNXWE-"}
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
    _hourly_figures(detail, plan, period, hours, now_ms)
    _evidence_figures(detail, plan, period, hours)
    detail.speed = speed_verdict(
        terms,
        detail.capacity.peak_down_mbps,
        detail.peak_rtt_hour_medians.tolist(),
        judged=judged > 0,
    )
    _speed_figures(f, terms, detail.speed)
    undecided = to_be_decided(
        f,
        pct is None and judged > 0,
        judged > 0 and f.coverage_pct is not None and f.coverage_pct < terms.min_coverage_pct,
        not detail.speed.decided,
    )
    _money_figures(f, terms, active_minutes, period.minutes, pct, undecided, detail.speed)
    f.rtt_threshold_ms = terms.rtt_threshold_ms
    f.loss_threshold_pct = terms.loss_threshold_pct
    return detail


def to_be_decided(
    f: Figures, no_usable_minute: bool, low_coverage: bool = False, not_enough_tests: bool = False
) -> str | None:
    """Why the point's payment cannot be decided from the evidence, or None when it can."""
    if f.evidence_missing_hours:
        return ROLLUP_MISSING
    if f.evidence_stale_hours:
        return ROLLUP_STALE
    if no_usable_minute:
        return NO_DATA
    if low_coverage:
        return LOW_COVERAGE
    if not_enough_tests:
        return NOT_ENOUGH
    return None


def _speed_figures(f: Figures, terms: Terms, verdict: SpeedVerdict) -> None:
    speed = terms.speed
    f.speed_schedule = verdict.kind
    f.deduction_rule = terms.combine
    f.min_coverage_pct = terms.min_coverage_pct
    f.speed_verdict = verdict.verdict
    if speed is not None:
        f.goodput_allowance_pct = speed.goodput_allowance_pct
        f.speed_min_tests = speed.min_tests
    f.speed_judged_mbps = _float(verdict.judged_mbps)
    f.speed_peak_pct = _float(verdict.peak_pct)
    f.speed_tests_reaching_pct = _float(verdict.tests_reaching_pct)
    f.latency_ok_pct = _float(verdict.latency_ok_pct)
    f.points_not_enough_tests_n = int(verdict.verdict == NOT_ENOUGH)


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


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
    f: Figures,
    terms: Terms,
    active_minutes: int,
    period_minutes: int,
    pct: float | None,
    undecided: str | None,
    speed: SpeedVerdict,
) -> None:
    """Fee prorated by active minutes; the availability and speed deductions combined by the
    contract's rule (sla/speed.py); Rp per Mbps. A fee that cannot be decided from the evidence
    is held back whole: no deduction, no net."""
    fee = prorated_fee(terms.fee_idr, active_minutes, period_minutes)
    f.fee_idr = fee
    f.to_be_decided_reason = undecided
    f.points_to_be_decided_n = int(undecided is not None)
    f.points_speed_short_n = 0
    if undecided is not None:
        f.to_be_decided_idr = fee
        return
    bill = money(fee, terms.combine, dec(terms.deduction_pct(pct)), speed.deduction_pct)
    f.to_be_decided_idr = 0
    f.deduction_availability_pct = float(bill.availability_pct)
    f.deduction_speed_pct = float(bill.speed_pct)
    f.deduction_pct = float(bill.combined_pct)
    f.deduction_idr = bill.deduction_idr
    f.deduction_availability_idr = bill.availability_idr
    f.deduction_speed_idr = bill.speed_idr
    f.net_payable_idr = bill.net_payable_idr
    f.points_speed_short_n = int(bill.speed_pct > 0)
    f.idr_per_mbps = bill.net_payable_idr / f.down_median_mbps if f.down_median_mbps else None


def _span_mask(hour_ms: np.ndarray, spans: Sequence[tuple[int, int]]) -> np.ndarray:
    """Per hour: the hour starts inside one of the [lo, hi) spans."""
    mask = np.zeros(hour_ms.size, dtype=bool)
    for lo, hi in spans:
        mask |= (hour_ms >= lo) & (hour_ms < hi)
    return mask


def _evidence_figures(
    detail: PointDetail, plan: PointPlan, period: Period, hours: PointHours
) -> None:
    """Active hours (period ± context) whose raw data the stored rollups do not reflect."""
    f = detail.figures
    hour_ms = hours.hour_ms()
    active = _span_mask(hour_ms, plan.active)
    letters = np.frombuffer(hours.evidence.encode("ascii"), dtype=np.uint8)
    missing = active & (letters == ord(MISSING))
    stale = active & (letters == ord(STALE))
    f.evidence_missing_hours = int(missing.sum())
    f.evidence_stale_hours = int(stale.sum())
    incomplete = np.flatnonzero(missing | stale)
    detail.oldest_incomplete_ms = int(hour_ms[incomplete[0]]) if incomplete.size else None
    in_period = active & (hour_ms >= period.start_ms) & (hour_ms < period.end_ms)
    detail.hours_with_data = int((in_period & (hours.has_rollup() | missing | stale)).sum())


def _hourly_figures(
    detail: PointDetail,
    plan: PointPlan,
    period: Period,
    hours: PointHours,
    now_ms: int | None = None,
) -> None:
    """Data quality, latency, utilisation and clients from the active hours' rollups (of a
    month not over, the hours over by now_ms).

    Passes over columns: a month of 430 points is 320 000 rollups, and this runs inside the
    report's time budget. Sums of floats are taken in hour order, as a loop over rows would.
    """
    f = detail.figures
    elapsed = period.end_ms if now_ms is None else min(period.end_ms, now_ms // HOUR_MS * HOUR_MS)
    active_spans = [
        span for a in plan.active if (span := _intersect(a, (period.start_ms, elapsed)))
    ]
    active_hours = sum((hi - lo) // HOUR_MS for lo, hi in active_spans)
    hour_ms = hours.hour_ms()
    has = hours.has_rollup()
    context = has & (hour_ms >= period.start_ms - CONTEXT_MS) & (hour_ms < period.end_ms)
    rows = context & _span_mask(hour_ms, active_spans)
    n_rows = int(rows.sum())
    ints, floats = hours.ints, hours.floats

    interval = floats["interval_s"]
    declared = interval[context]
    declared = declared[~np.isnan(declared) & (declared != 0)]
    typical = median(declared.tolist()) or 60.0
    row_interval = interval[rows]
    row_interval = np.where(np.isnan(row_interval) | (row_interval == 0), typical, row_interval)
    expected = sum((3600 / row_interval).tolist())
    expected += (active_hours - n_rows) * 3600 / typical

    # seq gaps are counted between stored samples, within and across hours
    seq_first, seq_last = ints["seq_first"], ints["seq_last"]
    with_seq = context & (seq_first != ABSENT) & (seq_last != ABSENT)
    gaps = int(ints["seq_gaps"][with_seq & rows].sum())
    resets = int(ints["seq_resets"][with_seq & rows].sum())
    first, last, counted = seq_first[with_seq], seq_last[with_seq], rows[with_seq]
    if first.size > 1:
        step = first[1:] - last[:-1]
        counted = counted[1:]
        gaps += int(np.where(counted & (step > 1), step - 1, 0).sum())
        resets += int((counted & (step < 0)).sum())

    clients_n = ints["clients_n"][rows]
    clients_sum = ints["clients_sum"][rows]
    hod = (hour_ms[rows] // HOUR_MS + WIB_OFFSET_H) % 24
    with_clients = clients_n > 0
    by_hour_sum = np.zeros(24, dtype=np.int64)
    by_hour_n = np.zeros(24, dtype=np.int64)
    np.add.at(by_hour_sum, hod[with_clients], clients_sum[with_clients])
    np.add.at(by_hour_n, hod[with_clients], clients_n[with_clients])
    detail.clients_by_hour_sum = by_hour_sum.tolist()
    detail.clients_by_hour_n = by_hour_n.tolist()
    total_clients = int(by_hour_sum.sum())
    total_n = int(by_hour_n.sum())
    peaks = ints["clients_max"][rows]
    peaks = peaks[peaks != ABSENT]
    detail.rtt_hour_medians = _present(floats["rtt_median_ms"][rows])
    terms = plan.terms
    peak = peak_hours(hour_ms[rows], terms.peak_start, terms.peak_end)
    detail.peak_rtt_hour_medians = _present(floats["rtt_median_ms"][rows][peak])
    detail.loss_hour_medians = _present(floats["loss_median_pct"][rows])
    detail.jitter_hour_medians = _present(floats["jitter_median_ms"][rows])
    detail.rx_slots_kbps = _rates(hours.slots["rx_kbps_5m"][rows])
    detail.tx_slots_kbps = _rates(hours.slots["tx_kbps_5m"][rows])

    received = int(ints["samples_n"][rows].sum())
    f.samples_received = received
    f.samples_expected = round(expected)
    f.coverage_pct = 100.0 * received / expected if expected else None
    f.seq_gaps = gaps
    f.seq_resets = resets
    f.unsynced_samples = int(ints["unsynced_n"][rows].sum())
    f.clients_peak = int(peaks.max()) if peaks.size else None
    f.clients_mean = total_clients / total_n if total_n else None
    quality_figures(f, detail.rtt_hour_medians, detail.loss_hour_medians, plan.terms)
    detail.rtt_over_hours = int((detail.rtt_hour_medians > plan.terms.rtt_threshold_ms).sum())
    detail.loss_over_hours = int((detail.loss_hour_medians > plan.terms.loss_threshold_pct).sum())
    f.jitter_median_ms = array_median(detail.jitter_hour_medians)
    utilisation_figures(f, detail.rx_slots_kbps, detail.tx_slots_kbps, plan.terms.down_mbps)


def peak_hours(hour_ms: np.ndarray, start: dt.time, end: dt.time) -> np.ndarray:
    """Per hour: it starts inside the WIB peak window [start, end) (which may wrap midnight)."""

    def ms(moment: dt.time) -> int:
        return ((moment.hour * 60 + moment.minute) * 60 + moment.second) * 1000

    lo, hi = ms(start), ms(end)
    t = (hour_ms + WIB_OFFSET_H * HOUR_MS) % DAY_MS
    return (t >= lo) & (t < hi) if lo < hi else (t >= lo) | (t < hi)


def _present(values: np.ndarray) -> np.ndarray:
    """The values that are present (not NaN), in hour order."""
    return values[~np.isnan(values)]


def _rates(slots: np.ndarray) -> np.ndarray:
    """The 5-minute slots of these hours that had a rate, in order (kbit/s)."""
    flat = slots.ravel()
    return flat[flat >= 0]


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
