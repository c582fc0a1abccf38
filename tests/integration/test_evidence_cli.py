"""`pantau evidence` on a real signed archive and a real influxd: what each kind of tampering
prints, exactly, and a month rebuilt from the archive alone giving the same report, byte for
byte."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path

import pytest

from pantau.collector.archive import merkle, signing
from pantau.collector.archive.checkpoint import Checkpoint
from pantau.collector.ingest import Accepted, ingest
from pantau.collector.lab import services
from pantau.collector.report.cli import compute
from pantau.collector.report.compute import Filters
from pantau.collector.report.reader import InfluxSource
from pantau.collector.report.render_data import to_json
from pantau.collector.rollup import rebuild
from pantau.collector.sla.month import CONTEXT_MS
from pantau.collector.sla.periods import month
from pantau.shared.cli import main
from pantau.shared.registry import load_registry
from tests.evidence_fixtures import (
    MONTH,
    NOW_MS,
    POINTS,
    T0_MS,
    Agent,
    Month,
    build_month,
    flip_payload_byte,
    keys_json,
    messages,
    write_keys,
)
from tests.pipeline import influx, registry_file

DAY1 = "2026-09-09"
PERIOD = month(MONTH)


def evidence(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str], str]:
    code = main(["evidence", *args])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def archive_args(m: Month, keys: Path | None = None) -> list[str]:
    return ["--archive", str(m.archive), "--keys", str(keys or m.keys_file)]


def fill_directly(url: str, database: str, registry: Path, m: Month) -> None:
    """What the collector did as the messages arrived: ingest, write, roll up."""
    points = load_registry(registry).by_id()
    db = influx(url, database)
    db.ensure_database()
    lines: list[str] = []
    for record in m.records:
        result = ingest(record.topic, record.payload, False, points, 1 << 20, record.received_ms)
        assert isinstance(result, Accepted), result
        lines += result.lines
    db.write(lines)
    rebuild(
        db,
        PERIOD.start_ms - CONTEXT_MS,
        PERIOD.end_ms + CONTEXT_MS,
        sorted(points),
        lambda p: points[p].tags(),
    )
    db.close()


def report_json(url: str, database: str, registry: Path) -> str:
    db = influx(url, database)
    try:
        made = compute(load_registry(registry), InfluxSource(db), MONTH, Filters(), NOW_MS)
    finally:
        db.close()
    return to_json(made, "en")


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    return registry_file(tmp_path / "registry.yaml", list(POINTS))


def test_an_intact_month_verifies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    m = build_month(tmp_path)
    code, out, _ = evidence(capsys, "verify", "--month", MONTH, *archive_args(m))
    assert code == 0, out
    assert out == [
        "signatures and chains: 1083 signed message(s) of 3 point(s), 2026-08-31 to 2026-09-30"
        " and after: all valid",
        f"checkpoints: 2 day(s), {DAY1} to 2026-09-10: chained, signed, roots match the archive"
        f" (last root {json.loads(m.archive.joinpath('2026-09', '2026-09-10.checkpoint.json').read_text())['root']},"
        " 540 messages)",
    ]


def test_checkpoint_closes_every_day_then_verify_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    m = build_month(tmp_path, checkpoint=False)
    key = tmp_path / "collector-signing.key"
    signing.save_private_key(key, m.collector_key)
    code, out, _ = evidence(
        capsys, "checkpoint", "--through", "2026-09-10", "--key", str(key), *archive_args(m)
    )
    assert code == 0
    assert [line.split(":")[0] for line in out] == [DAY1, "2026-09-10"]
    assert out[0].startswith(f"{DAY1}: 543 message(s), root ")
    assert out[0].endswith(f", signed by {signing.key_id(m.collector_key.public_key())}")
    code, out, _ = evidence(
        capsys, "checkpoint", "--through", "2026-09-10", "--key", str(key), *archive_args(m)
    )
    assert (code, out) == (0, ["every day is closed already"])
    assert evidence(capsys, "verify", "--month", MONTH, *archive_args(m))[0] == 0


def test_an_archive_handed_over_from_mid_chain_says_what_it_could_not_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    m = build_month(tmp_path)
    for path in m.archive.glob(f"2026-09/{DAY1}.*"):
        path.unlink()  # the auditor was given the second day only
    code, out, _ = evidence(capsys, "verify", "--month", MONTH, *archive_args(m))
    assert code == 0, out
    assert out[1].endswith(
        " 540 messages); 2026-09-10's link to 2026-09-09 not checked (no checkpoint of 2026-09-09)"
    )


def test_a_flipped_byte_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    m = build_month(tmp_path)
    flip_payload_byte(m, DAY1, 30)
    code, out, _ = evidence(capsys, "verify", "--month", MONTH, *archive_args(m))
    assert code == 1
    assert out[:2] == [
        "signatures and chains: 1 finding(s) in 1083 message(s)",
        f"  bad_signature: point cit-01, seq 1010, {DAY1} record 30: the signature of key"
        f" {m.agents['cit-01'].key_id} does not match",
    ]
    assert out[2:] == [
        "checkpoints: 1 problem(s)",
        f"  {DAY1}: archive's Merkle root differs from the checkpoint's",
    ]


def test_a_deleted_message_is_a_named_gap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    agents = {p: Agent(p) for p in POINTS}
    records = messages(agents)
    del records[31]  # cit-02, minute 10
    m = build_month(tmp_path, records, agents)
    code, out, _ = evidence(capsys, "verify", "--month", MONTH, *archive_args(m))
    assert code == 1
    assert out[:2] == [
        "signatures and chains: 1 finding(s) in 1082 message(s)",
        f"  gap: point cit-02, seq 1011, {DAY1} record 33: follows a message the archive does"
        " not hold (missing before it)",
    ]


def test_a_revoked_keys_later_messages_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    m = build_month(tmp_path)
    revoked_at = T0_MS + 300 * 60_000  # minute 300 of the second day
    data = keys_json(m.agents, m.collector_key, revoked={"cit-03": revoked_at})
    keys = write_keys(tmp_path / "revoked-keys.json", data)
    code, out, _ = evidence(capsys, "verify", "--month", MONTH, *archive_args(m, keys))
    assert code == 1
    assert out[0] == "signatures and chains: 60 finding(s) in 1083 message(s)"
    assert out[1] == (
        f"  revoked_key: point cit-03, seq 1300, 2026-09-10 record {(300 - 180) * 3 + 2}: key"
        f" {m.agents['cit-03'].key_id}"
    )


def test_a_replayed_old_message_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    agents = {p: Agent(p) for p in POINTS}
    records = messages(agents)
    replayed = replace(records[30], received_ms=records[-1].received_ms + 1000)
    m = build_month(tmp_path, [*records, replayed], agents)
    code, out, _ = evidence(capsys, "verify", "--month", MONTH, *archive_args(m))
    assert code == 1
    assert out[:2] == [
        "signatures and chains: 1 finding(s) in 1084 message(s)",
        "  replay: point cit-01, seq 1010, 2026-09-10 record 540: the same message as"
        f" {DAY1} record 30, again 5.8 h later",
    ]


def test_prove_gives_a_proof_that_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    m = build_month(tmp_path)
    at = "2026-09-10T06:45:20+07:00"  # 23:45 UTC on the 9th: minute 165 of the data
    code, out, err = evidence(capsys, "prove", "--point", "cit-02", "--at", at, *archive_args(m))
    assert (code, err) == (0, "")
    proof = json.loads("\n".join(out))
    assert (proof["point"], proof["minute"]) == ("cit-02", "2026-09-10T06:45+07:00")
    [message] = proof["messages"]
    assert [s["seq"] for s in message["samples"]] == [1165]
    checkpoint = Checkpoint.from_json(
        json.dumps(
            proof["checkpoints"][message["day"]], separators=(",", ":"), sort_keys=True
        ).encode()
    )
    assert merkle.verify_inclusion(
        message["leaf_index"],
        checkpoint.tree_size,
        merkle.leaf_hash(bytes.fromhex(message["record"])),
        [bytes.fromhex(h) for h in message["proof"]],
        bytes.fromhex(checkpoint.root),
    )
    collector = m.collector_key.public_key()
    assert signing.verify(
        collector, checkpoint.signed_bytes(), base64.b64decode(checkpoint.signature)
    )
    props = message["properties"]
    h = signing.chain_hash(bytes.fromhex(props["p"]), message["payload"].encode())
    assert signing.verify(m.agents["cit-02"].key.public_key(), h, bytes.fromhex(props["s"]))


def test_replay_rebuilds_the_same_report_and_verify_matches_it(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    influxd: services.Service,
    database: str,
    registry: Path,
) -> None:
    m = build_month(tmp_path)
    url = influxd.url
    fill_directly(url, database, registry, m)
    original = report_json(url, database, registry)
    rebuilt_db = f"{database}_replayed"
    store = ["--registry", str(registry), "--influx-url", url]
    code, out, _ = evidence(
        capsys, "replay", "--month", MONTH, *archive_args(m), *store, "--database", rebuilt_db
    )
    assert code == 0, out
    assert out[0].startswith(
        f"replayed 1083 archived message(s) of 2 day(s) ({DAY1} to 2026-09-10) into {rebuilt_db}:"
    )
    assert report_json(url, rebuilt_db, registry) == original

    report = tmp_path / "report.json"
    report.write_text(original)
    code, out, _ = evidence(
        capsys, "verify", "--month", MONTH, "--report", str(report), "--against-influx",
        *archive_args(m), *store, "--database", database,
    )  # fmt: skip
    assert code == 0, out
    assert out[2:] == [
        "report: recomputed from 1083 archived message(s)",
        "match",
        "InfluxDB: 1089 row(s) of agents' data, every one in the archive",
    ]


def test_an_altered_row_is_named_by_against_influx_and_by_the_report(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    influxd: services.Service,
    database: str,
    registry: Path,
) -> None:
    m = build_month(tmp_path)
    url = influxd.url
    fill_directly(url, database, registry, m)
    # someone with write access makes minute 100 to 119 of cit-01 look up again
    db = influx(url, database)
    points = load_registry(registry).by_id()
    tags = ",".join(f"{k}={v}" for k, v in sorted(points["cit-01"].tags().items()))
    ts = T0_MS + 105 * 60_000
    db.write([f"telemetry,{tags} wan_up=true,rtt_ms=21.5 {ts}"])
    rebuild(db, ts - 3_600_000, ts + 3_600_000, ["cit-01"], lambda p: points[p].tags())
    db.close()
    report = tmp_path / "report.json"
    report.write_text(report_json(url, database, registry))
    store = ["--registry", str(registry), "--influx-url", url, "--database", database]
    code, out, _ = evidence(
        capsys, "verify", "--month", MONTH, "--report", str(report), "--against-influx",
        *archive_args(m), *store,
    )  # fmt: skip
    assert code == 1
    assert out[2] == (  # the row turned a down minute into an up one
        "report: first difference: points, point cit-01, minutes_up: the report says 341,"
        " the archive gives 340"
    )
    assert out[3:] == [
        "InfluxDB: 2 row difference(s) from the archive in 1089 row(s)",
        "  point cit-01, minute 2026-09-10T05:45+07:00, telemetry.rtt_ms: InfluxDB has 21.5,"
        " the archive gives None",
        "  point cit-01, minute 2026-09-10T05:45+07:00, telemetry.wan_up: InfluxDB has True,"
        " the archive gives False",
    ]
