"""One wire sample from one source reading: the pure step between a device and the spool.

The field names are the wire contract's (`pantau.shared.contract.SAMPLE_FIELDS`) and nowhere else: each
field is filled from the part of the reading that has a field of the same name (the reading
itself, its WAN counters, the reachability the sampler settled on, the rates), so a field added
to the contract and to a reading travels without another list to keep in step.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from pantau.agent.rates import Rates
from pantau.agent.sources.base import Counters, Reachability, Reading
from pantau.shared.contract import REQUIRED, SAMPLE_FIELDS, check_sample

# Set by the sampler, never read from a device; the rest of the contract comes from PARTS.
ENVELOPE = ("ts_ms", "seq", "boot", "interval_s")
PARTS = (Reading, Counters, Reachability, Rates)
# A value outside the contract becomes null, except these: without them there is no sample.
NEVER_NULLED = REQUIRED
WIRE = frozenset(SAMPLE_FIELDS) - frozenset(ENVELOPE)


@dataclass(frozen=True)
class Rejected:
    """A value the contract refused (out of its physical bounds): sent as null instead."""

    field: str
    value: Any
    reason: str


@dataclass(frozen=True)
class Built:
    sample: dict[str, Any]  # every field of the contract, checked (shared/contract.py)
    rejected: tuple[Rejected, ...] = ()


def build_sample(
    reading: Reading,
    reachability: Reachability | None,
    rates: Rates,
    *,
    ts_ms: int,
    boot: str,
    interval_s: float,
) -> Built:
    """The sample (seq 0: the spool assigns it) of a reading, with the reachability and rates
    the sampler settled on. A value outside the contract becomes null and is listed, never a
    lost sample; an invalid envelope (ts_ms, boot, interval_s) raises ContractError."""
    values: dict[str, Any] = {"ts_ms": ts_ms, "seq": 0, "boot": boot, "interval_s": interval_s}
    for part in (reading, reading.counters, reachability, rates):
        if part is not None:
            values |= {f.name: getattr(part, f.name) for f in fields(part) if f.name in WIRE}
    sample, refused = check_sample(values)
    return Built(sample, tuple(Rejected(n, v, why) for n, (v, why) in refused.items()))
