"""The alert engine, step by step: when an alert fires, when it recovers, what it suppresses."""

from __future__ import annotations

import pytest

from pantau.collector.noc import alerts as a
from pantau.collector.noc.alerts import Alert, Condition, Engine, Timing

S = 1000
TIMINGS = {
    a.PROVIDER_DOWN: Timing(after_s=300, clear_s=120),
    a.SILENT: Timing(after_s=600, clear_s=120),
    a.KELURAHAN_DOWN: Timing(after_s=300, clear_s=120),
    a.COLLECTOR_BEHIND: Timing(after_s=180, clear_s=0),
    a.CAPACITY_LOW: Timing(after_s=0, clear_s=0),
}


def down(
    active: bool | None, since_s: float | None, point: str = "p-01", kel: str = "K"
) -> Condition:
    since = None if since_s is None else int(since_s * S)
    return Condition(a.PROVIDER_DOWN, point, active, since, "t", "", kel, point)


def run(steps: list[tuple[float, list[Condition]]]) -> list[tuple[float, str, str, float | None]]:
    """Feed (now_s, conditions) rounds; return (now_s, kind, key, duration_s) of each notice."""
    engine = Engine(TIMINGS)
    out = []
    for now_s, conditions in steps:
        for notice in engine.evaluate(conditions, int(now_s * S)):
            out.append((now_s, notice.kind, notice.alert.key, notice.duration_s))
    return out


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        pytest.param(
            [(100, [down(True, 0)]), (299, [down(True, 0)]), (300, [down(True, 0)])],
            [(300, "firing", "provider_down:p-01", None)],
            id="fires at after_s, measured from the data's start",
        ),
        pytest.param(
            [(10, [down(True, 0)]), (200, [down(False, 200)]), (400, [down(False, 200)])],
            [],
            id="a blip shorter than after_s never fires",
        ),
        pytest.param(
            [(300, [down(True, 0)]), (301, [down(True, 0)]), (600, [down(True, 0)])],
            [(300, "firing", "provider_down:p-01", None)],
            id="announced once, however long it lasts",
        ),
        pytest.param(
            [
                (300, [down(True, 0)]),
                (400, [down(False, 390)]),
                (509, [down(False, 390)]),
                (510, [down(False, 390)]),
            ],
            [
                (300, "firing", "provider_down:p-01", None),
                (510, "resolved", "provider_down:p-01", 390.0),
            ],
            id="recovers after clear_s; duration from start to the data's recovery",
        ),
        pytest.param(
            [
                (300, [down(True, 0)]),
                (400, [down(False, 390)]),
                (450, [down(True, 440)]),
                (500, [down(False, 495)]),
                (560, [down(True, 555)]),
                (700, [down(False, 650)]),
                (770, [down(False, 650)]),
            ],
            [
                (300, "firing", "provider_down:p-01", None),
                (770, "resolved", "provider_down:p-01", 650.0),
            ],
            id="flapping inside clear_s keeps one alert open",
        ),
        pytest.param(
            [(300, [down(True, 0)]), (400, [down(None, None)]), (10_000, [])],
            [(300, "firing", "provider_down:p-01", None)],
            id="no evidence holds the alert (never a false recovery)",
        ),
        pytest.param(
            [(300, [down(True, None)]), (600, [down(True, None)])],
            [(600, "firing", "provider_down:p-01", None)],
            id="without a start in the data, the first sighting counts",
        ),
        pytest.param(
            [(100, [down(True, 0)]), (200, [down(True, 150)]), (300, [down(True, 150)])],
            [],
            id="a pending alert follows the data when late samples move the start",
        ),
    ],
)
def test_timing(
    steps: list[tuple[float, list[Condition]]], expected: list[tuple[float, str, str, float]]
) -> None:
    assert run(steps) == expected


def kel(active: bool | None, since_s: float | None) -> Condition:
    since = None if since_s is None else int(since_s * S)
    return Condition(a.KELURAHAN_DOWN, "K", active, since, "k", "", "K")


def test_kelurahan_alert_replaces_the_point_alerts() -> None:
    points = [down(True, 0, f"p-{i:02d}") for i in range(10)]
    steps = [(299, [kel(True, 0), *points]), (300, [kel(True, 0), *points])]
    steps.append((900, [kel(True, 0), *points]))
    assert run(steps) == [(300, "firing", "kelurahan_down:K", None)]


def test_point_alerts_fire_when_the_kelurahan_recovers_without_them() -> None:
    still = down(True, 0, "p-01")
    steps = [
        (300, [kel(True, 0), still]),
        (400, [kel(False, 390), still]),
        (520, [kel(False, 390), still]),
    ]
    assert run(steps) == [
        (300, "firing", "kelurahan_down:K", None),
        (520, "resolved", "kelurahan_down:K", 390.0),
        (520, "firing", "provider_down:p-01", None),
    ]


def test_a_point_alert_fired_before_its_kelurahan_still_recovers() -> None:
    early = [(300, [down(True, 0, "p-01")])]
    both = [(700, [kel(True, 400), down(True, 0, "p-01")])]
    after = [(800, [kel(False, 790), down(False, 790, "p-01")])]
    done = [(910, [kel(False, 790), down(False, 790, "p-01")])]
    assert run(early + both + after + done) == [
        (300, "firing", "provider_down:p-01", None),
        (700, "firing", "kelurahan_down:K", None),
        (910, "resolved", "kelurahan_down:K", 390.0),
        (910, "resolved", "provider_down:p-01", 790.0),
    ]


def test_a_central_fault_holds_the_no_data_alerts() -> None:
    behind = Condition(a.COLLECTOR_BEHIND, "collector", True, 0, "c")
    silent = Condition(a.SILENT, "p-01", True, 0, "s", "", "K", "p-01")
    steps = [(180, [behind, silent]), (700, [behind, silent])]
    assert run(steps) == [(180, "firing", "collector_behind:collector", None)]
    # provider-down data is evidence of its own: not held
    pd = down(True, 0)
    assert run([(300, [behind, pd])]) == [
        (300, "firing", "collector_behind:collector", None),
        (300, "firing", "provider_down:p-01", None),
    ]


def test_no_data_alerts_wait_a_full_period_after_the_centre_recovers() -> None:
    """The sites' backlog arrives after the collector is back: a kelurahan that has looked dark
    for longer than after_s while the collector was down is not blamed at the recovery."""
    behind = Condition(a.COLLECTOR_BEHIND, "collector", True, 0, "c")
    behind_over = Condition(a.COLLECTOR_BEHIND, "collector", False, 500 * S, "c")
    dark = Condition(a.KELURAHAN_DOWN, "K", True, 10 * S, "k", "", "K")
    steps = [
        (180, [behind, dark]),
        (500, [behind_over, dark]),  # the centre is back; K still looks dark
        (799, [behind_over, dark]),
        (800, [behind_over, dark]),  # dark a full after_s after the recovery: now it counts
    ]
    assert run(steps) == [
        (180, "firing", "collector_behind:collector", None),
        (500, "resolved", "collector_behind:collector", 500.0),
        (800, "firing", "kelurahan_down:K", None),
    ]


def test_restored_alerts_are_not_announced_again() -> None:
    engine = Engine(TIMINGS)
    engine.restore([Alert(a.PROVIDER_DOWN, "p-01", 0, "t", fired_ms=300 * S)])
    assert engine.evaluate([down(True, 0)], 1000 * S) == []
    notices = engine.evaluate([down(False, 1100)], 1300 * S)
    assert [(n.kind, n.duration_s) for n in notices] == [("resolved", 1100.0)]


def test_a_switched_off_rule_never_fires() -> None:
    engine = Engine({})
    assert engine.evaluate([down(True, 0)], 10_000 * S) == []


def test_capacity_fires_and_recovers_at_once() -> None:
    low = Condition(a.CAPACITY_LOW, "p-01/down", True, 50 * S, "c", "", "K", "p-01")
    good = Condition(a.CAPACITY_LOW, "p-01/down", False, 90 * S, "c", "", "K", "p-01")
    assert run([(60, [low]), (90, [good])]) == [
        (60, "firing", "capacity_low:p-01/down", None),
        (90, "resolved", "capacity_low:p-01/down", 40.0),
    ]
