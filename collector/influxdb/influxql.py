"""InfluxQL text built in one place, so every query quotes names and values the same way.

Identifiers go in double quotes, string literals in single quotes, regular expressions between
slashes; each escapes what would end it (InfluxQL spec, "Identifiers" and "Literals").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# ASCII punctuation a regular expression (or its closing slash) could take as syntax; letters,
# digits, spaces, `-` and `_` stand for themselves (RE2 refuses an escaped letter or space).
_REGEX_SPECIAL = re.compile(r"[!-,./:-@\[-^`{-~]")


def ident(name: str) -> str:
    """A measurement, tag or field name: `"name"`."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def string(value: str) -> str:
    """A string literal: `'value'`."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def any_of(tag: str, values: Iterable[str]) -> str:
    """`"tag" =~ /^(a|b|c)$/`: the tag equals one of the values exactly."""
    alternatives = "|".join(_REGEX_SPECIAL.sub(r"\\\g<0>", v) for v in values)
    return f"{ident(tag)} =~ /^({alternatives})$/"


def points(ids: Iterable[str]) -> str:
    """The rows of these points."""
    return any_of("point", ids)


def between(start_ms: int, end_ms: int) -> str:
    """Rows with time in [start_ms, end_ms)."""
    return f"time >= {int(start_ms)}ms AND time < {int(end_ms)}ms"
