"""A key retired by a renewal still vouches for its backlog: a message received after the
renewal whose every time is from before it, within the spool horizon. Anything of that key about
a later time, anything after the horizon, and anything of a revoked key is refused. The
collector (Verifier) and `pantau evidence verify` (ChainChecker) give the same verdict on the
same message, because one rule (KeyRing.for_message) decides for both."""

from __future__ import annotations

from pathlib import Path

from pantau.collector.archive import keys as keyring
from pantau.collector.archive import signing
from pantau.collector.archive.chains import check_chains
from pantau.collector.archive.scan import Entry
from pantau.collector.archive.segments import Record
from pantau.collector.signatures import Refusal, Verifier
from pantau.shared import topics
from pantau.shared.wire import Event, Sample, Telemetry, encode
from tests.evidence_fixtures import Agent, iso, keys_json, write_keys

POINT = "cit-01"
RETIRED_MS = 1_790_000_000_000
HOUR_MS = 3_600_000
HORIZON_MS = 24 * HOUR_MS


def telemetry(*times: int) -> bytes:
    samples = [
        Sample(ts_ms=t, seq=n, boot="b1", interval_s=10, device_up=True)
        for n, t in enumerate(times)
    ]
    return encode(Telemetry(point=POINT, samples=samples))


def event(ts_ms: int) -> bytes:
    return encode(Event(point=POINT, ts_ms=ts_ms, kind="reboot"))


def keys_file(tmp_path: Path, agent: Agent, status: str) -> Path:
    data = keys_json({POINT: agent}, signing.generate())
    entry = data["keys"][agent.key_id]  # type: ignore[index]
    entry["status"] = status
    entry[f"{status}_at"] = iso(RETIRED_MS)
    return write_keys(tmp_path / f"{status}.json", data)


def verdicts(path: Path, agent: Agent, cases: list[tuple[str, bytes, int]]) -> list[str]:
    """Each (kind, payload, received_ms) signed by `agent` in turn, judged by the collector's
    Verifier and by the offline chain check: the two verdicts must be the same."""
    live = Verifier(path, frozenset(), chain_check=False, horizon_ms=HORIZON_MS)
    entries = []
    found = []
    for index, (kind, payload, received_ms) in enumerate(cases):
        props = agent.sign(payload)
        seal = live.check(POINT, payload, props, received_ms, kind)
        found.append(seal.reason if isinstance(seal, Refusal) else "ok")
        topic = f"{topics.PREFIX}/{POINT}/{kind}"
        record = Record(received_ms, topic, payload, props)
        entries.append(Entry("2026-09-21", index, 0, record.encode(), record))
    report = check_chains(entries, keyring.load_keys(path), horizon_ms=HORIZON_MS)
    offline = ["ok"] * len(cases)
    for finding in report.findings:
        offline[finding.index] = finding.kind
    assert offline == found
    return found


def test_a_retired_key_vouches_for_its_backlog_only(tmp_path: Path) -> None:
    agent = Agent(POINT)
    path = keys_file(tmp_path, agent, "retired")
    before, after = RETIRED_MS - 60_000, RETIRED_MS + 1
    late = RETIRED_MS + HOUR_MS
    assert verdicts(
        path,
        agent,
        [
            ("telemetry", telemetry(before), RETIRED_MS - 1),  # received while active
            ("telemetry", telemetry(before - 10_000, before), late),  # the backlog
            ("event", event(before), late),
            ("telemetry", telemetry(before, after), late),  # one sample after the renewal
            ("telemetry", telemetry(RETIRED_MS), late),
            ("event", event(after), late),
            ("telemetry", telemetry(before), RETIRED_MS + HORIZON_MS - 1),
            ("telemetry", telemetry(before), RETIRED_MS + HORIZON_MS),  # past the horizon
            ("telemetry", b'{"v":2,"point":"cit-01","samples":[]}', late),  # no time in it
            ("telemetry", b"not json", late),
        ],
    ) == [
        "ok",
        "ok",
        "ok",
        "retired_key",
        "retired_key",
        "retired_key",
        "ok",
        "retired_key",
        "retired_key",
        "retired_key",
    ]


def test_a_revoked_key_vouches_for_nothing_received_after_it(tmp_path: Path) -> None:
    agent = Agent(POINT)
    path = keys_file(tmp_path, agent, "revoked")
    before = RETIRED_MS - 60_000
    assert verdicts(
        path,
        agent,
        [
            ("telemetry", telemetry(before), RETIRED_MS - 1),
            ("telemetry", telemetry(before), RETIRED_MS + HOUR_MS),
        ],
    ) == ["ok", "revoked_key"]


def test_the_horizon_defaults_to_the_collectors_spool_horizon() -> None:
    from pantau.collector.config import LimitsConfig

    assert LimitsConfig().max_age_s * 1000 == keyring.DEFAULT_HORIZON_MS
    assert Verifier(None, frozenset(), chain_check=False).horizon_ms == keyring.DEFAULT_HORIZON_MS
