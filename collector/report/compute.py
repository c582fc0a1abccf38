"""Assemble a month report from registry, rollups and capacity tests. Pure: the rows come in
through arguments, so tests and the benchmark feed them without a database."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from pantau.collector.sla.capacity import CapacityTest
from pantau.collector.sla.figures import Figures
from pantau.collector.sla.groups import group_figures
from pantau.collector.sla.hourly import HourRollup
from pantau.collector.sla.month import PointDetail, PointPlan, plan_point, point_month
from pantau.collector.sla.outages import Run
from pantau.collector.sla.periods import Period
from pantau.shared.errors import ConfigError
from pantau.shared.registry import Point, Registry


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


def build_report(
    registry: Registry,
    period: Period,
    filters: Filters,
    plans: Sequence[PointPlan],
    rollups: Callable[[str], Mapping[int, HourRollup]],
    tests: Callable[[str], Sequence[CapacityTest]],
) -> MonthReport:
    """`rollups(point)` gives the point's rows for the period ± one day; `tests(point)` its
    capacity tests in the period."""
    details = [point_month(p, period, rollups(p.point.id), tests(p.point.id)) for p in plans]
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
    groups = {
        level: [group_figures(level, name, members) for name, members in sorted(found.items())]
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
        total=group_figures("total", "total", details),
        outages=outages,
        clients_by_hour=[s / n if n else None for s, n in zip(hour_sum, hour_n, strict=True)],
    )
