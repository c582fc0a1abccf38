"""Points with data stored in the month that the registry does not list.

The report is computed from the registry: a point whose entry was deleted (instead of given
`removed:`) would drop out of the month together with its stored telemetry and rollups, and
the provider's fee would shrink without a word. So the report asks the store which points have
rows in the month, names those the registry lacks, and is not final until the operator puts
each back with `removed:` set to the day it left service (docs/sla.md).

A filtered report (`--provider`, `--kelurahan`, `--kecamatan`) names only the unregistered
points whose stored rows carry a matching tag, as the registry's points are matched: a point
Awinet served is no concern of Biznet's report. `--point` names a registered point, so no
other point concerns it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:  # compute.py holds these points in its MonthReport
    from pantau.collector.report.compute import Filters


@dataclass(frozen=True)
class UnregisteredPoint:
    """What the store holds of a point the registry does not list, over the month."""

    id: str
    providers: tuple[str, ...]  # as its stored rows are tagged (several: it was re-tagged)
    kelurahan: tuple[str, ...]
    kecamatan: tuple[str, ...]
    hours: int  # `sla_hourly` rows (rollups or marks of raw data) in the month
    samples: int  # raw telemetry rows in the month (0 once raw retention has dropped them)
    first_ms: int | None  # the first and last such hour or sample
    last_ms: int | None

    def matches(self, filters: Filters) -> bool:
        def among(wanted: str | None, values: Sequence[str]) -> bool:
            return wanted is None or wanted.casefold() in {v.casefold() for v in values}

        return (
            filters.point is None
            and among(filters.provider, self.providers)
            and among(filters.kelurahan, self.kelurahan)
            and among(filters.kecamatan, self.kecamatan)
        )


@runtime_checkable
class FindsUnregistered(Protocol):
    """A ReportSource that can also list the month's stored points (InfluxSource does; the
    in-memory sources of tests and benchmarks hold only registered points)."""

    def unregistered(
        self, known: Collection[str], start_ms: int, end_ms: int
    ) -> list[UnregisteredPoint]:
        """Points with telemetry or `sla_hourly` rows in [start_ms, end_ms) not in known."""
        ...


def find_unregistered(
    source: object, known: Collection[str], start_ms: int, end_ms: int, filters: Filters
) -> tuple[UnregisteredPoint, ...]:
    """The unregistered points this report (with its filters) must name, by id."""
    if not isinstance(source, FindsUnregistered):
        return ()
    found = source.unregistered(known, start_ms, end_ms)
    return tuple(sorted((p for p in found if p.matches(filters)), key=lambda p: p.id))
