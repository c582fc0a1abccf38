"""One network thread for every MQTT session: sockets numbered past 1,024 work like any other
(paho's select() loop reported them as a lost connection), against a real mosquitto."""

from __future__ import annotations

import os
import resource
from pathlib import Path

from pantau.agent.config import MqttConfig, PublishConfig
from pantau.agent.netloop import NetLoop
from pantau.agent.publisher import PointPublisher
from pantau.agent.spool import Spool
from pantau.collector.lab.services import Service
from tests.pipeline import wait_for

POINT = "tinggi-01"


def test_a_session_above_descriptor_1024_publishes(tmp_path: Path, mosquitto: Service) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    filler = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    loop = NetLoop(connect_threads=1)
    spool = Spool(tmp_path / "spool.sqlite", max_samples_per_point=1000, sync="normal")
    publisher = PointPublisher(
        POINT,
        "boot-1",
        "simulated",
        spool,
        MqttConfig(port=mosquitto.port, reconnect_min_s=0.2, reconnect_max_s=1),
        PublishConfig(receipts=False),
        loop,
    )
    try:
        assert max(filler) > 1024
        loop.start()
        publisher.start()
        wait_for(lambda: publisher.connected, 20, "connected")
        assert publisher._client.socket().fileno() > 1024  # type: ignore[union-attr]
        for n in range(5):
            spool.append_sample(POINT, lambda seq, n=n: f'{{"seq":{seq},"n":{n}}}')
            publisher.notify()
        wait_for(lambda: spool.count(POINT) == 0, 20, "every row acknowledged")
        assert publisher.connected and loop.alive
    finally:
        loop.stop()
        spool.close()
        for fd in filler:
            os.close(fd)
    assert publisher.finished
    broker_log = (mosquitto.workdir / "mosquitto.log").read_text()
    assert broker_log.count(f"as pantau-agent-{POINT} ") == 1  # one session, never dropped


def test_a_publisher_without_a_loop_runs_its_own(tmp_path: Path, mosquitto: Service) -> None:
    """As the demo's replay uses it: start, drain, stop (offline said, disconnected)."""
    spool = Spool(tmp_path / "spool.sqlite", max_samples_per_point=1000, sync="normal")
    publisher = PointPublisher(
        POINT,
        "boot-2",
        "simulated",
        spool,
        MqttConfig(port=mosquitto.port, reconnect_min_s=0.2, reconnect_max_s=1),
        PublishConfig(receipts=False),
    )
    try:
        spool.append_sample(POINT, lambda seq: f'{{"seq":{seq}}}')
        publisher.start()
        publisher.notify()
        wait_for(lambda: spool.count(POINT) == 0, 20, "the row acknowledged")
        publisher.stop()
        assert publisher.finished and not publisher.alive
    finally:
        spool.close()
    wait_for(
        lambda: (
            f"Client pantau-agent-{POINT} disconnected."
            in (mosquitto.workdir / "mosquitto.log").read_text()
        ),
        10,
        "a clean disconnect",
    )
