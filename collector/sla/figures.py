"""The figures of one point or one group (kelurahan, kecamatan, provider) over one period.

Field names are the report's stable CSV/JSON column names; each field's `doc` is the line
docs/sla.md lists. A figure that does not apply (no tests, no data) is None, never 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


def col(doc: str) -> Any:
    return field(default=None, metadata={"doc": doc})


@dataclass
class Figures:
    level: str = col("point, kelurahan, kecamatan, provider or total")
    id: str = col("point id, or the group's name")
    kelurahan: str | None = col("kelurahan (point and kelurahan rows)")
    kecamatan: str | None = col("kecamatan")
    provider: str | None = col("provider")
    points: int | None = col("points counted (active at some time in the period)")
    active_days: float | None = col("days the point was in service and under contract")
    minutes_active: int | None = col("minutes in service and under contract")
    minutes_excluded: int | None = col("minutes in declared maintenance (excluded)")
    minutes_up: int | None = col("minutes up")
    minutes_provider_down: int | None = col("minutes provider_down (agent alive, WAN failing)")
    minutes_no_data: int | None = col("minutes no_data (all reasons)")
    minutes_no_sample: int | None = col("minutes no_data because no sample arrived")
    minutes_device_unreachable: int | None = col("minutes no_data: agent could not reach router")
    minutes_wan_unknown: int | None = col("minutes no_data: router read but WAN not probed")
    minutes_outage: int | None = col("minutes inside outages (down runs ≥ threshold)")
    minutes_short_interruption: int | None = col("minutes inside shorter down runs (count as up)")
    availability_pct: float | None = col("up / (up + outage minutes), %")
    availability_target_pct: float | None = col("contract target, %")
    meets_target: bool | None = col("availability_pct ≥ target")
    points_meeting_target_n: int | None = col("points whose availability meets the target")
    no_data_pct: float | None = col("no_data minutes / (active − excluded minutes), %")
    no_data_counts_as_down: bool | None = col("contract setting: no_data judged as down")
    outages_n: int | None = col("number of outages")
    outage_total_s: int | None = col("total outage time in the period, s")
    outage_longest_s: int | None = col("longest outage (within the period), s")
    mttr_s: float | None = col("mean time to restore: outage_total_s / outages_n")
    short_interruptions_n: int | None = col("down runs shorter than the outage threshold")
    committed_down_mbps: float | None = col("contracted download per point, Mbit/s")
    committed_up_mbps: float | None = col("contracted upload per point, Mbit/s")
    points_tested: int | None = col("points with at least one download test")
    tests_n: int | None = col("download capacity tests")
    down_median_mbps: float | None = col("median measured download, Mbit/s")
    down_median_pct: float | None = col("median download as % of committed")
    tests_ge_100_pct: float | None = col("share of tests at ≥ 100 % of committed")
    tests_ge_80_pct: float | None = col("share of tests at ≥ 80 % of committed")
    peak_tests_n: int | None = col("download tests in the peak window")
    peak_down_median_mbps: float | None = col("median download in the peak window, Mbit/s")
    up_tests_n: int | None = col("upload capacity tests")
    up_median_mbps: float | None = col("median measured upload, Mbit/s")
    speed_80_mbps: float | None = col("point: speed reached in ≥ 80 % of its tests, Mbit/s")
    speed_class: str | None = col("point: median % of committed ge95, 80to95 or lt80")
    speed_80_80_mbps: float | None = col("group: speed ≥ 80 % of points reach ≥ 80 % of the time")
    speed_80_80_pct: float | None = col("group: the same as % of each point's committed")
    points_ge95_n: int | None = col("group: tested points with median ≥ 95 % of committed")
    points_80to95_n: int | None = col("group: tested points with median 80–95 % of committed")
    points_lt80_n: int | None = col("group: tested points with median < 80 % of committed")
    speed_schedule: str | None = col("contract's speed schedule: brackets, per_mbps, compliance")
    goodput_allowance_pct: float | None = col("contract: TCP goodput allowance under line rate, %")
    speed_judged_mbps: float | None = col("committed × (1 − allowance): what speed is judged by")
    speed_min_tests: int | None = col("contract: peak-window tests needed for a speed verdict")
    speed_peak_pct: float | None = col("peak-window median as % of the judged speed")
    speed_tests_reaching_pct: float | None = col("compliance: peak tests reaching its speed, %")
    latency_ok_pct: float | None = col("compliance: peak latency samples ≤ its threshold, %")
    speed_verdict: str | None = col("point: met, short, not_enough_tests, not_judged, no_schedule")
    points_speed_short_n: int | None = col("points with a speed deduction")
    points_not_enough_tests_n: int | None = col("points with too few peak tests for a verdict")
    rtt_median_ms: float | None = col("median of hourly median RTT, ms")
    rtt_threshold_ms: float | None = col("contract RTT threshold, ms")
    rtt_over_threshold_hours_pct: float | None = col("hours whose median RTT > threshold, %")
    loss_median_pct: float | None = col("median of hourly median packet loss, %")
    loss_threshold_pct: float | None = col("contract loss threshold, %")
    loss_over_threshold_hours_pct: float | None = col("hours whose median loss > threshold, %")
    jitter_median_ms: float | None = col("median of hourly median jitter, ms")
    rx_p95_mbps: float | None = col("95th percentile of 5-minute mean download throughput")
    tx_p95_mbps: float | None = col("95th percentile of 5-minute mean upload throughput")
    utilisation_p95_pct: float | None = col("rx_p95_mbps as % of committed download")
    clients_peak: int | None = col("most clients seen in one sample")
    clients_mean: float | None = col("mean clients per sample")
    fee_idr: int | None = col("monthly fee prorated by active minutes, Rp")
    deduction_rule: str | None = col("contract: sum (capped at 100 %) or max of the two")
    deduction_availability_pct: float | None = col("availability schedule's deduction, % of fee")
    deduction_speed_pct: float | None = col("speed schedule's deduction, % of fee")
    deduction_pct: float | None = col("the two combined by the contract's rule, % of fee")
    deduction_idr: int | None = col("deduction, Rp")
    deduction_availability_idr: int | None = col("part of the deduction due to availability, Rp")
    deduction_speed_idr: int | None = col("part of the deduction due to speed, Rp")
    net_payable_idr: int | None = col("fee − deduction, Rp (empty while to be decided)")
    to_be_decided_idr: int | None = col("fee held back: evidence missing, late or absent, Rp")
    points_to_be_decided_n: int | None = col("points whose payment is to be decided")
    to_be_decided_reason: str | None = col(
        "point: rollup_missing, rollup_stale, no_data, low_coverage or not_enough_tests"
    )
    idr_per_mbps: float | None = col("net payable per delivered (median) Mbit/s, Rp")
    samples_received: int | None = col("samples stored for the active hours")
    samples_expected: int | None = col("active minutes × 60 / declared interval")
    coverage_pct: float | None = col("samples_received / samples_expected, %")
    min_coverage_pct: float | None = col("contract: coverage needed for an automatic verdict, %")
    seq_gaps: int | None = col("seq numbers missing between stored samples")
    seq_resets: int | None = col("times seq went backwards (agent state lost)")
    unsynced_samples: int | None = col("samples taken with an unsynchronised clock")
    evidence_missing_hours: int | None = col("active hours with raw data but no rollup")
    evidence_stale_hours: int | None = col("active hours whose rollup predates raw data")

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in COLUMNS}


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Figures))
COLUMN_DOCS: dict[str, str] = {f.name: f.metadata["doc"] for f in fields(Figures)}
