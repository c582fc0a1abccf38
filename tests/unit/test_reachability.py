"""One reachability definition for every source kind: each row computed by hand."""

from __future__ import annotations

import pytest

from pantau.agent.sources.base import Reachability
from pantau.agent.sources.reachability import reachability
from pantau.agent.sources.routeros.parse import PingResult, summarize_pings


def up(rtt_ms: float, loss_pct: float, jitter_ms: float | None) -> Reachability:
    return Reachability(wan_up=True, rtt_ms=rtt_ms, loss_pct=loss_pct, jitter_ms=jitter_ms)


ROWS = [
    # answers per target, probes sent, expected
    ([], 0, Reachability()),  # no targets: nothing known
    ([[]], 3, Reachability(wan_up=False, rtt_ms=None, loss_pct=100.0)),
    ([[5.0]], 1, up(5.0, 0.0, None)),  # one answer: no pair, no jitter
    # |14-12| = 2, |11-14| = 3: jitter 2.5; median of 12, 14, 11 = 12
    ([[12.0, 14.0, 11.0]], 3, up(12.0, 0.0, 2.5)),
    # near and far target: pairs 2, 2 and 2 (none from 10 to 50): jitter 2.0 (joined, the
    # step 10 -> 50 would make it (2+2+40+2)/4 = 11.5); median of 10 12 10 50 52 = 12;
    # one of 6 probes lost: 16.67 %
    ([[10.0, 12.0, 10.0], [50.0, 52.0]], 6, up(12.0, 16.67, 2.0)),
    # pooled by pairs: (1+1+1+1 + 10) / 5 = 2.8, not the mean of target means (1+10)/2 = 5.5;
    # median of 1 2 3 4 5 10 20 = 4
    ([[1.0, 2.0, 3.0, 4.0, 5.0], [10.0, 20.0]], 7, up(4.0, 0.0, 2.8)),
    # a silent target: pairs 0.328 and 1.664 → 0.996; 4 of 7 lost: 57.14 %; median 1.164
    ([[1.164, 0.836, 2.5], []], 7, up(1.164, 57.14, 0.996)),
    # one answer per target: no pair at all; median of 10 and 50 = 30
    ([[10.0], [50.0]], 2, up(30.0, 0.0, None)),
    # rounding: pairs 0.1 and 0.2 → 0.15 (not 0.15000000000000002)
    ([[0.1, 0.2, 0.4]], 3, up(0.2, 0.0, 0.15)),
]


@pytest.mark.parametrize(("answers", "sent", "expected"), ROWS)
def test_reachability(answers: list[list[float]], sent: int, expected: Reachability) -> None:
    assert reachability(answers, sent) == expected


@pytest.mark.parametrize(("answers", "sent", "expected"), ROWS)
def test_a_router_pinging_the_same_reports_the_same(
    answers: list[list[float]], sent: int, expected: Reachability
) -> None:
    """RouterOS `/ping` replies go through the same definition as the agent's own probes."""
    per_target = [sent // len(answers)] * len(answers) if answers else []
    if per_target:
        per_target[-1] += sent - sum(per_target)
    results = [
        PingResult(f"target-{i}", n, len(rtts), tuple(rtts))
        for i, (n, rtts) in enumerate(zip(per_target, answers, strict=True))
    ]
    assert summarize_pings(results) == expected
