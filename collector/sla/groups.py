"""Figures of a group of points (kelurahan, kecamatan, provider, total). Pure.

Minutes, outages, money and sample counts add up (fee = deduction + net payable + to be
decided); availability and coverage are recomputed from the sums (not averaged); capacity pools
the tests and derives 80/80 from the points; latency pools the points' hourly medians;
utilisation pools their 5-minute means.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pantau.collector.sla.capacity import group_capacity
from pantau.collector.sla.figures import Figures
from pantau.collector.sla.month import PointDetail, array_median, p95_mbps
from pantau.collector.sla.speed import pct_of_median

_SUMMED = (
    "points",
    "minutes_active",
    "minutes_excluded",
    "minutes_up",
    "minutes_provider_down",
    "minutes_no_data",
    "minutes_no_sample",
    "minutes_device_unreachable",
    "minutes_wan_unknown",
    "minutes_outage",
    "minutes_short_interruption",
    "points_meeting_target_n",
    "outages_n",
    "outage_total_s",
    "short_interruptions_n",
    "peak_tests_n",
    "up_tests_n",
    "fee_idr",
    "deduction_idr",
    "deduction_availability_idr",
    "deduction_speed_idr",
    "points_speed_short_n",
    "points_not_enough_tests_n",
    "net_payable_idr",
    "to_be_decided_idr",
    "points_to_be_decided_n",
    "samples_received",
    "samples_expected",
    "seq_gaps",
    "seq_resets",
    "unsynced_samples",
    "evidence_missing_hours",
    "evidence_stale_hours",
)
_SHARED = (
    "availability_target_pct",
    "no_data_counts_as_down",
    "committed_down_mbps",
    "committed_up_mbps",
    "rtt_threshold_ms",
    "loss_threshold_pct",
    "speed_schedule",
    "goodput_allowance_pct",
    "speed_judged_mbps",
    "speed_min_tests",
    "deduction_rule",
    "min_coverage_pct",
)


def _same(values: list[object]) -> object:
    """The value all points share, or None when they differ."""
    return values[0] if values and all(v == values[0] for v in values) else None


def group_figures(level: str, name: str, details: Sequence[PointDetail]) -> Figures:
    points = [d.figures for d in details]
    f = Figures(level=level, id=name)
    f.kelurahan = _same([p.kelurahan for p in points])  # type: ignore[assignment]
    f.kecamatan = _same([p.kecamatan for p in points])  # type: ignore[assignment]
    f.provider = _same([p.provider for p in points])  # type: ignore[assignment]
    for column in _SUMMED:
        setattr(f, column, sum(getattr(p, column) or 0 for p in points))
    for column in _SHARED:
        setattr(f, column, _same([getattr(p, column) for p in points]))
    f.active_days = round(sum(p.active_days or 0 for p in points), 4)
    up = sum(d.availability.up_minutes for d in details)
    down = sum(d.availability.outage_minutes for d in details)
    f.availability_pct = 100.0 * up / (up + down) if up + down else None
    judged = (f.minutes_active or 0) - (f.minutes_excluded or 0)
    f.no_data_pct = 100.0 * (f.minutes_no_data or 0) / judged if judged else None
    f.outage_longest_s = max((p.outage_longest_s or 0 for p in points), default=0)
    f.mttr_s = f.outage_total_s / f.outages_n if f.outages_n else None

    cap = group_capacity([d.capacity for d in details])
    f.points_tested = cap.points_tested
    f.tests_n = cap.tests_n
    f.down_median_mbps = cap.down_median_mbps
    f.down_median_pct = cap.down_median_pct
    f.tests_ge_100_pct = cap.tests_ge_100_pct
    f.tests_ge_80_pct = cap.tests_ge_80_pct
    f.peak_down_median_mbps = cap.peak_down_median_mbps
    f.up_median_mbps = cap.up_median_mbps
    f.speed_80_80_mbps = cap.speed_80_80_mbps
    f.speed_80_80_pct = cap.speed_80_80_pct
    f.points_ge95_n = cap.points_ge95_n
    f.points_80to95_n = cap.points_80to95_n
    f.points_lt80_n = cap.points_lt80_n

    rtt = _concat([d.rtt_hour_medians for d in details])
    loss = _concat([d.loss_hour_medians for d in details])
    f.rtt_median_ms = array_median(rtt)
    f.loss_median_pct = array_median(loss)
    rtt_over = sum(d.rtt_over_hours for d in details)
    loss_over = sum(d.loss_over_hours for d in details)
    f.rtt_over_threshold_hours_pct = 100.0 * rtt_over / rtt.size if rtt.size else None
    f.loss_over_threshold_hours_pct = 100.0 * loss_over / loss.size if loss.size else None
    f.jitter_median_ms = array_median(_concat([d.jitter_hour_medians for d in details]))

    f.rx_p95_mbps = p95_mbps(_concat([d.rx_slots_kbps for d in details]))
    f.tx_p95_mbps = p95_mbps(_concat([d.tx_slots_kbps for d in details]))
    committed = f.committed_down_mbps
    f.utilisation_p95_pct = (
        100.0 * f.rx_p95_mbps / committed if f.rx_p95_mbps is not None and committed else None
    )
    peaks = [p.clients_peak for p in points if p.clients_peak is not None]
    f.clients_peak = max(peaks) if peaks else None
    c_sum = sum(sum(d.clients_by_hour_sum) for d in details)
    c_n = sum(sum(d.clients_by_hour_n) for d in details)
    f.clients_mean = c_sum / c_n if c_n else None
    f.coverage_pct = (
        100.0 * (f.samples_received or 0) / f.samples_expected if f.samples_expected else None
    )
    # money: points to be decided have no net yet, so they count in neither ratio
    delivered = [p for p in points if p.down_median_mbps and p.net_payable_idr is not None]
    mbps = sum(p.down_median_mbps or 0 for p in delivered)
    f.idr_per_mbps = sum(p.net_payable_idr or 0 for p in delivered) / mbps if mbps else None
    decided_fee = (f.fee_idr or 0) - (f.to_be_decided_idr or 0)
    f.deduction_pct = 100.0 * (f.deduction_idr or 0) / decided_fee if decided_fee else None
    f.deduction_availability_pct = (
        100.0 * (f.deduction_availability_idr or 0) / decided_fee if decided_fee else None
    )
    f.deduction_speed_pct = (
        100.0 * (f.deduction_speed_idr or 0) / decided_fee if decided_fee else None
    )
    judged = f.speed_judged_mbps
    peak = [v for d in details for v in d.capacity.peak_down_mbps]
    f.speed_peak_pct = float(pct_of_median(peak, judged)) if judged and peak else None
    return f


def _concat(arrays: list[np.ndarray]) -> np.ndarray:
    arrays = [a for a in arrays if a.size]
    return np.concatenate(arrays) if arrays else np.zeros(0)
