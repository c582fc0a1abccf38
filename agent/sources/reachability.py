"""WAN reachability from probe answers: one definition for every source kind.

Pure: the agent's own probes (TCP connect, system ping) and the router's `/ping` both hand their
answers here, so the same network reports the same rtt, loss and jitter whatever reads it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import replace

from pantau.agent.sources.base import Reachability
from pantau.shared.stats import median


def reachability(answers: Iterable[Sequence[float]], sent: int) -> Reachability:
    """`answers` holds, per target, its answered round trips (ms) in the order they were sent;
    `sent` is the number of probes sent to all targets together.

    - wan_up: any target answered (one reachable target proves the WAN works);
    - rtt_ms: the median of all answers;
    - loss_pct: probes without an answer, as a share of all probes sent;
    - jitter_ms: the mean absolute difference between consecutive answers of the same target
      (what ping tools and speed tests call jitter), pooled over the pairs of all targets, so a
      target counts by the number of pairs it gave. Pairs never span two targets: each has its
      own path and base delay, and the step between them is not jitter. Lost probes are
      skipped, not counted as pairs. Null when no target gave two answers.
    """
    if sent <= 0:
        return Reachability()
    answers = [list(rtts) for rtts in answers]
    rtts = [rtt for target in answers for rtt in target]
    loss = round(100.0 * (sent - len(rtts)) / sent, 2)
    if not rtts:
        return Reachability(wan_up=False, rtt_ms=None, loss_pct=loss)
    changes = [abs(b - a) for target in answers for a, b in itertools.pairwise(target)]
    return Reachability(
        wan_up=True,
        rtt_ms=round(median(rtts), 3),
        loss_pct=loss,
        jitter_ms=round(math.fsum(changes) / len(changes), 3) if changes else None,
    )


def merge_burst(light: Reachability | None, burst: Reachability) -> Reachability:
    """A sample's reachability with a ping burst's rtt, loss and jitter; `wan_up` stays the
    sample's own verdict (the burst's only when the sample has none). A burst that could not
    run (no loss figure) changes nothing."""
    if burst.loss_pct is None:
        return light or Reachability()
    base = light or Reachability(wan_up=burst.wan_up)
    if base.wan_up is None:
        base = replace(base, wan_up=burst.wan_up)
    return replace(base, rtt_ms=burst.rtt_ms, loss_pct=burst.loss_pct, jitter_ms=burst.jitter_ms)
