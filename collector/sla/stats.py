"""Order statistics with definitions simple enough to check by hand.

- median: the middle value, or the mean of the two middle values.
- p95 (nearest rank, month.p95_mbps): the ⌈0.95·n⌉-th smallest value.
- reached_by: the largest value that at least p % of the values reach (are ≥), i.e. the
  (n − ⌈p·n/100⌉ + 1)-th smallest. "80/80" is reached_by(80) applied twice.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def median(values: Sequence[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def _rank(n: int, pct: float) -> int:
    """⌈pct·n/100⌉ computed without float surprises (pct with up to 6 decimals)."""
    scaled = round(pct * 1_000_000)
    return max(1, -(-n * scaled // 100_000_000))


def reached_by(values: Sequence[float], pct: float) -> float | None:
    """The largest value v such that at least pct % of values are ≥ v."""
    if not values:
        return None
    ordered = sorted(values)
    n = len(ordered)
    return float(ordered[n - min(n, _rank(n, pct))])


def share_at_least(values: Sequence[float], threshold: float) -> float | None:
    """Percentage of values ≥ threshold."""
    if not values:
        return None
    return 100.0 * sum(1 for v in values if v >= threshold) / len(values)
