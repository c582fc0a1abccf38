"""Two report JSONs (`pantau report --format json`), compared to their first difference. Pure.

`verify` recomputes a month's report from the archive and holds it against the report someone
was handed: either they match, or the first difference is named the way a person checks it, by
point, minute and figure. The most specific part comes first: the points' figures, then the
outages (each names its minute), then the groups and everything else. What does not depend on
the measurements is left out: when and by which version the report was made, and the archive
digest (checked against the checkpoints themselves).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

IGNORED = frozenset({"generated", "software_version", "archive"})
KEYED = {  # list sections whose items are matched by a key, not by position
    "points": ("id",),
    "kelurahan": ("id",),
    "kecamatan": ("id",),
    "providers": ("id",),
    "outages": ("point", "start"),
    "verdicts": ("provider",),
    "contracts": ("provider", "id"),
}
FIRST = ("points", "outages")
_MISSING = object()


@dataclass(frozen=True)
class Difference:
    section: str  # points, outages, total, ...
    item: str | None  # the point (or group) id
    minute: str | None  # an outage's start, when the difference is an outage
    figure: str  # the field, as a dotted path inside the item
    report: Any  # what the given report says (None when absent)
    archive: Any  # what the archive gives

    def __str__(self) -> str:
        where = [self.section]
        if self.item is not None:
            where.append(f"point {self.item}" if self.section in FIRST else self.item)
        if self.minute is not None:
            where.append(f"minute {self.minute}")
        return (
            f"{', '.join(where)}, {self.figure}: the report says {_show(self.report)},"
            f" the archive gives {_show(self.archive)}"
        )


def first_difference(report: Mapping[str, Any], archive: Mapping[str, Any]) -> Difference | None:
    """None when the two say the same about the measurements."""
    names = [n for n in FIRST if n in report or n in archive]
    names += [n for n in _keys(report, archive) if n not in FIRST and n not in IGNORED]
    for name in names:
        mine, theirs = report.get(name, _MISSING), archive.get(name, _MISSING)
        if name in KEYED and isinstance(mine, list) and isinstance(theirs, list):
            found = _keyed(name, KEYED[name], mine, theirs)
        else:
            found = _value(name, None, None, "", mine, theirs)
        if found is not None:
            return found
    return None


def _keyed(
    section: str, key: tuple[str, ...], mine: list[Any], theirs: list[Any]
) -> Difference | None:
    def index(items: list[Any]) -> dict[tuple[Any, ...], Any]:
        return {tuple(i.get(k) for k in key) if isinstance(i, dict) else (i,): i for i in items}

    a, b = index(mine), index(theirs)
    for item_key in _ordered(a, b):
        name = str(item_key[0])
        minute = str(item_key[1]) if section == "outages" else None
        if item_key not in a or item_key not in b:
            figure = "outage" if section == "outages" else "present"
            return Difference(
                section,
                name,
                minute,
                figure,
                "present" if item_key in a else None,
                "present" if item_key in b else None,
            )
        found = _value(section, name, minute, "", a[item_key], b[item_key])
        if found is not None:
            return found
    return None


def _value(
    section: str, item: str | None, minute: str | None, path: str, mine: Any, theirs: Any
) -> Difference | None:
    if isinstance(mine, dict) and isinstance(theirs, dict):
        for key in _keys(mine, theirs):
            found = _value(
                section,
                item,
                minute,
                f"{path}.{key}" if path else str(key),
                mine.get(key, _MISSING),
                theirs.get(key, _MISSING),
            )
            if found is not None:
                return found
        return None
    if isinstance(mine, list) and isinstance(theirs, list) and len(mine) == len(theirs):
        for i, (x, y) in enumerate(zip(mine, theirs, strict=True)):
            found = _value(section, item, minute, f"{path}[{i}]", x, y)
            if found is not None:
                return found
        return None
    if _same(mine, theirs):
        return None
    return Difference(
        section,
        item,
        minute,
        path or section,
        None if mine is _MISSING else mine,
        None if theirs is _MISSING else theirs,
    )


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b) and not (_number(a) and _number(b)):
        return False
    return bool(a == b)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _keys(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    return list(dict.fromkeys([*a, *b]))


def _ordered(a: Mapping[Any, Any], b: Mapping[Any, Any]) -> Iterable[Any]:
    return dict.fromkeys([*a, *b])


def _show(value: Any) -> str:
    return "nothing" if value is None else repr(value)
