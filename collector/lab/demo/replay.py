"""Replay a past span through the agent's own sampler, spool and MQTT publisher, fast.

Time steps instead of passing (a SteppingClock): every point samples at every tick of each
segment, with the real timestamps and the declared interval, into an on-disk spool; then the
publishers drain it to the broker a few points at a time, as after a long outage. `pantau demo`,
the city-shape tests and bench/city_live.py all use this one path, so what the demo shows is what
the tests check.
"""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import random
import time
from collections import defaultdict
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Protocol

from pantau.agent.spool import read_progress
from pantau.collector.influxdb import influxql
from pantau.collector.lab.demo import scenario, stop
from pantau.shared.contract import SIMULATED_METHOD
from pantau.shared.errors import SinkError

POINTS_PER_QUERY = 50  # the checks below read a bounded number of series per answer
DRAIN_WAVE = 24  # points draining their replayed span at once, per worker
DRAIN_DEADLINE_S = 3600.0  # a wave that cannot drain in an hour has lost its broker for good

ReplayPoint = tuple[str, dict[str, Any]]  # point id, agent source config


@dataclass(frozen=True)
class Segment:
    """`ticks` samples per point, `interval_s` apart, the first at `start_s`."""

    start_s: float
    ticks: int
    interval_s: float

    @property
    def end_s(self) -> float:
        return self.start_s + self.ticks * self.interval_s


def plan_segments(
    start_s: float,
    end_s: float,
    interval_s: float,
    fine_interval_s: float | None = None,
    fine_span_s: float = 0.0,
) -> list[Segment]:
    """[start_s, end_s) at `interval_s`, its last `fine_span_s` at `fine_interval_s` instead.

    The demo plays a month at hourly samples to stay short, and its last hours at the agents'
    real 10-s interval, so the rollups and the report also meet the shape the city runs at.
    """
    fine = fine_interval_s is not None and fine_span_s > 0 and fine_interval_s < interval_s
    cut = max(start_s, end_s - fine_span_s) if fine else end_s
    coarse_ticks = int((cut - start_s) // interval_s)
    segments = [Segment(start_s, coarse_ticks, interval_s)] if coarse_ticks else []
    coarse_end = start_s + coarse_ticks * interval_s
    if fine and fine_interval_s is not None:
        fine_ticks = int((end_s - coarse_end) // fine_interval_s)  # no gap after the coarse part
        if fine_ticks:
            segments.append(Segment(coarse_end, fine_ticks, fine_interval_s))
    return segments


def samples_per_point(segments: list[Segment]) -> int:
    return sum(s.ticks for s in segments)


@dataclass
class Replay:
    """Worker processes replaying their share of the points; each has its own spool."""

    processes: list[BaseProcess]
    states: list[Path]

    def progress(self) -> tuple[int, int]:
        """(samples taken, samples still waiting for the broker), read from the spools."""
        return spool_progress(self.states)

    def failed(self) -> bool:
        return any(p.exitcode not in (None, 0) for p in self.processes)

    def done(self) -> bool:
        return all(p.exitcode == 0 for p in self.processes)

    def join(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        for proc in self.processes:
            proc.join(max(0.0, deadline - time.monotonic()))

    def stop(self) -> None:
        """Only for a failure elsewhere: end workers that are still running (SIGTERM, and
        SIGKILL for one still there after two seconds)."""
        for proc in self.processes:
            if proc.is_alive():
                proc.terminate()
        self.join(2)
        for proc in self.processes:
            if proc.is_alive():
                proc.kill()
        self.join(2)


def start(
    root: Path,
    mqtt: dict[str, Any],
    points: list[ReplayPoint],
    segments: list[Segment],
    workers: int = 2,
    speed_tests: bool = False,
) -> Replay:
    """Fork `workers` processes (points dealt round-robin), each sampling its share into its own
    spool under `root`, then draining it to the broker. Returns at once."""
    workers = max(1, min(workers, len(points)))
    context = multiprocessing.get_context("fork")
    processes: list[BaseProcess] = []
    states = [root / f"replay-agent-{i}" for i in range(workers)]
    for index, state in enumerate(states):
        share = points[index::workers]
        proc = context.Process(
            target=_worker,
            args=(state, mqtt, share, segments, speed_tests),
            name=f"replay-{index}",
        )
        proc.start()
        processes.append(proc)
    return Replay(processes, states)


def raw_per_hour(
    db: Queryable, points: list[str], start_ms: int, end_ms: int
) -> dict[tuple[str, int], int]:
    """Raw samples per (point, UTC hour) in [start_ms, end_ms): one count row per series-hour."""
    counts: dict[tuple[str, int], int] = {}
    for where in _point_chunks(points):
        query = (
            f'SELECT COUNT("seq") FROM "telemetry" WHERE {where}'
            f' AND time >= {start_ms}ms AND time < {end_ms}ms GROUP BY time(1h), "point"'
        )
        for point, time_ms, count in _rows(db, query):
            if count:
                counts[(point, time_ms)] = int(count)
    return counts


def rollups_per_hour(
    db: Queryable, points: list[str], start_ms: int, end_ms: int
) -> dict[tuple[str, int], int]:
    """`samples_n` of every `sla_hourly` row per (point, UTC hour) in [start_ms, end_ms)."""
    found: dict[tuple[str, int], int] = {}
    for where in _point_chunks(points):
        query = (
            f'SELECT "samples_n" FROM "sla_hourly" WHERE {where}'
            f' AND time >= {start_ms}ms AND time < {end_ms}ms GROUP BY "point"'
        )
        for point, time_ms, samples_n in _rows(db, query):
            found[(point, time_ms)] = int(samples_n)
    return found


class Queryable(Protocol):
    def query_raw(self, influxql: str, database: str | None = None) -> list[dict[str, Any]]: ...


def _point_chunks(points: list[str]) -> list[str]:
    return [
        influxql.points(points[i : i + POINTS_PER_QUERY])
        for i in range(0, len(points), POINTS_PER_QUERY)
    ]


def _rows(db: Queryable, query: str) -> list[tuple[str, int, Any]]:
    """(point tag, time, first value) of every row; a truncated or failed answer raises."""
    rows = []
    for result in db.query_raw(query):
        if "error" in result:
            if "database not found" in str(result["error"]):
                return []
            raise SinkError(f"InfluxQL error: {result['error']}", retryable=False)
        for series in result.get("series", []):
            if series.get("partial") or result.get("partial"):
                raise SinkError(f"a truncated answer to {query[:80]!r}", retryable=False)
            point = series.get("tags", {}).get("point", "")
            rows += [(point, int(values[0]), values[1]) for values in series["values"]]
    return rows


def spool_progress(states: list[Path]) -> tuple[int, int]:
    """(samples taken, samples waiting for the broker) over the workers' spools."""
    points = [p for state in states for p in read_progress(state / "spool.sqlite").values()]
    return sum(p.taken for p in points), sum(p.waiting for p in points)


def _worker(
    state: Path,
    mqtt: dict[str, Any],
    points: list[ReplayPoint],
    segments: list[Segment],
    speed_tests: bool,
) -> None:
    """Sample every point at every tick of every segment, then publish the spool."""
    stop.detach_worker()  # first: the demo stops its workers, not the terminal's Ctrl-C
    from pantau.agent.config import MqttConfig, PointConfig, PublishConfig
    from pantau.agent.point import PointContext
    from pantau.agent.publisher import PointPublisher
    from pantau.agent.run import PointSampler
    from pantau.agent.sources.clock import SteppingClock
    from pantau.agent.spool import Spool

    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    state.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(filename=str(state) + ".log", level=logging.INFO, force=True)
    if not segments or not points:
        return
    clock = SteppingClock(segments[0].start_s)
    spool = Spool(state / "spool.sqlite", max_samples_per_point=10**7, sync="normal")
    boot = f"replay-{state.name}"
    samplers = []
    for point, source in points:
        config = PointConfig.model_validate({"id": point, "source": source})
        samplers.append(
            PointSampler(
                config,
                segments[0].interval_s,
                config.source.build(point, clock),
                PointContext(point, spool, None, clock),
                boot,
            )
        )
    tests = _speed_tests(samplers, segments) if speed_tests else {}
    for index, segment in enumerate(segments):
        for sampler in samplers:
            sampler.interval_s = segment.interval_s  # each sample declares its own interval
        for k in range(segment.ticks):
            tick = segment.start_s + k * segment.interval_s
            clock.set(tick)
            with spool.transaction():  # one commit per tick of the replay
                for sampler in samplers:
                    sampler.sample_once()
                for sampler, moment in tests.get((index, k), []):
                    clock.set(moment)
                    _speed_test(sampler, moment)
                    clock.set(tick)
    # The span is in the spool: now the publishers drain it, as after a long outage.
    mqtt_config = MqttConfig.model_validate(mqtt)
    publish = PublishConfig(batch_max=2000, inflight_max=4, drain_msgs_per_s=1000)
    names = [p for p, _ in points]
    for first in range(0, len(names), DRAIN_WAVE):
        # A few points at a time: hundreds of publishers on one spool would mostly wait for it.
        wave = [
            PointPublisher(p, boot, "simulated", spool, mqtt_config.for_point(p), publish)
            for p in names[first : first + DRAIN_WAVE]
        ]
        for publisher in wave:
            publisher.start()
        deadline = time.monotonic() + DRAIN_DEADLINE_S
        while any(spool.has_after(p.point, 0) for p in wave):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{state.name}: the broker took nothing for an hour")
            for publisher in wave:
                publisher.notify()
            time.sleep(0.1)
        for publisher in wave:
            publisher.stop()
    spool.close()


def _speed_tests(
    samplers: list[Any], segments: list[Segment]
) -> dict[tuple[int, int], list[tuple[Any, float]]]:
    """The scenario's speed tests over the whole span, by (segment, tick) they follow."""
    tests: dict[tuple[int, int], list[tuple[Any, float]]] = defaultdict(list)
    start = dt.datetime.fromtimestamp(segments[0].start_s, scenario.WIB)
    end = dt.datetime.fromtimestamp(segments[-1].end_s, scenario.WIB)
    for sampler in samplers:
        for moment in scenario.capacity_plan(sampler.point, start, end):
            for index, segment in enumerate(segments):
                if segment.start_s <= moment < segment.end_s:
                    tick = int((moment - segment.start_s) // segment.interval_s)
                    tests[(index, tick)].append((sampler, moment))
    return tests


def _speed_test(sampler: Any, moment: float) -> None:
    """The simulated link answers a speed test with what it can deliver at that moment."""
    from pantau.agent.capacity.result import Measurement
    from pantau.agent.sources.simulated import in_peak

    source = sampler.source
    t = moment
    if source.wan_is_down(t) or any(w.contains(t) for w in source.config.device_down):
        return  # the test fails: no result, the outage already shows in the samples
    rng = random.Random(f"{sampler.point}:{t}")
    down = source.capacity_mbps(t) * rng.uniform(0.86, 1.03)
    up = min(source.capacity_mbps(t), 30.0) * rng.uniform(0.9, 1.02)
    measurement = Measurement(
        method=SIMULATED_METHOD,
        server="demo",
        streams=4,
        duration_s=10.0,
        down_mbps=down,
        up_mbps=up,
        rtt_ms=source.config.rtt_ms,
        down_bytes=int(down * 1e6 / 8 * 10),
        up_bytes=int(up * 1e6 / 8 * 10),
    )
    data = measurement.data(None, in_peak(t), "scheduled")
    sampler.context.record_event("capacity", int(t * 1000), measurement.summary(), data)
