"""Median and mean of a few values (ping round trips, stream rates), as `statistics`
computes them, without that module: it brings decimal and fractions, 0.6 MB on a small board."""

from __future__ import annotations

import math
from collections.abc import Sequence


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def fmean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)
