"""Which speed tests count against the provider: a low result only when the test server was
not the bottleneck and a retest confirmed it. Exact outcomes, one row per case."""

from __future__ import annotations

import datetime as dt

import pytest

from pantau.collector.sla.capacity import (
    CONFIRMATION,
    COUNTED,
    NOT_CONFIRMED,
    RETEST_PASSED,
    SERVER_BUSY,
    SERVER_LOADED,
    CapacityTest,
    fates,
    point_capacity,
)
from tests.unit.sla.helpers import wib

T1, T2 = 1_000, 2_000


def first(low: bool = True, loaded: bool = False, busy: bool = False) -> CapacityTest:
    return CapacityTest(
        T1, "down", 20.0 if low else 45.0, "http", low, loaded, busy, retest="awaiting"
    )


def retest(low: bool, loaded: bool = False, busy: bool = False, of: int = T1) -> CapacityTest:
    return CapacityTest(T2, "down", 20.0 if low else 45.0, "http", low, loaded, busy, "", of)


@pytest.mark.parametrize(
    ("tests", "expected"),
    [
        # plain results (an older agent, or nothing to check)
        ([CapacityTest(T1, "down", 20.0)], {T1: COUNTED}),
        ([CapacityTest(T1, "down", 20.0, low=True)], {T1: COUNTED}),
        ([CapacityTest(T1, "down", 20.0, low=True, server_loaded=True)], {T1: SERVER_LOADED}),
        ([CapacityTest(T1, "down", 20.0, low=True, server_busy=True)], {T1: SERVER_BUSY}),
        ([CapacityTest(T1, "down", 45.0, server_loaded=True)], {T1: COUNTED}),  # not low
        # a low result and its retest: one of the two counts, never both
        ([first(), retest(low=True)], {T1: COUNTED, T2: CONFIRMATION}),
        ([first(), retest(low=False)], {T1: RETEST_PASSED, T2: COUNTED}),
        ([first(), retest(low=True, loaded=True)], {T1: NOT_CONFIRMED, T2: SERVER_LOADED}),
        ([first(), retest(low=True, busy=True)], {T1: NOT_CONFIRMED, T2: SERVER_BUSY}),
        ([first()], {T1: NOT_CONFIRMED}),  # its retest never ran
        ([first(loaded=True), retest(low=False)], {T1: SERVER_LOADED, T2: COUNTED}),
        ([first(loaded=True), retest(low=True)], {T1: SERVER_LOADED, T2: COUNTED}),
        ([first(busy=True)], {T1: SERVER_BUSY}),
        # retested only because the server was loaded: its retest counts in its place
        ([first(low=False, loaded=True), retest(low=False)], {T1: SERVER_LOADED, T2: COUNTED}),
        ([first(low=False, busy=True), retest(low=True)], {T1: SERVER_BUSY, T2: COUNTED}),
        (
            [first(low=False, loaded=True), retest(low=True, loaded=True)],
            {T1: COUNTED, T2: SERVER_LOADED},
        ),
        ([first(low=False, loaded=True)], {T1: COUNTED}),
        # a retest whose first is not among the tests (before the period) stands alone
        ([retest(low=True, of=500)], {T2: COUNTED}),
    ],
)
def test_what_becomes_of_each_test(tests: list[CapacityTest], expected: dict[int, str]) -> None:
    assert fates(tests) == expected


def test_the_point_figures_count_only_counted_tests_and_say_why_the_others_not() -> None:
    def at(day: int, hour: int) -> int:
        return wib(2026, 10, day, hour, 0)

    tests = [
        CapacityTest(at(1, 20), "down", 45.0),  # counted, peak
        CapacityTest(at(1, 20), "up", 20.0),
        # a low peak result on a loaded server, and its retest on another, not low
        CapacityTest(at(2, 20), "down", 10.0, "http", True, True, False, "awaiting"),
        CapacityTest(at(2, 20), "up", 5.0, "http", True, True, False, "awaiting"),
        CapacityTest(at(2, 21), "down", 44.0, "http", False, False, False, "", at(2, 20)),
        # a low peak result confirmed by its retest: it counts, the retest confirms
        CapacityTest(at(3, 20), "down", 30.0, "http", True, False, False, "awaiting"),
        CapacityTest(at(3, 21), "down", 31.0, "http", True, False, False, "", at(3, 20)),
        # a low day-time result whose retest passed
        CapacityTest(at(4, 10), "down", 12.0, "http", True, False, False, "awaiting"),
        CapacityTest(at(4, 11), "down", 48.0, "http", False, False, False, "", at(4, 10)),
        # a low peak result never retested
        CapacityTest(at(5, 20), "down", 8.0, "http", True, False, False, "awaiting"),
    ]
    cap = point_capacity(tests, 50.0, 50.0, dt.time(19), dt.time(23))
    assert cap.down_mbps == (45.0, 44.0, 30.0, 48.0)
    assert cap.peak_down_mbps == (45.0, 44.0, 30.0)
    assert cap.up_mbps == (20.0,)
    assert cap.discarded == (("server_loaded", 1), ("retest_passed", 1), ("not_confirmed", 1))
    assert cap.peak_discarded == (("server_loaded", 1), ("not_confirmed", 1))
    assert (cap.discarded_n, cap.confirmations_n) == (3, 1)
    # without any flag the figures are those of every test, as before
    plain = point_capacity(
        [CapacityTest(at(1, 20), "down", 10.0)], 50.0, 50.0, dt.time(19), dt.time(23)
    )
    assert (plain.peak_down_mbps, plain.discarded, plain.confirmations_n) == ((10.0,), (), 0)
