"""The speed verdict and the money, case by case, with every amount worked out by hand.

Committed 50 Mbit/s, goodput allowance 4.4 %: judged speed 47.8 Mbit/s. Default brackets: peak
median under 90 % of 47.8 → 10 %, under 80 % → 25 %, under 60 % → 50 %, under 40 % → 75 %.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from pantau.collector.sla.speed import (
    MET,
    NO_SCHEDULE,
    NOT_ENOUGH_TESTS,
    NOT_JUDGED,
    SHORT,
    money,
    prorated_fee,
    round_idr,
    speed_verdict,
)
from pantau.shared.registry import Terms

D = Decimal


def terms(**speed: Any) -> Terms:
    return Terms.model_validate({"speed": speed})


VERDICTS = [
    # (name, speed terms, peak tests, peak latency samples, verdict, peak %, deduction %)
    ("no tests", {}, [], [], NOT_ENOUGH_TESTS, None, "0"),
    ("four tests, five needed", {}, [47.8] * 4, [], NOT_ENOUGH_TESTS, "100.00", "0"),
    ("five tests, a perfect link after the allowance", {}, [47.8] * 5, [], MET, "100.00", "0"),
    ("90.00 % exactly is not under 90", {}, [43.02] * 5, [], MET, "90.00", "0"),
    ("89.99 %", {}, [43.015] * 5, [], SHORT, "89.99", "10"),  # 43.015/47.8 = 89.989…
    ("80.00 % exactly: the 10 % bracket", {}, [38.24] * 5, [], SHORT, "80.00", "10"),
    ("79.99 %", {}, [38.235] * 5, [], SHORT, "79.99", "25"),  # 79.989… rounds to 79.99
    ("the median of an even count", {}, [10, 20, 30, 40, 50, 60], [], SHORT, "73.22", "25"),
    ("Ciwaduk at 20 Mbps: 41.84 %", {}, [20.0] * 31, [], SHORT, "41.84", "50"),
    ("under 40 %", {}, [19.0] * 5, [], SHORT, "39.75", "75"),
    ("no allowance: 47.8 of 50", {"goodput_allowance_pct": 0}, [47.8] * 5, [], MET, "95.60", "0"),
    ("per Mbps: 20 of 47.8", {"kind": "per_mbps"}, [20.0] * 5, [], SHORT, "41.84", "58.16"),
    ("per Mbps: above committed caps at 100 %", {"kind": "per_mbps"}, [60.0] * 5, [], MET,
     "125.52", "0"),
    ("per Mbps: min_tests 1", {"kind": "per_mbps", "min_tests": 1}, [23.9], [], SHORT, "50.00",
     "50.00"),
    ("compliance: 4 of 5 reach 38.24, latency 19 of 20 ≤ 100 ms", {"kind": "compliance"},
     [38.24, 38.24, 50, 50, 38.23], [20] * 19 + [101], MET, "80.00", "0"),
    ("compliance: 3 of 5 reach 80 %", {"kind": "compliance"}, [38.24, 50, 50, 38.23, 10],
     [20] * 20, SHORT, "80.00", "25"),
    ("compliance: latency 18 of 20", {"kind": "compliance"}, [50] * 5, [20] * 18 + [150] * 2,
     SHORT, "104.60", "25"),
    ("compliance without latency samples", {"kind": "compliance"}, [50] * 5, [],
     NOT_ENOUGH_TESTS, "104.60", "0"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "speed", "tests", "rtt", "verdict", "peak_pct", "deduction"),
    VERDICTS,
    ids=[v[0] for v in VERDICTS],
)
def test_speed_verdict(
    name: str,
    speed: dict[str, Any],
    tests: list[float],
    rtt: list[float],
    verdict: str,
    peak_pct: str | None,
    deduction: str,
) -> None:
    got = speed_verdict(terms(**speed), tests, rtt)
    assert got.verdict == verdict
    assert got.peak_pct == (None if peak_pct is None else D(peak_pct))
    assert got.deduction_pct == D(deduction)
    assert got.peak_tests_n == len(tests)


def test_compliance_shares_are_shown() -> None:
    got = speed_verdict(terms(kind="compliance"), [38.24, 50, 50, 38.23, 10], [20] * 19 + [101])
    assert (got.tests_reaching_pct, got.latency_ok_pct) == (D("60.00"), D("95.00"))


def test_without_a_schedule_or_a_judged_minute_there_is_no_speed_verdict() -> None:
    none = Terms.model_validate({"speed": None})
    assert speed_verdict(none, [10.0] * 9, []).verdict == NO_SCHEDULE
    assert speed_verdict(none, [10.0] * 9, []).deduction_pct == 0
    maintenance = speed_verdict(Terms(), [], [], judged=False)
    assert (maintenance.verdict, maintenance.deduction_pct) == (NOT_JUDGED, 0)
    assert maintenance.judged_mbps == D("47.8")


MONEY = [
    # (name, fee, rule, availability %, speed %, deduction, of it availability, of it speed)
    ("nothing", 500_000, "sum", "0", "0", 0, 0, 0),
    ("speed only", 500_000, "sum", "0", "25", 125_000, 0, 125_000),
    ("both add up", 500_000, "sum", "10", "25", 175_000, 50_000, 125_000),
    ("capped at the fee", 500_000, "sum", "50", "75", 500_000, 250_000, 250_000),
    ("availability 100 % leaves speed nothing", 500_000, "sum", "100", "50", 500_000, 500_000, 0),
    ("max: the larger, speed", 500_000, "max", "10", "25", 125_000, 0, 125_000),
    ("max: the larger, availability", 500_000, "max", "50", "25", 250_000, 250_000, 0),
    ("per Mbps share, half up", 241_935, "sum", "0", "58.16", 140_709, 0, 140_709),
    ("half a rupiah rounds up", 5, "sum", "10", "0", 1, 1, 0),  # 0.5 → 1
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "fee", "rule", "avail", "speed", "deduction", "by_avail", "by_speed"),
    MONEY,
    ids=[m[0] for m in MONEY],
)
def test_money(
    name: str,
    fee: int,
    rule: str,
    avail: str,
    speed: str,
    deduction: int,
    by_avail: int,
    by_speed: int,
) -> None:
    bill = money(fee, rule, D(avail), D(speed))
    assert (bill.deduction_idr, bill.availability_idr, bill.speed_idr) == (
        deduction,
        by_avail,
        by_speed,
    )
    assert bill.net_payable_idr == fee - deduction


def test_rupiah_round_half_up() -> None:
    assert [round_idr(D(x)) for x in ("0.5", "1.5", "2.5", "2.4999")] == [1, 2, 3, 2]
    # 500 000 × 21 600 / 44 640 = 241 935.48…; 500 000 × 1 / 2 880 = 173.61…
    assert prorated_fee(500_000, 21_600, 44_640) == 241_935
    assert prorated_fee(500_000, 1, 2_880) == 174
    assert prorated_fee(3, 1, 2) == 2  # 1.5 → 2 (Python's round() would say 2, 2.5 → 2)
    assert prorated_fee(5, 1, 2) == 3  # 2.5 → 3
