"""Nothing is lost: real processes, real kills, exact counts.

Each test runs agents and collectors against real mosquitto and influxd, injects a fault while
data flows, and checks that InfluxDB holds exactly the samples the agents took: every seq of
every point once, none missing, none doubled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pantau.collector.lab.services import Service
from tests.netns import Netns, needs_netns
from tests.pipeline import (
    Proc,
    agent_config,
    assert_exactly_once,
    collector_config,
    count_rows,
    influx,
    registry_file,
    spooled,
    spooled_before,
    start_agent,
    start_collector,
    taken_samples,
    taken_so_far,
    wait_all_stored,
    wait_for,
)

POINTS = [f"citangkil-{i:02d}" for i in range(1, 6)]


def simulated(point: str) -> dict[str, Any]:
    return {
        "id": point,
        "source": {
            "kind": "simulated",
            "fixed_rx_bps": 5e6,
            "fixed_tx_bps": 1e6,
            "fixed_clients": 4,
        },
    }


class Rig:
    """Registry, configs and processes of one fault test."""

    def __init__(self, tmp: Path, broker: Service, influxd: Service, database: str) -> None:
        self.tmp = tmp
        self.broker = broker
        self.influxd = influxd
        self.database = database
        self.registry = registry_file(tmp / "registry.yaml", POINTS)
        self.db = influx(influxd.url, database)
        self.procs: list[Proc] = []

    def collector(self, name: str = "collector", **extra: Any) -> Proc:
        config = collector_config(
            self.tmp / f"{name}.yaml",
            self.broker.port,
            self.influxd.url,
            self.database,
            self.registry,
            state_dir=str(self.tmp / f"{name}-state"),
            **extra,
        )
        proc = start_collector(config, self.tmp / f"{name}.log")
        self.procs.append(proc)
        return proc

    def agent(
        self,
        name: str = "agent",
        points: list[str] = POINTS,
        interval_s: float = 0.05,
        **extra: Any,
    ) -> Proc:
        config = agent_config(
            self.tmp / name / "agent.yaml",
            self.broker.port,
            [simulated(p) for p in points],
            interval_s=interval_s,
            **extra,
        )
        proc = start_agent(config, self.tmp / f"{name}.log")
        self.procs.append(proc)
        return proc

    def state(self, name: str = "agent") -> Path:
        return self.tmp / name / "agent-state"

    def stop_all(self) -> None:
        for proc in self.procs:
            proc.stop()

    def finish(self, agents: list[str], timeout_s: float = 60) -> dict[str, int]:
        """Stop the agents, wait until their spools are empty and InfluxDB has every sample."""
        taken: dict[str, int] = {}
        for name in agents:
            taken |= taken_samples(self.state(name))
        wait_all_stored(self.db, taken, timeout_s)
        return taken


def rows(rig: Rig) -> int:
    return count_rows(rig.db, "telemetry")


def wait_delivered(state: Path, what: str) -> None:
    """Until every sample taken so far has left the spool (acknowledged by the broker)."""
    taken = taken_samples(state)
    wait_for(lambda: spooled_before(state, taken) == 0, 60, f"{what} delivered")


def wait_taken(state: Path, more: int, what: str, since: int | None = None) -> None:
    """Until the agent has taken `more` samples (all points together) since now or `since`."""
    start = taken_so_far(state) if since is None else since
    wait_for(lambda: taken_so_far(state) >= start + more, 60, f"{more} {what}")


def test_broker_stopped_while_agents_sample(
    tmp_path: Path, mosquitto: Service, influxd: Service, database: str
) -> None:
    rig = Rig(tmp_path, mosquitto, influxd, database)
    try:
        rig.collector()
        agent = rig.agent()
        wait_for(lambda: rows(rig) >= 50, 30, "data flowing")
        mosquitto.stop()
        # agents keep sampling into their spools
        wait_for(lambda: spooled(rig.state()) >= 5 * 30, 60, "a backlog in the spool")
        mosquitto.start()
        wait_delivered(rig.state(), "the backlog of the outage")
        agent.stop()
        assert spooled(rig.state()) == 0, "the spool drained after the broker came back"
        taken = rig.finish(["agent"])
        assert_exactly_once(rig.db, taken)
    finally:
        rig.stop_all()


def test_influxdb_stopped_while_samples_arrive(
    tmp_path: Path, mosquitto: Service, influxd: Service, database: str
) -> None:
    from pantau.collector.lab import services

    own_influx = services.influxd(tmp_path / "own-influxd").start()  # this test stops its database
    rig = Rig(tmp_path, mosquitto, own_influx, database)
    collector = None
    try:
        collector = rig.collector()
        # 500 samples a second: the 1500 taken while the database is away take 3 s, and the
        # collector's retries (1 s, doubling) meet the database soon after it is back
        agent = rig.agent(interval_s=0.01)
        wait_for(lambda: rows(rig) >= 100, 30, "data flowing")
        own_influx.stop()
        wait_taken(rig.state(), 1500, "samples taken while the database is away")
        wait_delivered(rig.state(), "the samples taken while the database was away")
        agent.stop()
        assert spooled(rig.state()) == 0, (
            "the collector acknowledged everything from its disk buffer"
        )
        own_influx.start()
        taken = rig.finish(["agent"])
        assert sum(taken.values()) > 1000
        assert_exactly_once(rig.db, taken)
        wait_for(lambda: "replaying" in collector.log(), 10, "the replay log line")
    finally:
        rig.stop_all()
        own_influx.stop()


def test_collector_killed_mid_batch(
    tmp_path: Path, mosquitto: Service, influxd: Service, database: str
) -> None:
    rig = Rig(tmp_path, mosquitto, influxd, database)
    try:
        first = rig.collector(batch={"max_lines": 200, "max_delay_s": 2.0})
        rig.agent(interval_s=0.02)
        for _ in range(3):
            wait_for(lambda: rows(rig) >= 100, 30, "data flowing")
            first.kill()  # SIGKILL: whatever it held unacknowledged, the broker still has
            wait_taken(rig.state(), 200, "samples taken while no collector runs")
            first = rig.collector(batch={"max_lines": 200, "max_delay_s": 2.0})
        written = rows(rig)
        wait_for(lambda: rows(rig) >= written + 200, 30, "the last collector writing")
        rig.procs[1].stop()  # the agent
        assert spooled(rig.state()) == 0
        taken = rig.finish(["agent"])
        assert_exactly_once(rig.db, taken)
    finally:
        rig.stop_all()


def test_agent_killed_during_writes(
    tmp_path: Path, mosquitto: Service, influxd: Service, database: str
) -> None:
    rig = Rig(tmp_path, mosquitto, influxd, database)
    try:
        rig.collector()
        for round_ in range(4):
            before = taken_so_far(rig.state())
            agent = rig.agent(interval_s=0.01)
            wait_taken(rig.state(), 300 + 70 * round_, "samples", since=before)  # differs a bit
            agent.kill()  # SIGKILL at an arbitrary moment, mid-commit or mid-publish
        agent = rig.agent(interval_s=0.01)
        wait_delivered(rig.state(), "the killed agents' backlog")
        agent.stop()
        assert spooled(rig.state()) == 0
        taken = rig.finish(["agent"])
        assert sum(taken.values()) > 500
        assert_exactly_once(rig.db, taken)
    finally:
        rig.stop_all()


def test_two_collectors_sharing_one_killed(
    tmp_path: Path, mosquitto: Service, influxd: Service, database: str
) -> None:
    rig = Rig(tmp_path, mosquitto, influxd, database)
    try:
        shared = {"share_group": "pantau"}
        one = rig.collector("collector-a", mqtt={"client_id": "collector-a", **shared})
        rig.collector("collector-b", mqtt={"client_id": "collector-b", **shared})
        rig.agent(interval_s=0.02)
        wait_for(lambda: rows(rig) >= 300, 30, "data flowing")
        one.kill()
        before = rows(rig)  # collector-b carries the load alone: it keeps writing
        wait_for(lambda: rows(rig) >= before + 500, 30, "the surviving collector writing")
        # What collector-a held unacknowledged waits in its session until it is back.
        rig.collector("collector-a", mqtt={"client_id": "collector-a", **shared})
        before = rows(rig)
        wait_for(lambda: rows(rig) >= before + 500, 30, "both collectors writing")
        rig.procs[2].stop()  # the agent
        assert spooled(rig.state()) == 0
        taken = rig.finish(["agent"])
        assert_exactly_once(rig.db, taken)
        logs = [p.log() for p in rig.procs[:2]]
        assert all('"accepted": 0' not in log for log in logs)
    finally:
        rig.stop_all()


BACKLOG = 8_640  # 24 hours of 10-second samples


@needs_netns
def test_agent_cut_off_for_a_day_of_samples(
    tmp_path: Path, influxd: Service, database: str
) -> None:
    from pantau.collector.lab import services

    ns = Netns.create(subnet=41)
    work = tmp_path / "broker"
    work.mkdir()
    local, remote = services.free_port(), services.free_port()
    listeners = (
        f"listener {local} 127.0.0.1\nlistener {remote} {ns.host_ip}\nallow_anonymous true\n"
    )
    broker = services.mosquitto(
        work, local, services.mosquitto_conf(local, work, listeners)
    ).start()
    rig = Rig(tmp_path, broker, influxd, database)
    try:
        collector = rig.collector()
        config = agent_config(
            tmp_path / "agent" / "agent.yaml",
            remote,
            [simulated("citangkil-01")],
            # as fast as one point's agent samples (about 400 a second on a loaded machine, 250 at
            # the 4 ms asked before): the day's backlog is its count, not the time it took
            interval_s=0.002,
            mqtt={
                "host": ns.host_ip,
                "port": remote,
                "keepalive_s": 5,
                "reconnect_min_s": 0.5,
                "reconnect_max_s": 2,
            },
        )
        agent = start_agent(config, tmp_path / "agent.log", prefix=ns.prefix())
        rig.procs.append(agent)
        wait_for(lambda: rows(rig) >= 200, 30, "data flowing through the namespace")
        ns.cut()
        wait_for(
            lambda: spooled(rig.state()) >= BACKLOG,
            120,
            f"{BACKLOG} samples spooled while cut off",
            step_s=1,
        )
        stored_while_cut = rows(rig)
        ns.restore()
        backlog = taken_samples(rig.state())  # everything taken while cut off, and before
        wait_for(
            lambda: spooled_before(rig.state(), backlog) == 0,
            120,
            "the backlog stored and receipted",
            step_s=0.5,
        )
        agent.stop()
        taken = rig.finish(["agent"], timeout_s=120)
        assert taken["citangkil-01"] >= stored_while_cut + BACKLOG
        assert_exactly_once(rig.db, taken)
        collector.stop()
        final = collector.log().splitlines()[-1]
        assert '"seq_gaps": 0' in final, final  # the backlog arrived in order
    finally:
        rig.stop_all()
        broker.stop()
        ns.remove()
