"""A point's key renewed (`pantau pki issue P --renew`) while messages its old key signed still
wait for their receipts (queued at the broker while the collector was away, and in the agent's
spool): they arrive after the renewal, are taken in as the evidence they are, and every sample
is stored exactly once; `pantau evidence verify` agrees. Until the new bundle reaches the SBC
its agent keeps signing with the old key: through the renewal's handover every such sample is
stored, none lost; after the handover's end they are refused (`retired_key`, with what to do);
and a revocation ends every key of the point, the retired one's backlog included."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from pantau.collector.archive import signing
from pantau.collector.archive.keys import load_keys
from pantau.collector.lab.services import Service
from pantau.collector.sla.periods import from_ms
from pantau.shared import topics
from pantau.shared.wire import Sample, Telemetry, decode, encode
from tests.evidence_fixtures import iso
from tests.integration.test_evidence_workers import evidence
from tests.integration.test_signed_pipeline import archived, publish, sealed
from tests.pipeline import (
    Proc,
    agent_config,
    count_rows,
    finish_with_receipts,
    influx,
    signed_collector_config,
    spooled,
    spooled_before,
    start_agent,
    start_collector,
    stored_seqs,
    taken_samples,
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
        handover_end_ms = load_keys(pki.signing_keys_path).keys[old_id].handover_end_ms
        assert handover_end_ms > renewed_ms

        # the retired key signing something about a time after its handover: refused
        sample = Sample(
            ts_ms=handover_end_ms + 1, seq=10**6, boot="x", interval_s=10, device_up=True
        )
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


def stats_of(collector: Proc) -> dict[str, object]:
    """The counters a collector printed as it stopped (all its workers together)."""
    text = collector.log().rsplit("stopped; stats ", 1)[1]
    found: dict[str, object] = json.JSONDecoder().raw_decode(text)[0]
    return found


def dated_samples(records: list[Any], key_id: str, from_ms: int) -> int:
    """Samples dated from `from_ms` on in the archived telemetry signed by `key_id`."""
    count = 0
    for record in records:
        point, kind = topics.parse_topic(record.topic) or ("", "")
        if record.properties.get("k") != key_id or kind != topics.TELEMETRY:
            continue
        message = decode(kind, record.payload, point, max_bytes=len(record.payload))
        assert isinstance(message, Telemetry)
        count += sum(1 for s in message.samples if s.ts_ms >= from_ms)
    return count


def refused_rows(agent: Proc) -> list[int]:
    """The rows of each message the agent was told a collector refused, from its log."""
    found = re.findall(r"a collector refused message \S+ \((\d+) row\(s\)\)", agent.log())
    return [int(n) for n in found]


def test_the_old_bundle_keeps_working_through_the_handover_and_not_after(
    tmp_path: Path,
    mosquitto: Service,
    influxd: Service,
    database: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The SBC keeps its copy of the old bundle after `--renew` (the technician comes later):
    every sample it signs during the handover is stored, exactly once; once the handover is
    over (a key ring whose handover ended before the agent's next samples, as 14 days later)
    each is refused as retired_key, and the agent is told; `pki revoke` then cuts even the old
    key's backlog; `evidence verify` finds the archive the collector kept all valid."""
    pki, config = signed_collector_config(
        tmp_path, mosquitto.port, influxd.url, database, [POINT], COLLECTOR
    )
    archive = tmp_path / "archive"
    sbc = tmp_path / "sbc"  # the bundle as the technician copied it to the SBC
    sbc.mkdir()
    shutil.copy2(pki.bundle_dir(POINT) / "signing.key", sbc / "signing.key")
    agent_yaml = agent_config(
        tmp_path / "agent" / "agent.yaml",
        mosquitto.port,
        [{"id": POINT, "source": {"kind": "simulated", "fixed_rx_bps": 3e6}}],
        interval_s=0.1,
        publish={"signing_key_file": str(sbc / "signing.key")},
    )
    state = agent_yaml.parent / "agent-state"
    old_key = signing.load_private_key(sbc / "signing.key")
    old_id = signing.key_id(old_key.public_key())
    db = influx(influxd.url, database)
    collector = start_collector(config, tmp_path / "collector-1.log")
    agent = start_agent(agent_yaml, tmp_path / "agent-1.log")
    try:
        wait_for(lambda: count_rows(db, "telemetry") >= 10, 30, "signed data flowing")
        # the renewal, read by every worker of the collector as it starts again
        collector.stop()
        issued = pki.issue(POINT, "agent", "password", renew=True)
        assert issued.retired_key == old_id and issued.handover_until is not None
        ring = load_keys(pki.signing_keys_path)
        retired_ms = ring.keys[old_id].retired_ms or 0
        assert ring.keys[old_id].handover_end_ms == retired_ms + 14 * 86_400_000
        after_renewal = taken_so_far(state)
        collector = start_collector(config, tmp_path / "collector-2.log")
        wait_for(lambda: taken_so_far(state) >= after_renewal + 30, 30, "30 samples signed after")
        taken = finish_with_receipts(db, state, agent, more=30)  # every sample once: 0 lost
        records = archived(archive)
        assert {r.properties["k"] for r in records} == {old_id}  # the old bundle only
        signed_after = dated_samples(records, old_id, retired_ms)
        assert signed_after >= 60
        assert collector.stop() == 0
        assert stats_of(collector)["rejected"] == {}

        # the handover is over (the key ring says it ended now): what the old key signs next
        # is refused and its agent told, every sample of it
        keys_file = json.loads(pki.signing_keys_path.read_text())
        ended_ms = int(time.time() * 1000)
        keys_file["keys"][old_id]["handover_until"] = iso(ended_ms)
        pki.signing_keys_path.write_text(json.dumps(keys_file))
        collector = start_collector(config, tmp_path / "collector-3.log")
        agent = start_agent(agent_yaml, tmp_path / "agent-2.log")
        at = taken_so_far(state)
        wait_for(lambda: taken_so_far(state) >= at + 20, 30, "20 samples after the handover")
        sent = taken_samples(state)
        wait_for(lambda: spooled_before(state, sent) == 0, 60, "refused receipts")
        agent.stop()
        assert collector.stop() == 0
    finally:
        agent.stop()
        collector.stop()
    later = taken_samples(state)[POINT] - taken[POINT]
    assert later >= 20
    refused = refused_rows(agent)
    assert sum(refused) + spooled(state) == later  # each sample refused, or still spooled
    assert sum(refused) >= 20
    assert sorted(stored_seqs(db, POINT)) == list(range(taken[POINT]))  # none of them stored
    assert stats_of(collector)["rejected"] == {"retired_key": len(refused)}
    assert f"retired_key: key {old_id} of {POINT} was retired by a renewal at " in collector.log()
    assert f"deploy {POINT}'s new bundle (signing.key of `pantau pki issue {POINT} --renew`)" in (
        collector.log()
    )

    # a revocation: every key of the point, the retired one's backlog included, from then on
    assert pki.revoke(POINT) is True
    collector = start_collector(config, tmp_path / "collector-4.log")
    try:
        backlog = Sample(
            ts_ms=retired_ms - 1_000, seq=10**6, boot="x", interval_s=10, device_up=True
        )
        payload = encode(Telemetry(point=POINT, samples=[backlog]))
        assert publish(mosquitto.port, POINT, payload, sealed(old_key, payload)) == "refused"
        assert collector.stop() == 0
    finally:
        collector.stop()
    assert stats_of(collector)["rejected"] == {"revoked_key": 1}
    assert f"revoked_key: key {old_id} of {POINT} was revoked at " in collector.log()
    assert sorted(stored_seqs(db, POINT)) == list(range(taken[POINT]))

    # the archive the collector kept: every message valid, by the key file as it is now
    assert len(archived(archive)) == len(records)
    base = ["--config", str(config)]
    last_day = max(p.stem for p in archive.glob("**/*.seg"))
    code, out = evidence(capsys, "checkpoint", *base, "--through", last_day, "--early")
    assert code == 0, out
    code, out = evidence(capsys, "verify", *base, "--month", from_ms(retired_ms).strftime("%Y-%m"))
    assert code == 0, out
    assert out[0].startswith("signatures and chains: ") and ": all valid" in out[0], out
