"""A key retired by a renewal still vouches through its handover: a message received after the
renewal whose every time is before the handover's end (`handover_until`, the renewal plus
`--handover-days`), received within the spool horizon after that end; a key file without a
handover (written before there were any) ends it at the renewal: the backlog only. Anything of
that key about a later time, anything after the horizon, and anything of a revoked key received
from its revocation on (a revocation revokes the point's retired keys too) is refused. The
collector (Verifier) and `pantau evidence verify` (ChainChecker) give the same verdict on the
same message, because one rule (KeyRing.for_message) decides for both, from the key file and
the message alone."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from pantau.collector.admin.pki import HANDOVER_DAYS, Pki, PkiError
from pantau.collector.archive import keys as keyring
from pantau.collector.archive import signing
from pantau.collector.archive.chains import check_chains
from pantau.collector.archive.scan import Entry
from pantau.collector.archive.segments import Record
from pantau.collector.signatures import Refusal, Verifier
from pantau.shared import topics
from pantau.shared.cli import main
from pantau.shared.wire import Event, Sample, Telemetry, encode
from tests.evidence_fixtures import Agent, iso, keys_json, write_keys

POINT = "cit-01"
RETIRED_MS = 1_790_000_000_000
HOUR_MS = 3_600_000
HORIZON_MS = 24 * HOUR_MS
DAY_MS = 24 * HOUR_MS
HANDOVER_END_MS = RETIRED_MS + 14 * DAY_MS


def telemetry(*times: int) -> bytes:
    samples = [
        Sample(ts_ms=t, seq=n, boot="b1", interval_s=10, device_up=True)
        for n, t in enumerate(times)
    ]
    return encode(Telemetry(point=POINT, samples=samples))


def event(ts_ms: int) -> bytes:
    return encode(Event(point=POINT, ts_ms=ts_ms, kind="reboot"))


def keys_file(tmp_path: Path, agent: Agent, status: str, **times: int | None) -> Path:
    """A key file with `agent`'s key in `status` since RETIRED_MS; `times`: more of its
    entry's times (retired_at, revoked_at, handover_until) in ms."""
    data = keys_json({POINT: agent}, signing.generate())
    entry = data["keys"][agent.key_id]  # type: ignore[index]
    entry["status"] = status
    entry[f"{status}_at"] = iso(RETIRED_MS)
    for name, ms in times.items():
        entry[name] = None if ms is None else iso(ms)
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


def test_a_renewed_key_vouches_through_its_handover(tmp_path: Path) -> None:
    """The agent keeps signing with the old key until its new bundle is deployed: what it
    dates before the handover's end counts, arriving as late as any backlog; nothing after."""
    agent = Agent(POINT)
    path = keys_file(tmp_path, agent, "retired", handover_until=HANDOVER_END_MS)
    before, end = RETIRED_MS - 60_000, HANDOVER_END_MS
    assert verdicts(
        path,
        agent,
        [
            ("telemetry", telemetry(before), RETIRED_MS - 1),  # received while active
            ("telemetry", telemetry(RETIRED_MS + 1_000), RETIRED_MS + 2_000),  # new, old key
            ("event", event(RETIRED_MS + DAY_MS), RETIRED_MS + DAY_MS),
            ("telemetry", telemetry(end - 2_000, end - 1), end - 1),  # the handover's last ms
            ("telemetry", telemetry(before), RETIRED_MS + HORIZON_MS + 1),  # backlog, later on
            ("telemetry", telemetry(end - 1), end + HORIZON_MS - 1),  # handover's backlog
            ("telemetry", telemetry(end - 1), end + HORIZON_MS),  # past the horizon after it
            ("telemetry", telemetry(end), end),  # dated at the end
            ("telemetry", telemetry(end - 1_000, end + 1_000), end + 2_000),  # one sample after
            ("event", event(end + DAY_MS), end + DAY_MS),
            ("telemetry", b'{"v":2,"point":"cit-01","samples":[]}', RETIRED_MS + HOUR_MS),
        ],
    ) == [
        "ok",
        "ok",
        "ok",
        "ok",
        "ok",
        "ok",
        "retired_key",
        "retired_key",
        "retired_key",
        "retired_key",
        "retired_key",
    ]


def test_a_handover_never_ends_before_the_renewal(tmp_path: Path) -> None:
    """A hand-edited key file with its handover before its renewal: the backlog rule."""
    agent = Agent(POINT)
    path = keys_file(tmp_path, agent, "retired", handover_until=RETIRED_MS - DAY_MS)
    assert verdicts(
        path,
        agent,
        [
            ("telemetry", telemetry(RETIRED_MS - 1), RETIRED_MS + HOUR_MS),
            ("telemetry", telemetry(RETIRED_MS), RETIRED_MS + HOUR_MS),
        ],
    ) == ["ok", "retired_key"]


def test_a_revocation_cuts_a_retired_keys_handover_and_backlog(tmp_path: Path) -> None:
    agent = Agent(POINT)
    revoked_ms = RETIRED_MS + DAY_MS
    path = keys_file(
        tmp_path,
        agent,
        "revoked",
        retired_at=RETIRED_MS,
        handover_until=HANDOVER_END_MS,
        revoked_at=revoked_ms,
    )
    before = RETIRED_MS - 60_000
    assert verdicts(
        path,
        agent,
        [
            ("telemetry", telemetry(before), RETIRED_MS - 1),  # while active
            ("telemetry", telemetry(before), revoked_ms - 1),  # backlog before the revocation
            ("telemetry", telemetry(RETIRED_MS + 1), revoked_ms - 1),  # handover, before it
            ("telemetry", telemetry(before), revoked_ms),  # backlog after: refused
            ("telemetry", telemetry(RETIRED_MS + 1), revoked_ms + 1),
            ("event", event(before), revoked_ms + HOUR_MS),
        ],
    ) == ["ok", "ok", "ok", "revoked_key", "revoked_key", "revoked_key"]


def test_the_refusal_tells_the_operator_what_to_do(tmp_path: Path) -> None:
    agent = Agent(POINT)
    path = keys_file(tmp_path, agent, "retired", handover_until=HANDOVER_END_MS)
    live = Verifier(path, frozenset(), chain_check=False, horizon_ms=HORIZON_MS)
    payload = telemetry(HANDOVER_END_MS + 1)
    refused = live.check(POINT, payload, agent.sign(payload), HANDOVER_END_MS + 2)
    assert refused == Refusal(
        "retired_key",
        f"key {agent.key_id} of cit-01 was retired by a renewal at {iso_s(RETIRED_MS)}; it "
        f"vouches only for messages dated before its handover ended at {iso_s(HANDOVER_END_MS)}"
        f" and received by {iso_s(HANDOVER_END_MS + HORIZON_MS)}: deploy cit-01's new bundle"
        " (signing.key of `pantau pki issue cit-01 --renew`) on its agent",
    )
    revoked = keys_file(tmp_path, agent, "revoked")
    live = Verifier(revoked, frozenset(), chain_check=False)
    refused = live.check(POINT, payload, agent.sign(payload), RETIRED_MS)
    assert refused == Refusal(
        "revoked_key",
        f"key {agent.key_id} of cit-01 was revoked at {iso_s(RETIRED_MS)}: it vouches for"
        " nothing received since",
    )


def iso_s(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="seconds")


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    made = Pki(tmp_path / "pki")
    made.init(["localhost"])
    return made


def public_entries(pki: Pki) -> dict[str, dict[str, object]]:
    return json.loads(pki.signing_keys_path.read_text())["keys"]  # type: ignore[no-any-return]


def test_a_renewal_records_its_handover_in_the_key_file(pki: Pki) -> None:
    first = pki.issue(POINT)
    assert first.retired_key is None and first.handover_until is None
    old_id = signing.key_id(signing.load_public_key(first.signing_pub_file))
    assert "handover_until" not in public_entries(pki)[old_id]  # never renewed: as before
    renewed = pki.issue(POINT, renew=True)
    old = pki.signing_keys()[old_id]
    assert renewed.retired_key == old_id and old.status == "retired" and old.retired_at
    retired = dt.datetime.fromisoformat(old.retired_at)
    assert old.handover_until == renewed.handover_until
    assert dt.datetime.fromisoformat(old.handover_until) == retired + dt.timedelta(days=14)
    assert HANDOVER_DAYS == 14
    assert public_entries(pki)[old_id]["handover_until"] == old.handover_until
    ring = keyring.load_keys(pki.signing_keys_path)
    retired_ms = int(retired.timestamp() * 1000)
    assert ring.keys[old_id].handover_end_ms == retired_ms + 14 * DAY_MS
    # A second renewal gives the second key its own handover and leaves the first one's.
    second_id = signing.key_id(signing.load_public_key(renewed.signing_pub_file))
    again = pki.issue(POINT, renew=True, handover_days=0.5)
    assert again.retired_key == second_id
    second = pki.signing_keys()[second_id]
    assert second.retired_at is not None and second.handover_until is not None
    gap = dt.datetime.fromisoformat(second.handover_until) - dt.datetime.fromisoformat(
        second.retired_at
    )
    assert gap == dt.timedelta(hours=12)
    assert pki.signing_keys()[old_id].handover_until == old.handover_until


def test_a_collectors_renewed_key_has_no_handover(pki: Pki) -> None:
    pki.issue("pantau-collector", "collector")
    renewed = pki.issue("pantau-collector", "collector", renew=True)
    assert renewed.retired_key is not None and renewed.handover_until is None
    assert pki.signing_keys()[renewed.retired_key].handover_until is None


def test_a_handover_is_bounded(pki: Pki) -> None:
    pki.issue(POINT)
    for days in (-1, 91):
        with pytest.raises(PkiError, match="the handover is 0 to 90 days"):
            pki.issue(POINT, renew=True, handover_days=days)
    assert [k.status for k in pki.signing_keys().values()] == ["active"]


def test_revoking_a_point_revokes_its_retired_keys_too(pki: Pki) -> None:
    pki.issue(POINT)
    pki.issue(POINT, renew=True)
    pki.issue(POINT, renew=True)
    pki.issue("cit-02")
    assert sorted(k.status for k in pki.signing_keys().values() if k.name == POINT) == [
        "active",
        "retired",
        "retired",
    ]
    assert pki.revoke(POINT) is True
    (identity,) = [i for i in pki.identities() if i.name == POINT]
    states = {(k.name, k.status, k.revoked_at) for k in pki.signing_keys().values()}
    assert states == {(POINT, "revoked", identity.revoked_at), ("cit-02", "active", None)}
    retired = [k for k in pki.signing_keys().values() if k.retired_at is not None]
    assert len(retired) == 2 and all(k.handover_until for k in retired)  # kept, for the record
    ring = keyring.load_keys(pki.signing_keys_path)
    revoked_ms = int(dt.datetime.fromisoformat(identity.revoked_at or "").timestamp() * 1000)
    for key in retired:
        public = ring.keys[key.key_id]
        backlog = public.retired_ms or 0
        assert public.refusal(POINT, revoked_ms, lambda at=backlog: at - 1, HORIZON_MS) == (
            "revoked_key"
        )
        assert public.refusal(POINT, revoked_ms - 1, lambda at=backlog: at - 1, HORIZON_MS) is None


def test_pki_prints_the_handover_on_renewal(pki: Pki, capsys: pytest.CaptureFixture[str]) -> None:
    where = ["--pki-dir", str(pki.dir)]
    assert main(["pki", "issue", POINT, *where]) == 0
    assert "retired" not in capsys.readouterr().out
    assert main(["pki", "issue", POINT, "--renew", "--handover-days", "3", *where]) == 0
    out = capsys.readouterr().out
    (old,) = [k for k in pki.signing_keys().values() if k.status == "retired"]
    assert (
        f"  old signing key {old.key_id} retired; it vouches for messages dated before"
        f" {old.handover_until} (the handover): deploy {pki.bundle_dir(POINT)}/signing.key to"
        " the point's agent before then, or what it signs after is refused (retired_key)\n"
    ) in out
    assert main(["pki", "revoke", POINT, *where]) == 0
    assert "its signing keys, retired ones too, vouch for nothing" in capsys.readouterr().out
