"""One wire sample from one source reading: the pure step between a device and the spool.

The field names are the wire contract's (`pantau.shared.wire.Sample`) and nowhere else: each
field is filled from the part of the reading that has a field of the same name (the reading
itself, its WAN counters, the reachability the sampler settled on, the rates), so a field added
to the contract and to a reading travels without another list to keep in step.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from pydantic import ValidationError

from pantau.agent.rates import Rates
from pantau.agent.sources.base import Counters, Reachability, Reading
from pantau.shared.wire import Sample

# Set by the sampler, never read from a device; the rest of the contract comes from PARTS.
ENVELOPE = ("ts_ms", "seq", "boot", "interval_s")
PARTS = (Reading, Counters, Reachability, Rates)
# A value outside the contract becomes null, except these: without them there is no sample.
NEVER_NULLED = ("ts_ms", "seq", "boot", "interval_s", "device_up")
WIRE = frozenset(Sample.model_fields) - frozenset(ENVELOPE)


@dataclass(frozen=True)
class Rejected:
    """A value the contract refused (out of its physical bounds): sent as null instead."""

    field: str
    value: Any
    reason: str


@dataclass(frozen=True)
class Built:
    sample: Sample
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
    lost sample; an invalid envelope (ts_ms, boot, interval_s) raises ValidationError."""
    values: dict[str, Any] = {"ts_ms": ts_ms, "seq": 0, "boot": boot, "interval_s": interval_s}
    for part in (reading, reading.counters, reachability, rates):
        if part is not None:
            values |= {f.name: getattr(part, f.name) for f in fields(part) if f.name in WIRE}
    try:
        return Built(Sample(**values))
    except ValidationError as exc:
        rejected = []
        for error in exc.errors():
            name = str(error["loc"][0])
            if name in values and name not in NEVER_NULLED and values[name] is not None:
                rejected.append(Rejected(name, values[name], str(error["msg"])))
                values[name] = None
        return Built(Sample(**values), tuple(rejected))
