"""The `api: v2` write path (/api/v2/write through influxdb-client), against a real server that
implements it: VictoriaMetrics, read back through its export API."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from pantau.collector.lab import services
from tests.pipeline import (
    agent_config,
    collector_config,
    registry_file,
    start_agent,
    start_collector,
    taken_samples,
    wait_for,
)


@pytest.fixture
def victoria(tmp_path: Path) -> Iterator[services.Service]:
    service = services.victoria_metrics(tmp_path / "vm").start()
    yield service
    service.stop()


def exported(vm: services.Service, metric: str) -> dict[int, float]:
    """timestamp (ms) -> value of one metric of point citangkil-07."""
    urllib.request.urlopen(f"{vm.url}/internal/force_flush", timeout=5).read()
    query = urllib.request.quote(f'{{__name__="{metric}",point="citangkil-07"}}')
    with urllib.request.urlopen(f"{vm.url}/api/v1/export?match[]={query}", timeout=5) as response:
        series = [json.loads(line) for line in response.read().decode().splitlines() if line]
    values: dict[int, float] = {}
    for item in series:
        assert item["metric"]["kelurahan"] == "Citangkil" and item["metric"]["provider"] == "Awinet"
        values.update(zip(item["timestamps"], item["values"], strict=True))
    return values


def test_v2_write_path_lands_every_sample(
    tmp_path: Path, mosquitto: services.Service, victoria: services.Service
) -> None:
    registry = registry_file(tmp_path / "registry.yaml", ["citangkil-07"])
    config = collector_config(
        tmp_path / "collector.yaml",
        mosquitto.port,
        victoria.url,
        "pantau",
        registry,
        influx={
            "api": "v2",
            "url": victoria.url,
            "org": "cilegon",
            "bucket": "pantau",
            "database": "pantau",
        },
        append_only=False,  # VictoriaMetrics writes, but cannot answer InfluxQL reads
    )
    collector = start_collector(
        config, tmp_path / "collector.log", env={"PANTAU_INFLUX__TOKEN": "t0ken-not-logged"}
    )
    point = {
        "id": "citangkil-07",
        "source": {
            "kind": "simulated",
            "fixed_rx_bps": 4e6,
            "fixed_tx_bps": 5e5,
            "fixed_clients": 3,
        },
    }
    agent = start_agent(
        agent_config(tmp_path / "agent.yaml", mosquitto.port, [point], interval_s=0.5),
        tmp_path / "agent.log",
    )
    try:
        wait_for(
            lambda: len(exported(victoria, "telemetry_seq")) >= 6,
            30,
            "6 samples in VictoriaMetrics",
        )
        agent.stop()
        (taken,) = taken_samples(tmp_path / "agent-state").values()
        seqs = wait_for(
            lambda: (s := exported(victoria, "telemetry_seq")) and len(s) == taken and s,
            15,
            f"{taken} samples",
        )
        rx = exported(victoria, "telemetry_rx_bps")
        clients = exported(victoria, "telemetry_clients_dhcp")
    finally:
        agent.stop()
        collector.stop()
    assert sorted(seqs.values()) == [float(i) for i in range(taken)]
    assert set(clients.values()) == {3.0}
    assert len(rx) == taken - 1 and all(v == pytest.approx(4e6, rel=1e-5) for v in rx.values())
    assert "t0ken-not-logged" not in collector.log()
