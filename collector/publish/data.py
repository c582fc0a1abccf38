"""What the public page shows, shaped from the monthly report's own figures.

Nothing here computes an SLA figure: the kelurahan rows are the report's (`MonthReport.kelurahan`,
made by `collector/report/compute.py`), so the page and the report can never disagree. This
module only chooses the few figures a resident needs, joins the registry's coordinates, and
leaves out everything that could identify a person or a device: no point ids, no addresses, no
client counts, no money.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from pantau.collector.report.compute import MonthReport
from pantau.collector.sla.figures import Figures
from pantau.shared.registry import Registry

GOOD, FAIR, POOR, UNKNOWN = "good", "fair", "poor", "unknown"
FAIR_BELOW_TARGET_PTS = 5.0  # within 5 points under the target: "fair" (amber), not "poor"


@dataclass(frozen=True)
class PublicFigures:
    """One kelurahan (or the whole city) for one month, as residents see it."""

    name: str
    kecamatan: str | None
    lat: float | None
    lon: float | None
    points: int
    points_meeting_target: int | None
    availability_pct: float | None
    availability_target_pct: float | None
    outages: int | None
    outage_total_s: int | None
    promised_mbps: float | None
    delivered_median_mbps: float | None  # median of every download test
    delivered_peak_mbps: float | None  # median of the evening-peak tests
    delivered_pct: float | None  # median as % of the promise
    speed_tests: int | None

    @property
    def rating(self) -> str:
        """good: target met; fair: under it by less than FAIR_BELOW_TARGET_PTS; poor: worse."""
        if self.availability_pct is None or self.availability_target_pct is None:
            return UNKNOWN
        if self.availability_pct >= self.availability_target_pct:
            return GOOD
        if self.availability_pct >= self.availability_target_pct - FAIR_BELOW_TARGET_PTS:
            return FAIR
        return POOR


@dataclass(frozen=True)
class PublicPage:
    city: str
    month: str  # YYYY-MM
    start_ms: int
    end_ms: int
    generated_ms: int
    provisional: bool  # the month was not over when the page was made
    fingerprint: str  # the monthly report's: the page shows the same inputs
    city_total: PublicFigures
    kelurahan: list[PublicFigures]  # every kelurahan of the registry, by kecamatan then name

    def as_dict(self) -> dict[str, Any]:
        """The open-data file beside the page (data.json)."""
        return {
            "city": self.city,
            "month": self.month,
            "generated_ms": self.generated_ms,
            "provisional": self.provisional,
            "report_fingerprint_sha256": self.fingerprint,
            "city_total": _row(self.city_total),
            "kelurahan": [_row(k) for k in self.kelurahan],
        }


def _row(figures: PublicFigures) -> dict[str, Any]:
    return asdict(figures) | {"rating": figures.rating}


def public_page(report: MonthReport, registry: Registry) -> PublicPage:
    """The page for a city-wide report (no filters): one row per kelurahan of the registry, a
    kelurahan without a point in service that month shown as without data."""
    if report.filters.as_dict():
        raise ValueError("the public page is made from the whole city's report, not a filtered one")
    by_name = {f.id: f for f in report.kelurahan}
    places = _places(registry)
    rows = []
    for name, (kecamatan, lat, lon) in places.items():
        figures = by_name.get(name)
        rows.append(_public(figures, name, kecamatan, lat, lon))
    for name, figures in by_name.items():  # a kelurahan only points know of (no registry row)
        if name not in places:
            rows.append(_public(figures, name, figures.kecamatan, None, None))
    rows.sort(key=lambda r: ((r.kecamatan or "").casefold(), r.name.casefold()))
    return PublicPage(
        city=report.city,
        month=report.period.label,
        start_ms=report.period.start_ms,
        end_ms=report.period.end_ms,
        generated_ms=report.generated_ms,
        provisional=report.provisional,
        fingerprint=report.fingerprint,
        city_total=_public(report.total, report.city, None, None, None),
        kelurahan=rows,
    )


def _places(registry: Registry) -> dict[str, tuple[str | None, float | None, float | None]]:
    """Kelurahan name → (kecamatan, lat, lon): the registry's kelurahan list, else the mean of
    its points' coordinates."""
    places: dict[str, tuple[str | None, float | None, float | None]] = {}
    for k in registry.kelurahan:
        places[k.name] = (k.kecamatan, k.lat, k.lon)
    spots: dict[str, list[tuple[float, float]]] = {}
    kecamatan: dict[str, str] = {}
    for p in registry.points:
        kecamatan.setdefault(p.kelurahan, p.kecamatan)
        if p.lat is not None and p.lon is not None:
            spots.setdefault(p.kelurahan, []).append((p.lat, p.lon))
    for name, kec in kecamatan.items():
        known = places.get(name)
        if known is not None and known[1] is not None and known[2] is not None:
            continue
        coords = spots.get(name, [])
        lat = _mean([c[0] for c in coords])
        lon = _mean([c[1] for c in coords])
        places[name] = ((known[0] if known else None) or kec, lat, lon)
    return places


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 5) if values else None


def _public(
    f: Figures | None, name: str, kecamatan: str | None, lat: float | None, lon: float | None
) -> PublicFigures:
    if f is None:
        return PublicFigures(
            name, kecamatan, lat, lon, 0, None, None, None, None, None, None, None, None, None, None
        )
    return PublicFigures(
        name=name,
        kecamatan=kecamatan,
        lat=lat,
        lon=lon,
        points=f.points or 0,
        points_meeting_target=f.points_meeting_target_n,
        availability_pct=f.availability_pct,
        availability_target_pct=f.availability_target_pct,
        outages=f.outages_n,
        outage_total_s=f.outage_total_s,
        promised_mbps=f.committed_down_mbps,
        delivered_median_mbps=f.down_median_mbps,
        delivered_peak_mbps=f.peak_down_median_mbps,
        delivered_pct=f.down_median_pct,
        speed_tests=f.tests_n,
    )
