"""End-to-end receipts: an agent forgets a sample only when a collector says it is stored.

Each test breaks the path between a PUBACK and a stored row with real processes (a broker
SIGKILLed between its saves, an agent's disk full, the collector's evidence archive disk full, a
collector SIGKILLed before its receipt went out) and checks that InfluxDB holds every seq of every point exactly once.
"""

from __future__ import annotations

import contextlib
import errno
import json
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from pantau.collector.archive.segments import days, read_day
from pantau.collector.lab import services
from pantau.collector.lab.services import Service
from pantau.shared import topics
from tests.pipeline import (
    Proc,
    agent_config,
    collector_config,
    count_rows,
    finish_with_receipts,
    influx,
    registry_file,
    spooled,
    start_agent,
    start_collector,
    taken_samples,
    taken_so_far,
    wait_for,
)

POINTS = [f"ciwaduk-{i:02d}" for i in range(1, 5)]


def simulated(point: str) -> dict[str, Any]:
    return {"id": point, "source": {"kind": "simulated", "fixed_rx_bps": 4e6, "fixed_clients": 3}}


def agent(tmp: Path, port: int, state_dir: Path, interval_s: float, **extra: Any) -> Proc:
    config = agent_config(
        tmp / "agent" / "agent.yaml",
        port,
        [simulated(p) for p in POINTS],
        interval_s=interval_s,
        state_dir=str(state_dir),
        **extra,
    )
    return start_agent(config, tmp / "agent.log")


def collector(tmp: Path, port: int, influxd: Service, database: str, **extra: Any) -> Proc:
    registry = registry_file(tmp / "registry.yaml", POINTS)
    config = collector_config(
        tmp / "collector.yaml", port, influxd.url, database, registry, **extra
    )
    return start_collector(config, tmp / "collector.log")


def finish(db: Any, state_dir: Path, agent_proc: Proc) -> dict[str, int]:
    return finish_with_receipts(db, state_dir, agent_proc, more=80)


def test_broker_killed_between_saves_while_the_collector_is_away(
    tmp_path: Path, mosquitto: Service, influxd: Service, database: str
) -> None:
    db = influx(influxd.url, database)
    state = tmp_path / "agent-state"
    procs = [collector(tmp_path, mosquitto.port, influxd, database)]
    procs.append(agent(tmp_path, mosquitto.port, state, 0.05))
    try:
        wait_for(lambda: count_rows(db, "telemetry") >= 40, 30, "data flowing")
        procs[0].stop()  # the collector away: the broker queues for its persistent session
        away_from = taken_so_far(state)
        wait_for(lambda: taken_so_far(state) >= away_from + 200, 60, "200 samples while away")
        # The broker has PUBACKed them; without receipts the agent would have forgotten them.
        wait_for(lambda: spooled(state) >= 200, 30, "the samples kept until a receipt")
        mosquitto.kill()  # SIGKILL: what arrived since its last autosave is gone
        assert mosquitto.process is not None and mosquitto.process.returncode == -signal.SIGKILL
        mosquitto.start()
        procs[0] = collector(tmp_path, mosquitto.port, influxd, database)
        taken = finish(db, state, procs[1])
        assert sum(taken.values()) >= away_from + 200
    finally:
        for proc in procs:
            proc.stop()


@pytest.fixture
def small_disk(tmpfs: Callable[[str], Path]) -> Path:
    return tmpfs("8m")


def fill(disk: Path) -> Path:
    """Take every free byte of the disk with one file; removing it frees the disk again."""
    filler = disk / "filler"
    chunk = b"\0" * 65536
    with filler.open("wb", buffering=0) as out, contextlib.suppress(OSError):
        for _ in range(10_000):
            out.write(chunk)
    with filler.open("ab", buffering=0) as out:
        for size in (4096, 512, 1):
            try:
                while True:
                    out.write(b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    return filler


class StateWatch:
    """The latest state message of every point, across broker restarts (paho reconnects)."""

    def __init__(self, port: int) -> None:
        self.latest: dict[str, dict[str, Any]] = {}
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id="state-watch",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        self.client.on_connect = lambda c, *_: c.subscribe(topics.state_topic("+"), qos=1)
        self.client.on_message = lambda c, u, m: self.latest.__setitem__(
            m.topic, json.loads(m.payload) if m.payload else {}
        )
        self.client.reconnect_delay_set(0.2, 1)
        self.client.connect("127.0.0.1", port, keepalive=5)
        self.client.loop_start()

    def spool(self, point: str) -> str | None:
        return self.latest.get(topics.state_topic(point), {}).get("spool")

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_a_full_agent_disk_while_publishing_and_while_the_broker_is_away(
    tmp_path: Path, small_disk: Path, mosquitto: Service, influxd: Service, database: str
) -> None:
    db = influx(influxd.url, database)
    state = small_disk / "agent-state"
    procs = [collector(tmp_path, mosquitto.port, influxd, database)]
    procs.append(agent(tmp_path, mosquitto.port, state, 0.1))
    watch = StateWatch(mosquitto.port)
    try:
        wait_for(lambda: count_rows(db, "telemetry") >= 20, 30, "data flowing")
        filler = fill(small_disk)
        # Samples wait in memory, receipts cannot delete: every point says so in its birth.
        wait_for(
            lambda: all(watch.spool(p) == "disk_full" for p in POINTS),
            60,
            "every point announcing a full spool",
        )
        mosquitto.stop()
        wait_for(lambda: "disconnected" in procs[1].log(), 30, "the agent losing the broker")
        full_at = count_rows(db, "telemetry")
        filler.unlink()  # room again while the broker is still away
        spooled_now = taken_so_far(state)
        wait_for(lambda: taken_so_far(state) >= spooled_now + 20, 60, "spooling again")
        mosquitto.start()
        wait_for(lambda: all(watch.spool(p) == "ok" for p in POINTS), 60, "every spool ok again")
        # Every point's publisher lives: each stores what it samples from here on, no restart.
        since = {p: n for p, n in taken_samples(state).items()}
        wait_for(
            lambda: all(
                count_rows(db, "telemetry", f"\"point\" = '{p}'") >= since[p] + 10 for p in POINTS
            ),
            90,
            "every point publishing after the disk and the broker came back",
        )
        assert procs[1].alive()
        taken = finish(db, state, procs[1])
        assert count_rows(db, "telemetry") > full_at
        assert "Traceback" not in procs[1].log()
        for point in POINTS:  # the full disk and its end are events of every point
            events = db.query(
                'SELECT "data_state" FROM "event" WHERE "kind" = \'spool_state\''
                f" AND \"point\" = '{point}' ORDER BY time"
            )
            states = [e["data_state"] for e in events]
            assert states[0] == "disk_full" and states[-1] == "ok", (point, states)
        assert sum(taken.values()) > 100
    finally:
        watch.close()
        for proc in procs:
            proc.stop()


def test_a_full_archive_disk_holds_back_storing_until_there_is_room(
    tmp_path: Path, small_disk: Path, mosquitto: Service, influxd: Service, database: str
) -> None:
    """A message is archived before its rows are stored: while the archive cannot take a batch,
    that batch and everything after it wait (unacknowledged, kept by the agents), then all of it
    is stored once, and the archive holds every stored sample."""
    db = influx(influxd.url, database)
    archive = small_disk / "archive"
    state = tmp_path / "agent-state"
    evidence = {"archive_dir": str(archive)}
    procs = [collector(tmp_path, mosquitto.port, influxd, database, workers=2, evidence=evidence)]
    procs.append(agent(tmp_path, mosquitto.port, state, 0.1))
    try:
        wait_for(lambda: count_rows(db, "telemetry") >= 20, 30, "data flowing")
        filler = fill(small_disk)
        workers = 2  # the default on two cores: each has its own archive, each says so once
        wait_for(
            lambda: procs[0].log().count("cannot append") >= workers, 60, "each worker saying so"
        )
        held_at = count_rows(db, "telemetry")
        sampled = taken_so_far(state)
        wait_for(lambda: taken_so_far(state) >= sampled + 40, 60, "the agent sampling on")
        assert count_rows(db, "telemetry") == held_at  # nothing stored past the archive
        assert spooled(state) >= 40  # the agent keeps what has no receipt
        filler.unlink()
        taken = finish(db, state, procs[1])
        assert sum(taken.values()) > held_at + 40
        archived: dict[str, set[int]] = {p: set() for p in POINTS}
        for home in [archive, *sorted(archive.glob("worker-*"))]:  # one archive per worker
            for day in days(home):
                for record in read_day(home, day):
                    body = json.loads(record.payload)
                    archived[body["point"]].update(s["seq"] for s in body["samples"])
        assert {p: len(seqs) for p, seqs in archived.items()} == taken
        assert "Traceback" not in procs[0].log()
    finally:
        for proc in procs:
            proc.stop()


ACL_BEFORE = """\
# the agents (anonymous here): their topics, and their receipts
topic write pantau/v1/+/telemetry
topic write pantau/v1/+/state
topic write pantau/v1/+/event
topic read pantau/v1/+/receipt
user collector
topic read pantau/v1/+/telemetry
topic read pantau/v1/+/state
topic read pantau/v1/+/event
"""


def test_collector_killed_after_writing_before_its_receipt_went_out(
    tmp_path: Path, influxd: Service, database: str
) -> None:
    """The collector's receipts cannot reach the agent (the broker refuses them), the rows are
    stored, the collector is SIGKILLed: the agent sends again and the repeats are absorbed."""
    work = tmp_path / "broker"
    work.mkdir()
    port = services.free_port()
    acl = work / "acl"
    acl.write_text(ACL_BEFORE)
    listeners = f"listener {port} 127.0.0.1\nallow_anonymous true\nacl_file {acl}\n"
    broker = services.mosquitto(work, port, services.mosquitto_conf(port, work, listeners))
    broker.start()
    db = influx(influxd.url, database)
    state = tmp_path / "agent-state"
    mqtt = {"username": "collector"}
    procs = [collector(tmp_path, port, influxd, database, mqtt=mqtt)]
    procs.append(agent(tmp_path, port, state, 0.05, publish={"receipt_timeout_s": 5}))
    try:
        wait_for(lambda: count_rows(db, "telemetry") >= 150, 30, "rows stored, no receipt out")
        stored = count_rows(db, "telemetry")
        assert spooled(state) >= stored  # nothing forgotten: no receipt came
        procs[0].kill()
        acl.write_text(ACL_BEFORE + "topic write pantau/v1/+/receipt\n")
        assert broker.process is not None
        broker.process.send_signal(signal.SIGHUP)  # mosquitto reloads its ACL
        procs[0] = collector(tmp_path, port, influxd, database, mqtt=mqtt)
        finish(db, state, procs[1])
        procs[0].stop()
        final = json.loads(procs[0].log().rsplit("stopped; stats ", 1)[1].splitlines()[0])
        assert final["lines_identical"] > 0  # the repeats of rows the first collector wrote
        assert final["receipts_sent"] > 0
    finally:
        for proc in procs:
            proc.stop()
        broker.stop()
