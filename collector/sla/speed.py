"""The speed verdict and the money of one point: what the contract's speed schedule deducts,
how it combines with the availability deduction, and the amounts in whole rupiah. Pure.

Arithmetic is exact (decimal, from the figures as stored), so an amount can be checked by hand:
- the judged speed is committed × (1 − goodput_allowance_pct / 100): TCP goodput reads about
  4.4 % under a link's line rate (Ethernet, IP and TCP headers), so a perfect 50 Mbit/s link
  measures 47.8 and is judged against 47.8;
- a speed as % of the judged speed is rounded half up to two decimals before it is judged
  (38.24 of 47.8 is 80.00 %, not under 80);
- money is integer rupiah: the prorated fee, and the deduction (fee × combined % / 100), are
  each rounded half up to the whole rupiah; net payable = fee − deduction.

The verdict is taken on the point's download tests in the contract's peak window (what users
get when they use it). Fewer than `min_tests` of them is "not enough tests": no verdict, shown,
never a silent pass (the fee is then to be decided; sla/month.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from pantau.shared.registry import SpeedTerms, Terms, bracket_deduction

# speed verdicts of a point
NO_SCHEDULE = "no_schedule"  # the contract has no speed schedule
NOT_JUDGED = "not_judged"  # no minute was judged (declared maintenance all month)
NOT_ENOUGH_TESTS = "not_enough_tests"  # fewer peak-window tests than the contract's minimum
MET = "met"  # no speed deduction
SHORT = "short"  # the schedule deducts (or the compliance rule failed)

_CENT = Decimal("0.01")
_HUNDRED = Decimal(100)


def dec(value: float | int | str) -> Decimal:
    """A figure as the decimal it reads as (47.8, not 47.799999999999997)."""
    return Decimal(value) if isinstance(value, int | str) else Decimal(repr(value))


def round_pct(value: Decimal) -> Decimal:
    """Half up to two decimals."""
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def round_idr(value: Decimal) -> int:
    """Half up to the whole rupiah."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def judged_mbps(committed_mbps: float, speed: SpeedTerms) -> Decimal:
    """The speed a verdict compares with: committed less the goodput allowance."""
    return dec(committed_mbps) * (_HUNDRED - dec(speed.goodput_allowance_pct)) / _HUNDRED


def pct_of(value: float, base: Decimal) -> Decimal:
    return round_pct(dec(value) * _HUNDRED / base)


def median(values: Sequence[float]) -> Decimal | None:
    """The middle value, or the mean of the two middle values, exact."""
    if not values:
        return None
    ordered = sorted(dec(v) for v in values)
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def pct_of_median(values: Sequence[float], judged: float) -> Decimal:
    """The median of the values as % of a judged speed, two decimals (groups: pooled tests)."""
    middle = median(values)
    assert middle is not None
    return round_pct(middle * _HUNDRED / dec(judged))


@dataclass(frozen=True)
class SpeedVerdict:
    verdict: str
    kind: str | None = None  # the schedule's kind; None without a schedule
    judged_mbps: Decimal | None = None
    peak_tests_n: int = 0
    peak_median_mbps: Decimal | None = None
    peak_pct: Decimal | None = None  # peak median as % of the judged speed, 2 decimals
    tests_reaching_pct: Decimal | None = None  # compliance: share of peak tests reaching speed
    latency_ok_pct: Decimal | None = None  # compliance: share of latency samples ≤ threshold
    deduction_pct: Decimal = Decimal(0)

    @property
    def decided(self) -> bool:
        return self.verdict != NOT_ENOUGH_TESTS


def speed_verdict(
    terms: Terms,
    peak_down_mbps: Sequence[float],
    peak_rtt_ms: Sequence[float],
    judged: bool = True,
) -> SpeedVerdict:
    """The speed schedule applied to the point's peak-window download tests (and, for the
    compliance rule, its peak-window latency samples). `judged` is False when no minute of
    the point was judged (declared maintenance all month): no speed verdict either."""
    speed = terms.speed
    if speed is None:
        return SpeedVerdict(NO_SCHEDULE)
    base = judged_mbps(terms.down_mbps, speed)
    common = {"kind": speed.kind, "judged_mbps": base, "peak_tests_n": len(peak_down_mbps)}
    if not judged:
        return SpeedVerdict(NOT_JUDGED, **common)
    peak_median = median(peak_down_mbps)
    peak_pct = None if peak_median is None else round_pct(peak_median * _HUNDRED / base)
    common |= {"peak_median_mbps": peak_median, "peak_pct": peak_pct}
    if len(peak_down_mbps) < speed.min_tests:
        return SpeedVerdict(NOT_ENOUGH_TESTS, **common)
    assert peak_pct is not None
    if speed.kind == "brackets":
        deduction = dec(bracket_deduction(speed.brackets, float(peak_pct)))
        return _verdict(common, deduction)
    if speed.kind == "per_mbps":
        return _verdict(common, _HUNDRED - min(_HUNDRED, peak_pct))
    rule = speed.compliance
    if not peak_rtt_ms:
        return SpeedVerdict(NOT_ENOUGH_TESTS, **common)
    floor = base * dec(rule.speed_pct) / _HUNDRED
    reaching = sum(1 for v in peak_down_mbps if dec(v) >= floor)
    tests_pct = round_pct(Decimal(reaching) * _HUNDRED / len(peak_down_mbps))
    ok = sum(1 for v in peak_rtt_ms if dec(v) <= dec(rule.latency_ms))
    latency_pct = round_pct(Decimal(ok) * _HUNDRED / len(peak_rtt_ms))
    passed = tests_pct >= dec(rule.tests_share_pct) and latency_pct >= dec(rule.latency_share_pct)
    common |= {"tests_reaching_pct": tests_pct, "latency_ok_pct": latency_pct}
    if passed:
        return SpeedVerdict(MET, **common)
    return SpeedVerdict(SHORT, deduction_pct=dec(rule.deduction_pct), **common)


def _verdict(common: dict[str, object], deduction: Decimal) -> SpeedVerdict:
    return SpeedVerdict(MET if deduction == 0 else SHORT, deduction_pct=deduction, **common)  # type: ignore[arg-type]


def prorated_fee(fee_idr: int, active_minutes: int, period_minutes: int) -> int:
    """The month's fee for the minutes the point was in service, half up to the rupiah."""
    return round_idr(Decimal(fee_idr) * active_minutes / period_minutes)


@dataclass(frozen=True)
class Money:
    fee_idr: int
    availability_pct: Decimal  # availability schedule's deduction, % of fee
    speed_pct: Decimal  # speed schedule's deduction, % of fee
    combined_pct: Decimal  # the two combined by the contract's rule, at most 100
    deduction_idr: int
    availability_idr: int  # the part of deduction_idr due to availability
    speed_idr: int  # the rest: due to speed

    @property
    def net_payable_idr(self) -> int:
        return self.fee_idr - self.deduction_idr


def combine(rule: str, availability_pct: Decimal, speed_pct: Decimal) -> Decimal:
    """sum: the two added, capped at 100 %; max: the larger of the two."""
    if rule == "max":
        return max(availability_pct, speed_pct)
    return min(_HUNDRED, availability_pct + speed_pct)


def money(fee_idr: int, rule: str, availability_pct: Decimal, speed_pct: Decimal) -> Money:
    """The deduction of a decided point, and how much of it each schedule caused: under `sum`
    availability first, speed the rest up to the cap; under `max` the larger schedule all."""
    combined = combine(rule, availability_pct, speed_pct)
    deduction = round_idr(Decimal(fee_idr) * combined / _HUNDRED)
    if rule == "max":
        availability_idr = deduction if availability_pct >= speed_pct else 0
    else:
        availability_idr = min(deduction, round_idr(Decimal(fee_idr) * availability_pct / _HUNDRED))
    return Money(
        fee_idr=fee_idr,
        availability_pct=availability_pct,
        speed_pct=speed_pct,
        combined_pct=combined,
        deduction_idr=deduction,
        availability_idr=availability_idr,
        speed_idr=deduction - availability_idr,
    )
