"""A fingerprint (SHA-256) of everything a report was computed from: the registry as loaded,
the month, the filters, and every point's rollup hours and capacity tests as the report read
them (a capacity test: its time, direction and Mbit/s, and the flags that decide whether it
counts). The same inputs give the same fingerprint whenever and wherever the report is made
again (the time it was made is not an input), so a signed copy can be checked against the
database: make the report again and compare the fingerprints. Any changed minute, test or
contract term changes it.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Sequence

import numpy as np

from pantau.collector.sla.capacity import CapacityTest
from pantau.collector.sla.daily import PointHours
from pantau.collector.sla.periods import Period
from pantau.shared.registry import Registry

VERSION = b"pantau-report-inputs/1"


class Fingerprint:
    def __init__(self, registry: Registry, period: Period, filters: dict[str, str]) -> None:
        self._hash = hashlib.sha256(VERSION)
        self._text(registry.model_dump_json())
        self._text(
            json.dumps([period.label, period.start_ms, period.end_ms, sorted(filters.items())])
        )

    def _text(self, text: str) -> None:
        data = text.encode("utf-8")
        self._hash.update(struct.pack("<Q", len(data)))
        self._hash.update(data)

    def _array(self, name: str, values: np.ndarray) -> None:
        if values.dtype.kind == "f":
            values = np.where(np.isnan(values), np.nan, values)  # one NaN, whatever its bits
        data = np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("<")).tobytes()
        self._text(f"{name}:{values.dtype.str}:{values.shape}")
        self._hash.update(struct.pack("<Q", len(data)))
        self._hash.update(data)

    def point(self, point: str, hours: PointHours, tests: Sequence[CapacityTest]) -> None:
        self._text(f"point:{point}:{hours.start_ms}")
        self._text(hours.evidence)
        self._text(hours.states)
        for group in (hours.ints, hours.floats, hours.slots):
            for name in sorted(group):
                self._array(name, np.asarray(group[name]))
        # a test's time, direction and Mbit/s are what the figures use (not how it was run)
        ordered = sorted((t.ts_ms, t.direction, t.mbps) for t in tests)
        self._text(json.dumps([[ts, direction, repr(mbps)] for ts, direction, mbps in ordered]))
        # and whether each counts (sla/capacity.py): only tests that carry a flag, so the
        # fingerprint of tests without any is what it was before flags existed
        flagged = sorted(
            (t.ts_ms, t.direction, t.low, t.server_loaded, t.server_busy, t.retest, t.retest_of_ms)
            for t in tests
            if t.flagged
        )
        if flagged:
            self._text(json.dumps(["flags", *flagged]))

    def unregistered(self, points: Sequence[tuple[str, int, int]]) -> None:
        """The points left out because the registry does not list them (id, hours, samples):
        only when there are any, so other reports keep the fingerprint they had."""
        if points:
            self._text(json.dumps(["unregistered", *sorted(points)]))

    def hexdigest(self) -> str:
        return self._hash.hexdigest()
