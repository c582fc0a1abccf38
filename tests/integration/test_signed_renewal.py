"""A point's key renewed (`pantau pki issue P --renew`) while messages its old key signed still
wait for their receipts (queued at the broker while the collector was away, and in the agent's
spool): they arrive after the renewal, are taken in as the evidence they are, and every sample
is stored exactly once; `pantau evidence verify` agrees. A message of the retired key about a
time after the renewal is still refused."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pantau.collector.archive import signing
from pantau.collector.lab.services import Service
from pantau.collector.sla.periods import from_ms
from pantau.shared.wire import Sample, Telemetry, encode
from tests.integration.test_evidence_workers import evidence
from tests.integration.test_signed_pipeline import archived, publish, sealed
from tests.pipeline import (
    agent_config,
    count_rows,
    finish_with_receipts,
    influx,
    signed_collector_config,
    spooled,
    start_agent,
    start_collector,
    stored_seqs,
    taken_so_far,
    wait_for,
)

POINT = "kubangsari-01"
COLLECTOR = "pantau-collector"


def test_a_renewal_keeps_the_old_keys_backlog_and_refuses_its_later_messages(
    tmp_path: Path,
    mosquitto: Service,
    influxd: Service,
    database: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pki, config = signed_collector_config(
        tmp_path, mosquitto.port, influxd.url, database, [POINT], COLLECTOR
    )
    archive = tmp_path / "archive"
    agent_yaml = agent_config(
        tmp_path / "agent" / "agent.yaml",
        mosquitto.port,
        [{"id": POINT, "source": {"kind": "simulated", "fixed_rx_bps": 3e6}}],
        interval_s=0.1,
        publish={"signing_key_file": str(pki.bundle_dir("{point}") / "signing.key")},
    )
    state = agent_yaml.parent / "agent-state"
    old_key = signing.load_private_key(pki.bundle_dir(POINT) / "signing.key")
    old_id = signing.key_id(old_key.public_key())
    db = influx(influxd.url, database)
    collector = start_collector(config, tmp_path / "collector.log")
    agent = start_agent(agent_yaml, tmp_path / "agent.log")
    try:
        wait_for(lambda: count_rows(db, "telemetry") >= 10, 30, "signed data flowing")
        collector.stop()  # no more receipts; the broker keeps the collector's session
        at = taken_so_far(state)
        wait_for(lambda: taken_so_far(state) >= at + 30, 30, "30 samples without receipts")
        agent.stop()
        waiting = spooled(state)
        assert waiting >= 30
        pki.issue(POINT, "agent", "password", renew=True)
        keys = pki.signing_keys()
        assert keys[old_id].status == "retired"
        renewed_ms = int(time.time() * 1000)
        collector = start_collector(config, tmp_path / "collector.log")
        agent = start_agent(agent_yaml, tmp_path / "agent.log")  # with the new key
        taken = finish_with_receipts(db, state, agent, more=30)  # every sample once
        assert keys[old_id].retired_at is not None

        # the retired key signing something about a time after the renewal: refused
        sample = Sample(ts_ms=renewed_ms + 1, seq=10**6, boot="x", interval_s=10, device_up=True)
        payload = encode(Telemetry(point=POINT, samples=[sample]))
        assert publish(mosquitto.port, POINT, payload, sealed(old_key, payload)) == "refused"
        assert collector.stop() == 0
    finally:
        agent.stop()
        collector.stop()
    assert sorted(stored_seqs(db, POINT)) == list(range(taken[POINT]))
    stats = collector.log().rsplit("stopped; stats ", 1)[1]
    assert '"rejected": {"retired_key": 1}' in stats
    by_key = {r.properties["k"] for r in archived(archive)}
    assert len(by_key) == 2 and old_id in by_key  # the backlog under the old key, then the new

    base = ["--config", str(config)]
    last_day = max(p.stem for p in archive.glob("**/*.seg"))
    code, out = evidence(capsys, "checkpoint", *base, "--through", last_day, "--early")
    assert code == 0, out
    month = from_ms(renewed_ms).strftime("%Y-%m")
    code, out = evidence(capsys, "verify", *base, "--month", month)
    assert code == 0, out
    assert out[0].startswith("signatures and chains: ") and ": all valid" in out[0], out
