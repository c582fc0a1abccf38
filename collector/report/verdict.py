"""The first thing a report says: per provider, what to pay of the fee, and the two or three
causes that cost the most, by kelurahan (a speed or availability deduction, or a fee held back
to be decided and why), and how many of its points with stored data were left out because the
registry does not list them (their fee is in no amount)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from pantau.collector.report.compute import MonthReport
from pantau.collector.report.i18n import rupiah
from pantau.collector.sla.figures import Figures

SHOWN_CAUSES = 3

_CAUSE: dict[str, tuple[str, str]] = {
    "speed": ("kecepatan", "speed"),
    "availability": ("ketersediaan", "availability"),
    "rollup_missing": ("belum diputuskan (rollup belum dibuat)", "to be decided (rollup missing)"),
    "rollup_stale": ("belum diputuskan (rollup terlambat)", "to be decided (rollup late)"),
    "no_data": ("belum diputuskan (tanpa data)", "to be decided (no data)"),
    "low_coverage": ("belum diputuskan (data kurang)", "to be decided (low coverage)"),
    "not_enough_tests": ("belum diputuskan (uji kurang)", "to be decided (not enough tests)"),
}
_LINE = (
    "{provider}: bayar {net} dari {fee}{held}.{costs}",
    "{provider}: pay {net} of {fee}{held}.{costs}",
)
_HELD = ("{amount} belum diputuskan", "{amount} to be decided")
_LEFT_OUT = (
    "{n} titik dengan data tersimpan tidak ada di registri, tidak dihitung",
    "{n} point(s) with stored data not in the registry, left out",
)
_COSTS = (" Terbesar: {causes}.", " Costs most: {causes}.")
_IN = ("{cause} di {kelurahan} {amount}", "{cause} in {kelurahan} {amount}")


@dataclass(frozen=True)
class Cause:
    cause: str  # speed, availability, or why a fee is to be decided
    kelurahan: str
    amount_idr: int


@dataclass(frozen=True)
class Verdict:
    provider: str
    fee_idr: int
    net_payable_idr: int
    to_be_decided_idr: int
    causes: tuple[Cause, ...]  # the costliest first, at most SHOWN_CAUSES
    unregistered_n: int = 0  # its points with stored data that the registry does not list

    def line(self, lang: str) -> str:
        index = 0 if lang == "id" else 1
        aside = []  # what the amounts leave out, in one parenthesis
        if self.to_be_decided_idr:
            aside.append(_HELD[index].format(amount=rupiah(self.to_be_decided_idr, lang)))
        if self.unregistered_n:
            aside.append(_LEFT_OUT[index].format(n=self.unregistered_n))
        held = f" ({'; '.join(aside)})" if aside else ""
        causes = ", ".join(
            _IN[index].format(
                cause=_CAUSE[c.cause][index],
                kelurahan=c.kelurahan,
                amount=rupiah(c.amount_idr, lang),
            )
            for c in self.causes
        )
        return _LINE[index].format(
            provider=self.provider,
            net=rupiah(self.net_payable_idr, lang),
            fee=rupiah(self.fee_idr, lang),
            held=held,
            costs=_COSTS[index].format(causes=causes) if causes else "",
        )


def verdicts(report: MonthReport) -> list[Verdict]:
    """One per provider, in the report's provider order."""
    costs: dict[str, dict[tuple[str, str], int]] = defaultdict(lambda: defaultdict(int))
    for detail in report.points:
        f = detail.figures
        kel = f.kelurahan or ""
        found = costs[f.provider or ""]
        if f.to_be_decided_reason:
            found[(f.to_be_decided_reason, kel)] += f.to_be_decided_idr or 0
            continue
        found[("speed", kel)] += f.deduction_speed_idr or 0
        found[("availability", kel)] += f.deduction_availability_idr or 0
    left_out: dict[str, int] = defaultdict(int)
    for point in report.unregistered:
        for name in {p.casefold() for p in point.providers}:
            left_out[name] += 1
    return [_verdict(p, costs[p.id], left_out[(p.id or "").casefold()]) for p in report.providers]


def _verdict(
    provider: Figures, costs: dict[tuple[str, str], int], unregistered_n: int = 0
) -> Verdict:
    ranked = sorted(
        (Cause(cause, kel, amount) for (cause, kel), amount in costs.items() if amount > 0),
        key=lambda c: (-c.amount_idr, c.kelurahan, c.cause),
    )
    return Verdict(
        provider=provider.id,
        fee_idr=provider.fee_idr or 0,
        net_payable_idr=provider.net_payable_idr or 0,
        to_be_decided_idr=provider.to_be_decided_idr or 0,
        causes=tuple(ranked[:SHOWN_CAUSES]),
        unregistered_n=unregistered_n,
    )
