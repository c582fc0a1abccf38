"""Whether a result needs checking again before it may count against the provider, and what
its retest says of it. Pure.

A low result is only evidence against the provider when the test server was not the
bottleneck: a result under `below_pct` of the committed speed, or taken while the server said it
was loaded (its CPU, or the tests it ran at once, over the thresholds) or refused some of the
test's streams (503), is retested. The retest says of the first result: `confirmed` (low again,
on a server that was not loaded), `superseded` (not low) or `inconclusive` (low, but the server
was loaded or busy again). Both results are kept as events; the collector decides which counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pantau.agent.capacity.result import Measurement

if TYPE_CHECKING:
    from pantau.agent.capacity.config import RetestConfig

AWAITING = "awaiting"
CONFIRMED = "confirmed"
SUPERSEDED = "superseded"
INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Judgement:
    low: bool  # download under the threshold
    loaded: bool  # the server reported load over the thresholds
    busy: bool  # the server refused some of the test's streams
    below_mbps: float  # the threshold

    @property
    def needs_retest(self) -> bool:
        return self.low or self.loaded or self.busy

    @property
    def reasons(self) -> str:
        named = (("low", self.low), ("server_loaded", self.loaded), ("server_busy", self.busy))
        return ",".join(name for name, flag in named if flag)

    @property
    def verdict(self) -> str:
        """What this result, as a retest, says of the result it checks."""
        if not self.low:
            return SUPERSEDED
        return INCONCLUSIVE if self.loaded or self.busy else CONFIRMED

    def data(self) -> dict[str, Any]:
        return {
            "low": self.low,
            "low_below_mbps": round(self.below_mbps, 3),
            "server_loaded": self.loaded,
        }


def judge(m: Measurement, cfg: RetestConfig, committed_mbps: float) -> Judgement:
    below = committed_mbps * cfg.below_pct / 100
    cpu = cfg.server_cpu_pct
    loaded = (cpu is not None and m.server_cpu_pct is not None and m.server_cpu_pct >= cpu) or (
        cfg.server_tests is not None
        and m.server_tests is not None
        and m.server_tests >= cfg.server_tests
    )
    low = m.down_mbps is not None and m.down_mbps < below
    return Judgement(low=low, loaded=loaded, busy=m.server_busy, below_mbps=below)
