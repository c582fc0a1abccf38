"""The site registry: the source of truth for which points exist, where they belong and which
contract they are judged by.

Kelurahan, kecamatan and provider come from here, never from an agent: an agent only says which
point it is, and the collector decides what that point is. Contracts are per provider and can be
overridden per kelurahan, because a city may negotiate different terms for one area.
"""

from __future__ import annotations

import datetime as dt
import difflib
import itertools
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from pantau.shared.config import Section, read_yaml
from pantau.shared.errors import ConfigError
from pantau.shared.topics import describe_point_id_error
from pantau.shared.wire import PointId

WIB = ZoneInfo("Asia/Jakarta")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class MaintenanceWindow(Section):
    start: dt.datetime = Field(description="Start, with timezone (e.g. 2026-10-05T01:00:00+07:00)")
    end: dt.datetime = Field(description="End (exclusive); a time without zone is read as WIB")
    reason: str = ""

    @field_validator("start", "end")
    @classmethod
    def _wib_when_naive(cls, value: dt.datetime) -> dt.datetime:
        return value if value.tzinfo is not None else value.replace(tzinfo=WIB)

    @model_validator(mode="after")
    def _ordered(self) -> MaintenanceWindow:
        if self.end <= self.start:
            raise ValueError("maintenance window ends before it starts")
        return self


class Point(Section):
    id: PointId
    kelurahan: str = Field(min_length=1)
    kecamatan: str = Field(min_length=1)
    provider: str = Field(min_length=1)
    kode_wilayah: str | None = Field(default=None, description="Kode kelurahan (Kemendagri)")
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    installed: dt.date | None = Field(default=None, description="First day in service (WIB)")
    removed: dt.date | None = Field(default=None, description="First day out of service (WIB)")
    maintenance: list[MaintenanceWindow] = Field(default_factory=list)

    def tags(self) -> dict[str, str]:
        """The InfluxDB tags every row of this point carries."""
        return {
            "point": self.id,
            "kelurahan": self.kelurahan,
            "kecamatan": self.kecamatan,
            "provider": self.provider,
        }


class Kelurahan(Section):
    name: str = Field(min_length=1)
    kecamatan: str = Field(min_length=1)
    kode: str | None = Field(default=None, description="Kode wilayah (Kemendagri)")
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)


class PenaltyBracket(Section):
    """Availability strictly below `below_pct` deducts `deduction_pct` of the month's fee."""

    below_pct: float = Field(gt=0, le=100)
    deduction_pct: float = Field(ge=0, le=100)


def default_penalties() -> list[PenaltyBracket]:
    return [
        PenaltyBracket(below_pct=95, deduction_pct=10),
        PenaltyBracket(below_pct=90, deduction_pct=25),
        PenaltyBracket(below_pct=80, deduction_pct=50),
        PenaltyBracket(below_pct=50, deduction_pct=100),
    ]


def _check_brackets(brackets: Sequence[PenaltyBracket], what: str) -> None:
    """Brackets with distinct bounds, deducting no less for a worse figure."""
    ordered = sorted(brackets, key=lambda b: -b.below_pct)
    for higher, lower in itertools.pairwise(ordered):
        if higher.below_pct == lower.below_pct:
            raise ValueError(f"two {what} brackets below {higher.below_pct} %")
        if lower.deduction_pct < higher.deduction_pct:
            raise ValueError(
                f"{what} below {lower.below_pct} % deducts less than below {higher.below_pct} %"
            )


def bracket_deduction(brackets: Sequence[PenaltyBracket], value_pct: float) -> float:
    """The deduction of the lowest bracket the value falls under (0 when none)."""
    return max((b.deduction_pct for b in brackets if value_pct < b.below_pct), default=0.0)


def default_speed_brackets() -> list[PenaltyBracket]:
    return [
        PenaltyBracket(below_pct=90, deduction_pct=10),
        PenaltyBracket(below_pct=80, deduction_pct=25),
        PenaltyBracket(below_pct=60, deduction_pct=50),
        PenaltyBracket(below_pct=40, deduction_pct=75),
    ]


class Compliance(Section):
    """The regulators' rule for subsidised broadband (FCC's 80/80 and 95 % latency): at least
    `tests_share_pct` of the peak-window tests reach `speed_pct` of the judged speed, and at
    least `latency_share_pct` of the peak-window latency samples are at or under `latency_ms`.
    Failing either deducts `deduction_pct`."""

    tests_share_pct: float = Field(default=80, gt=0, le=100)
    speed_pct: float = Field(default=80, gt=0, le=100)
    latency_share_pct: float = Field(default=95, gt=0, le=100)
    latency_ms: float = Field(default=100, gt=0)
    deduction_pct: float = Field(default=25, ge=0, le=100)


SpeedKind = Literal["brackets", "per_mbps", "compliance"]


class SpeedTerms(Section):
    """How delivered speed changes the bill. The verdict is taken on the download tests in the
    peak window (what users get when they use it), against the judged speed: committed ×
    (1 − goodput_allowance_pct / 100)."""

    kind: SpeedKind = Field(
        default="brackets",
        description="brackets: by peak median % of judged speed; per_mbps: fee × delivered /"
        " judged (≤ 100 %); compliance: the regulators' 80/80 + latency rule",
    )
    min_tests: int = Field(
        default=5, ge=1, description="Peak-window download tests needed for a verdict"
    )
    goodput_allowance_pct: float = Field(
        default=4.4,
        ge=0,
        lt=50,
        description="TCP goodput under line rate (Ethernet, IP, TCP headers): 4.4 % at 1500 B",
    )
    brackets: list[PenaltyBracket] = Field(default_factory=default_speed_brackets)
    compliance: Compliance = Field(default_factory=Compliance)

    @model_validator(mode="after")
    def _consistent(self) -> SpeedTerms:
        _check_brackets(self.brackets, "speed")
        return self


class Terms(Section):
    """Every SLA setting of a contract; the defaults are the Cilegon contract and DESIGN.md."""

    down_mbps: float = Field(default=50, gt=0, description="Committed download per point")
    up_mbps: float = Field(default=50, gt=0, description="Committed upload per point")
    fee_idr: int = Field(default=500_000, ge=0, description="Monthly fee per point (Rupiah)")
    availability_target_pct: float = Field(default=95, gt=0, le=100)
    outage_threshold_s: int = Field(default=300, ge=60, le=86_400)
    peak_start: dt.time = Field(default=dt.time(19, 0), description="Peak window start (WIB)")
    peak_end: dt.time = Field(default=dt.time(23, 0), description="Peak window end (WIB)")
    rtt_threshold_ms: float = Field(default=150, gt=0)
    loss_threshold_pct: float = Field(default=2, ge=0, le=100)
    penalties: list[PenaltyBracket] = Field(default_factory=default_penalties)
    no_data_counts_as_down: bool = Field(
        default=False, description="Minutes without data are treated as provider_down"
    )
    speed: SpeedTerms | None = Field(
        default_factory=SpeedTerms, description="Speed deduction schedule; null: none"
    )
    combine: Literal["sum", "max"] = Field(
        default="sum",
        description="sum: availability + speed deduction, capped at 100 %; max: the larger",
    )
    min_coverage_pct: float = Field(
        default=90, ge=0, le=100, description="Below this data coverage: no automatic verdict"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Terms:
        if self.peak_end == self.peak_start:
            raise ValueError("peak window is empty (peak_start == peak_end)")
        _check_brackets(self.penalties, "penalty")
        return self

    def deduction_pct(self, availability_pct: float | None) -> float:
        """The deduction of the lowest bracket the availability falls under (0 when none)."""
        if availability_pct is None:
            return 0.0
        return bracket_deduction(self.penalties, availability_pct)


class TermsOverride(Section):
    """A kelurahan's departures from its provider's contract; unset fields are inherited."""

    down_mbps: float | None = Field(default=None, gt=0)
    up_mbps: float | None = Field(default=None, gt=0)
    fee_idr: int | None = Field(default=None, ge=0)
    availability_target_pct: float | None = Field(default=None, gt=0, le=100)
    outage_threshold_s: int | None = Field(default=None, ge=60, le=86_400)
    peak_start: dt.time | None = None
    peak_end: dt.time | None = None
    rtt_threshold_ms: float | None = Field(default=None, gt=0)
    loss_threshold_pct: float | None = Field(default=None, ge=0, le=100)
    penalties: list[PenaltyBracket] | None = None
    no_data_counts_as_down: bool | None = None
    speed: SpeedTerms | None = Field(default=None, description="Replaces the contract's whole")
    combine: Literal["sum", "max"] | None = None
    min_coverage_pct: float | None = Field(default=None, ge=0, le=100)


class Contract(Section):
    id: str | None = Field(default=None, description="A name for messages, e.g. the contract no.")
    provider: str = Field(min_length=1)
    valid_from: dt.date | None = Field(default=None, description="First day (WIB); open if unset")
    valid_until: dt.date | None = Field(default=None, description="Last day, inclusive")
    terms: Terms = Field(default_factory=Terms)
    kelurahan: dict[str, TermsOverride] = Field(
        default_factory=dict, description="Overrides per kelurahan name"
    )

    @model_validator(mode="after")
    def _ordered(self) -> Contract:
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from")
        return self

    def covers(self, day: dt.date) -> bool:
        return (self.valid_from is None or day >= self.valid_from) and (
            self.valid_until is None or day <= self.valid_until
        )

    def terms_for(self, kelurahan: str) -> Terms:
        override = self.kelurahan.get(kelurahan)
        if override is None:
            return self.terms
        changes = override.model_dump(exclude_none=True)
        return Terms.model_validate(self.terms.model_dump() | changes)


class Registry(Section):
    city: str = "Kota Cilegon"
    kelurahan: list[Kelurahan] = Field(
        default_factory=list, description="Known kelurahan; when listed, points must use them"
    )
    contracts: list[Contract] = Field(default_factory=list)
    points: list[Point] = Field(default_factory=list)

    def by_id(self) -> dict[str, Point]:
        return {p.id: p for p in self.points}

    def contracts_of(self, provider: str) -> list[Contract]:
        found = [c for c in self.contracts if c.provider == provider]
        return sorted(found, key=lambda c: c.valid_from or dt.date.min)

    def contract_on(self, provider: str, day: dt.date) -> Contract | None:
        for contract in self.contracts_of(provider):
            if contract.covers(day):
                return contract
        return None

    def problems(self) -> list[str]:
        """Every inconsistency, one line each, naming the row. Empty when the registry is sound."""
        return _problems(self)


def _overlap(a: Contract, b: Contract) -> bool:
    a_from, b_from = a.valid_from or dt.date.min, b.valid_from or dt.date.min
    a_until, b_until = a.valid_until or dt.date.max, b.valid_until or dt.date.max
    return a_from <= b_until and b_from <= a_until


def _contract_name(index: int, contract: Contract) -> str:
    return f"contracts[{index}]" + (f" ({contract.id})" if contract.id else "")


def _problems(registry: Registry) -> list[str]:
    problems: list[str] = []
    known = {k.name: k for k in registry.kelurahan}
    seen_kel: set[str] = set()
    for index, kel in enumerate(registry.kelurahan):
        if kel.name in seen_kel:
            problems.append(f"kelurahan[{index}]: duplicate kelurahan {kel.name!r}")
        seen_kel.add(kel.name)
    used_kel = {p.kelurahan for p in registry.points}
    indexed = list(enumerate(registry.contracts))
    for index, contract in indexed:
        for other_index, other in indexed[index + 1 :]:
            if other.provider == contract.provider and _overlap(contract, other):
                problems.append(
                    f"{_contract_name(other_index, other)}: period overlaps"
                    f" {_contract_name(index, contract)} of provider {contract.provider!r}"
                )
        for name in contract.kelurahan:
            if name not in (known or used_kel):
                problems.append(
                    f"{_contract_name(index, contract)}: override for unknown kelurahan {name!r}"
                )
    seen: set[str] = set()
    for index, point in enumerate(registry.points):
        row = f"points[{index}] ({point.id})"
        if point.id in seen:
            problems.append(f"{row}: duplicate point id {point.id!r}")
        seen.add(point.id)
        if known:
            kel = known.get(point.kelurahan)
            if kel is None:
                problems.append(f"{row}: unknown kelurahan {point.kelurahan!r}")
            elif kel.kecamatan != point.kecamatan:
                problems.append(
                    f"{row}: kelurahan {point.kelurahan!r} is in kecamatan {kel.kecamatan!r},"
                    f" not {point.kecamatan!r}"
                )
        if point.removed and point.installed and point.removed <= point.installed:
            problems.append(f"{row}: removed ({point.removed}) is not after installed")
        if not _has_contract(registry, point):
            problems.append(f"{row}: no contract of provider {point.provider!r} covers the point")
    return problems


def _has_contract(registry: Registry, point: Point) -> bool:
    first = point.installed or dt.date.min
    last = (point.removed - dt.timedelta(days=1)) if point.removed else dt.date.max
    for contract in registry.contracts_of(point.provider):
        c_from, c_until = contract.valid_from or dt.date.min, contract.valid_until or dt.date.max
        if c_from <= last and first <= c_until:
            return True
    return False


def parse_registry(data: Any, source: str) -> Registry:
    """Validate a registry mapping; raise ConfigError with one line naming the row."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping with 'points' at the top level")
    try:
        registry = Registry.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_describe(exc, data)}") from None
    if not registry.points:
        raise ConfigError(f"{source}: the registry lists no points")
    problems = registry.problems()
    if problems:
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise ConfigError(f"{source}: {problems[0]}{more}")
    return registry


def _describe(exc: ValidationError, data: dict[str, Any]) -> str:
    err = exc.errors()[0]
    loc = list(err["loc"])
    row = ""
    if len(loc) >= 2 and isinstance(loc[1], int) and loc[0] in ("points", "contracts", "kelurahan"):
        items = data.get(str(loc[0])) or []
        item = items[loc[1]] if loc[1] < len(items) else None
        label = item.get("id") or item.get("name") if isinstance(item, dict) else None
        row = f"{loc[0]}[{loc[1]}]" + (f" ({label})" if label else "") + ": "
        loc = loc[2:]
    field = ".".join(str(p) for p in loc) or "(row)"
    kind = err["type"]
    more = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
    point_id = describe_point_id_error(err)
    if point_id is not None:  # in words, not the regular expression
        return f"{row}field '{field}': {point_id}{more}"
    if kind == "missing":
        what = "is required but missing"
    elif kind == "extra_forbidden":
        what = "is not a known setting (typo?)"
    else:
        got = err.get("input")
        shown = "" if isinstance(got, dict | list) or got is None else f", got {got!r}"
        what = f"{err['msg'].lower()}{shown}"
    return f"{row}field '{field}' {what}{more}"


def load_registry(path: str | Path) -> Registry:
    """Read and check a registry file. Raises ConfigError with one line naming row and problem."""
    path = Path(path)
    data = read_yaml(path, _LOADER)  # the C loader: a city's registry is big
    return parse_registry(data, str(path))


def did_you_mean(value: str, known: Iterable[str]) -> str:
    """ " (did you mean 'Cibeber'?)" for a near miss of a registry name or id, "" otherwise."""
    by_folded = {k.casefold(): k for k in known}
    close = difflib.get_close_matches(value.strip().casefold(), list(by_folded), n=3, cutoff=0.6)
    if not close:
        return ""
    return f" (did you mean {' or '.join(repr(by_folded[c]) for c in close)}?)"


def check_known(option: str, value: str | None, known: Iterable[str]) -> None:
    """Refuse a kelurahan, kecamatan, provider or point the registry does not have, in one line
    that offers the near spellings it does have. Names match whatever their case."""
    if not value:
        return
    names = set(known)
    if value.strip().casefold() not in {k.casefold() for k in names}:
        raise ConfigError(f"{option} {value!r}: not in the registry{did_you_mean(value, names)}")
