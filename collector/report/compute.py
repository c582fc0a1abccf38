"""Assemble a month report from registry, rollups and capacity tests. Pure: the rows come in
through arguments, so tests and the benchmark feed them without a database.

A report is made only for a month that has begun and has data: a month in the future, or one
with no rollup and no raw data for the selected points, is a ReportError, never a report that
pays every fee in full. A month not yet over is provisional; points whose evidence is missing,
late or absent have their fee "to be decided" (see sla/month.py), and the report says so first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from pantau.collector.archive.digest import MonthDigest
from pantau.collector.report.fingerprint import Fingerprint
from pantau.collector.report.unregistered import UnregisteredPoint
from pantau.collector.sla.capacity import CapacityTest
from pantau.collector.sla.daily import PointHours
from pantau.collector.sla.figures import Figures
from pantau.collector.sla.groups import group_figures
from pantau.collector.sla.hourly import HourRollup
from pantau.collector.sla.month import (
    CONTEXT_MS,
    LOW_COVERAGE,
    NO_DATA,
    NOT_ENOUGH,
    PointDetail,
    PointPlan,
    plan_point,
    point_month,
)
from pantau.collector.sla.outages import Run
from pantau.collector.sla.periods import Period, from_ms
from pantau.shared.errors import ConfigError, PantauError
from pantau.shared.registry import Point, Registry, Terms


class ReportError(PantauError):
    """No report can be made for what was asked (a month not begun, or without any data)."""


@dataclass(frozen=True)
class Filters:
    kelurahan: str | None = None
    kecamatan: str | None = None
    provider: str | None = None
    point: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in vars(self).items() if v}

    def matches(self, point: Point) -> bool:
        def same(wanted: str | None, value: str) -> bool:
            return wanted is None or wanted.casefold() == value.casefold()

        return (
            same(self.kelurahan, point.kelurahan)
            and same(self.kecamatan, point.kecamatan)
            and same(self.provider, point.provider)
            and same(self.point, point.id)
        )


@dataclass(frozen=True)
class OutageRow:
    point: str
    kelurahan: str
    run: Run


@dataclass(frozen=True)
class Evidence:
    """Active point-hours (period ± one day) whose raw data the rollups do not reflect, and
    points without a single usable minute."""

    missing_hours: int = 0  # raw data, no rollup
    stale_hours: int = 0  # a rollup older than raw data that arrived since
    points: tuple[str, ...] = ()  # points with missing or stale hours
    oldest_ms: int | None = None  # the earliest such hour
    no_data_points: tuple[str, ...] = ()
    low_coverage_points: tuple[str, ...] = ()  # coverage under the contract's minimum
    not_enough_tests_points: tuple[str, ...] = ()  # too few peak-window speed tests

    @property
    def complete(self) -> bool:
        return not (self.missing_hours or self.stale_hours)


@dataclass(frozen=True)
class ContractInForce:
    """A contract the report's points are judged by, with the kelurahan whose terms differ."""

    provider: str
    id: str | None
    valid_from: str | None
    valid_until: str | None
    terms: Terms
    overrides: dict[str, Terms]  # kelurahan → its terms, where an override applies
    points: int


@dataclass
class MonthReport:
    city: str
    period: Period
    filters: Filters
    points: list[PointDetail]
    kelurahan: list[Figures]
    kecamatan: list[Figures]
    providers: list[Figures]
    total: Figures
    outages: list[OutageRow] = field(default_factory=list)
    clients_by_hour: list[float | None] = field(default_factory=list)
    generated_ms: int = 0
    provisional: bool = False  # the month was not over when the report was made
    evidence: Evidence = field(default_factory=Evidence)
    fingerprint: str = ""  # sha256 of the inputs (report/fingerprint.py)
    contracts: list[ContractInForce] = field(default_factory=list)
    archive: MonthDigest | None = None  # the month's checkpoints; None: no archive configured
    # points with data stored in the month that the registry does not list (unregistered.py)
    unregistered: tuple[UnregisteredPoint, ...] = ()

    @property
    def final(self) -> bool:
        """Nothing provisional, nothing to be decided, no stored point left out: the amounts
        can be paid as they are."""
        return (
            not self.provisional and not self.total.points_to_be_decided_n and not self.unregistered
        )

    def rows(self) -> list[Figures]:
        """Every row, points first then groups, in a stable order."""
        return [
            *(d.figures for d in self.points),
            *self.kelurahan,
            *self.kecamatan,
            *self.providers,
            self.total,
        ]


def select_plans(registry: Registry, period: Period, filters: Filters) -> list[PointPlan]:
    """The points the report covers; an unknown filter value is one clear line."""
    for name, value, known in (
        ("kelurahan", filters.kelurahan, {p.kelurahan for p in registry.points}),
        ("kecamatan", filters.kecamatan, {p.kecamatan for p in registry.points}),
        ("provider", filters.provider, {p.provider for p in registry.points}),
        ("point", filters.point, {p.id for p in registry.points}),
    ):
        if value and value.casefold() not in {k.casefold() for k in known}:
            raise ConfigError(f"--{name} {value!r}: not in the registry")
    plans = []
    for point in registry.points:
        if filters.matches(point):
            plan = plan_point(registry, point, period)
            if plan is not None:
                plans.append(plan)
    return plans


def check_started(period: Period, now_ms: int) -> None:
    """A month that has not begun has nothing to report: one clear error, not a report."""
    if now_ms < period.start_ms:
        raise ReportError(
            f"{period.label} has not begun yet (it is {from_ms(now_ms):%Y-%m-%d %H:%M} WIB):"
            " nothing to report"
        )


def build_report(
    registry: Registry,
    period: Period,
    filters: Filters,
    plans: Sequence[PointPlan],
    rollups: Callable[[str], PointHours | Mapping[int, HourRollup]],
    tests: Callable[[str], Sequence[CapacityTest]],
    now_ms: int,
    unregistered: Sequence[UnregisteredPoint] = (),
) -> MonthReport:
    """`rollups(point)` gives the point's hours for the period ± one day; `tests(point)` its
    capacity tests in the period; `now_ms` is when the report is made; `unregistered` the
    points with data stored in the period that the registry does not list.

    Raises ReportError when no point is selected, or none has any data in the period.
    """
    check_started(period, now_ms)
    what = _describe(filters)
    if not plans:
        raise ReportError(
            f"no point{what} is in service in {period.label}: nothing to report"
            + _unregistered_hint(unregistered)
        )
    fingerprint = Fingerprint(registry, period, filters.as_dict())
    details = []
    for plan in plans:
        hours = rollups(plan.point.id)
        if not isinstance(hours, PointHours):
            hours = PointHours.from_rollups(
                hours, period.start_ms - CONTEXT_MS, period.end_ms + CONTEXT_MS
            )
        point_tests = tests(plan.point.id)
        fingerprint.point(plan.point.id, hours, point_tests)
        details.append(point_month(plan, period, hours, point_tests, now_ms))
    if not any(d.hours_with_data for d in details):
        raise ReportError(
            f"no data for {period.label}: no rollup and no raw telemetry for the"
            f" {len(details)} point(s){what} in service; check the collector, --influx-url"
            " and --database" + _unregistered_hint(unregistered)
        )
    fingerprint.unregistered([(p.id, p.hours, p.samples) for p in unregistered])
    details.sort(key=lambda d: (d.figures.kecamatan, d.figures.kelurahan, d.figures.id))
    by: dict[str, dict[str, list[PointDetail]]] = {
        "kelurahan": defaultdict(list),
        "kecamatan": defaultdict(list),
        "provider": defaultdict(list),
    }
    for detail in details:
        f = detail.figures
        by["kelurahan"][f.kelurahan or ""].append(detail)
        by["kecamatan"][f.kecamatan or ""].append(detail)
        by["provider"][f.provider or ""].append(detail)
    made: dict[tuple[int, ...], Figures] = {}

    def group(level: str, name: str, members: list[PointDetail]) -> Figures:
        """A group with the same points as one already made (one provider: its group is the
        total) has the same figures: copied, not computed again."""
        key = tuple(id(d) for d in members)
        if key not in made:
            made[key] = group_figures(level, name, members)
        return replace(made[key], level=level, id=name)

    total = group("total", "total", details)
    groups = {
        level: [group(level, name, members) for name, members in sorted(found.items())]
        for level, found in by.items()
    }
    outages = [
        OutageRow(d.figures.id, d.figures.kelurahan or "", run)
        for d in details
        for run in d.availability.outages
    ]
    outages.sort(key=lambda o: (o.run.start_ms, o.point))
    hour_sum = [sum(d.clients_by_hour_sum[h] for d in details) for h in range(24)]
    hour_n = [sum(d.clients_by_hour_n[h] for d in details) for h in range(24)]
    return MonthReport(
        city=registry.city,
        period=period,
        filters=filters,
        points=details,
        kelurahan=groups["kelurahan"],
        kecamatan=groups["kecamatan"],
        providers=groups["provider"],
        total=total,
        outages=outages,
        clients_by_hour=[s / n if n else None for s, n in zip(hour_sum, hour_n, strict=True)],
        generated_ms=now_ms,
        provisional=now_ms < period.end_ms,
        evidence=_evidence(details),
        fingerprint=fingerprint.hexdigest(),
        contracts=_contracts(registry, plans),
        unregistered=tuple(unregistered),
    )


def _unregistered_hint(unregistered: Sequence[UnregisteredPoint]) -> str:
    """A month refused for lack of data may still hold data of points the registry lost."""
    if not unregistered:
        return ""
    ids = ", ".join(p.id for p in unregistered[:5]) + (", …" if len(unregistered) > 5 else "")
    return f"; data is stored for {len(unregistered)} point(s) not in the registry: {ids}"


def _contracts(registry: Registry, plans: Sequence[PointPlan]) -> list[ContractInForce]:
    """The contracts in force for the selected points (the one of each point's first active
    day), in provider order."""
    found: dict[tuple[str, str | None], list[PointPlan]] = defaultdict(list)
    chosen = {}
    for plan in plans:
        contract = plan.contract
        key = (contract.provider, contract.id or str(contract.valid_from))
        found[key].append(plan)
        chosen[key] = contract
    out = []
    for key in sorted(found, key=lambda k: (k[0], str(k[1]))):
        contract = chosen[key]
        kelurahan = {p.point.kelurahan for p in found[key]}
        out.append(
            ContractInForce(
                provider=contract.provider,
                id=contract.id,
                valid_from=contract.valid_from.isoformat() if contract.valid_from else None,
                valid_until=contract.valid_until.isoformat() if contract.valid_until else None,
                terms=contract.terms,
                overrides={
                    k: contract.terms_for(k) for k in sorted(contract.kelurahan) if k in kelurahan
                },
                points=len(found[key]),
            )
        )
    return out


def _evidence(details: Sequence[PointDetail]) -> Evidence:
    affected = [d for d in details if d.oldest_incomplete_ms is not None]
    return Evidence(
        missing_hours=sum(d.figures.evidence_missing_hours or 0 for d in details),
        stale_hours=sum(d.figures.evidence_stale_hours or 0 for d in details),
        points=tuple(d.figures.id for d in affected),
        oldest_ms=min((d.oldest_incomplete_ms or 0 for d in affected), default=None),
        no_data_points=_with_reason(details, NO_DATA),
        low_coverage_points=_with_reason(details, LOW_COVERAGE),
        not_enough_tests_points=_with_reason(details, NOT_ENOUGH),
    )


def _with_reason(details: Sequence[PointDetail], reason: str) -> tuple[str, ...]:
    return tuple(d.figures.id for d in details if d.figures.to_be_decided_reason == reason)


def _describe(filters: Filters) -> str:
    chosen = filters.as_dict()
    return (" (" + ", ".join(f"{k} {v}" for k, v in chosen.items()) + ")") if chosen else ""
