"""The city's real shape for tests and the bench: Cilegon's 430 points, replayed at their real
timestamps through the agent's sampler, spool and publisher (collector/lab/demo/replay.py), and what
exactly must come out of it.

The expected minute states are worked out here from the scenario's windows alone, sample by
sample, so they check the collector's rollups and the report rather than repeat them.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pantau.collector.influxdb.client import Influx
from pantau.collector.lab.demo import replay, scenario
from pantau.collector.lab.demo.replay import ReplayPoint, Segment
from pantau.shared.registry import Registry
from tests.pipeline import Proc, count_rows, poll_pauses

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = ROOT / "examples" / "registry-cilegon.yaml"  # 43 kelurahan x 10 points
MONTH = "2026-10"
HOUR_S = 3600
# Samples of October 2026 are older than the collector's default horizon (15 days): believe them.
LIMITS = {"max_age_s": 20 * 365 * 86_400}


def utc(*args: int) -> float:
    return dt.datetime(*args, tzinfo=dt.UTC).timestamp()


def window(start_s: float, end_s: float) -> dict[str, str]:
    return {
        "start": dt.datetime.fromtimestamp(start_s, dt.UTC).isoformat(),
        "end": dt.datetime.fromtimestamp(end_s, dt.UTC).isoformat(),
    }


def city_points(registry: Registry, limit: int | None = None) -> list[ReplayPoint]:
    """The demo's scenario for the registry's points (day curves, outages, a congested
    kelurahan), as replay sources."""
    points = [(p.id, p.kelurahan) for p in registry.points[:limit]]
    return [(s.point, s.source()) for s in scenario.build(points, MONTH)]


def add_window(
    points: list[ReplayPoint], index: int, kind: str, start_s: float, end_s: float
) -> str:
    """Give one point an extra `wan_down` or `device_down` window; return its id."""
    point, source = points[index]
    source[kind] = [*source.get(kind, []), window(start_s, end_s)]
    return point


def _spans(windows: list[dict[str, str]]) -> list[tuple[float, float]]:
    return [
        (
            dt.datetime.fromisoformat(w["start"]).timestamp(),
            dt.datetime.fromisoformat(w["end"]).timestamp(),
        )
        for w in windows
    ]


def expected_minutes(source: dict[str, Any], segments: list[Segment]) -> Counter[str]:
    """Minute letters (U, D, X) the segments' samples must give, from the rules alone: a sample
    speaks for the ceil(interval / 60) minutes from its own; a router that cannot be read says
    nothing about the WAN; among samples that saw it, more than half down is provider_down, a
    tie is up."""
    device_down = _spans(source.get("device_down", []))
    wan_down = _spans(source.get("wan_down", []))
    votes: dict[int, str] = {}
    for segment in segments:
        covers = max(1, math.ceil(segment.interval_s / 60))
        for k in range(segment.ticks):
            t = segment.start_s + k * segment.interval_s
            if any(a <= t < b for a, b in device_down):
                vote = "x"
            elif any(a <= t < b for a, b in wan_down):
                vote = "d"
            else:
                vote = "u"
            first = int(t // 60)
            for minute in range(first, first + covers):
                votes[minute] = votes.get(minute, "") + vote
    letters: Counter[str] = Counter()
    for vote in votes.values():
        up, down = vote.count("u"), vote.count("d")
        if up + down:
            letters["D" if 2 * down > up + down else "U"] += 1
        else:
            letters["X"] += 1
    return letters


def hours(segment: Segment) -> list[int]:
    """UTC hour starts (ms) the segment's samples fall in."""
    first = int(segment.start_s // HOUR_S)
    last = int((segment.end_s - 1) // HOUR_S)
    return [h * HOUR_S * 1000 for h in range(first, last + 1)]


def per_hour(segment: Segment) -> dict[int, int]:
    """Samples of one point per UTC hour (ms)."""
    counts: Counter[int] = Counter()
    for k in range(segment.ticks):
        t = segment.start_s + k * segment.interval_s
        counts[int(t // HOUR_S) * HOUR_S * 1000] += 1
    return dict(counts)


def expected_pairs(points: list[ReplayPoint], segment: Segment) -> dict[tuple[str, int], int]:
    """Raw samples (and so rollup samples_n) of every (point, hour)."""
    counts = per_hour(segment)
    return {(point, hour): n for point, _ in points for hour, n in counts.items()}


def span_ms(segment: Segment, margin_h: int = 1) -> tuple[int, int]:
    """The segment's whole hours, widened by `margin_h` hours each side (to see stray rows)."""
    first = hours(segment)
    return first[0] - margin_h * HOUR_S * 1000, first[-1] + (1 + margin_h) * HOUR_S * 1000


def wait_until(
    check: Callable[[], Any], timeout_s: float, what: str, alive: list[Proc], step_s: float = 1.0
) -> Any:
    """Poll `check` until it returns something true (looks spaced as `poll_pauses` spaces them,
    up to `step_s`); a process that died or the deadline ends it with the tail of its log."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    pauses = poll_pauses(step_s)
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        for proc in alive:
            assert proc.alive(), (
                f"{proc.args[0]} exited while waiting for {what}: {proc.log()[-3000:]}"
            )
        time.sleep(next(pauses))
    tails = "\n".join(p.log()[-2000:] for p in alive)
    raise AssertionError(
        f"timed out after {timeout_s:.0f}s waiting for {what} (last {last!r})\n{tails}"
    )


def wait_stored(
    db: Influx, run: replay.Replay, total: int, timeout_s: float, alive: list[Proc]
) -> None:
    """Until InfluxDB holds `total` telemetry rows; a failed replay worker ends the wait."""

    def stored() -> bool:
        assert not run.failed(), "a replay worker failed; see replay-agent-*.log"
        return count_rows(db, "telemetry") >= total

    wait_until(stored, timeout_s, f"{total:,} telemetry rows", alive)
    run.join(60)
    assert run.done(), "a replay worker did not finish after its spool drained"


def wait_rollups(
    db: Influx,
    expected: dict[tuple[str, int], int],
    span: tuple[int, int],
    timeout_s: float,
    alive: list[Proc],
) -> None:
    """Until every expected (point, hour) has its rollup holding exactly its samples; on a
    timeout, say how many are missing or wrong, and which."""
    gaps: list[tuple[list[tuple[str, int]], list[tuple[str, int]]]] = []

    def complete() -> bool:
        gaps[:] = [rollup_gaps(db, expected, *span)]
        return gaps[0] == ([], [])

    try:
        wait_until(complete, timeout_s, "a rollup for every (point, hour)", alive, step_s=2)
    except AssertionError as exc:
        missing, wrong = gaps[0] if gaps else ([], [])
        raise AssertionError(
            f"{len(missing)} of {len(expected)} point-hours without their rollup (first"
            f" {missing[:3]}), {len(wrong)} with a wrong samples_n (first {wrong[:3]}); {exc}"
        ) from None


def rollup_gaps(
    db: Influx, expected: dict[tuple[str, int], int], start_ms: int, end_ms: int
) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """(point-hours without a rollup, point-hours whose samples_n is not the expected count)."""
    points = sorted({p for p, _ in expected})
    found = replay.rollups_per_hour(db, points, start_ms, end_ms)
    missing = sorted(set(expected) - set(found))
    wrong = sorted(k for k in expected if k in found and found[k] != expected[k])
    return missing, wrong
