"""What evidence costs: signing on the agent, verifying at the collector, the daily Merkle tree
and the archive's size.

1. Payloads as the agent publishes them today (`agent/publisher.py` `_telemetry` around samples
   encoded by `shared/wire.py`, every field of a busy point filled): one sample, and ten.
2. Agent: µs to sign one message and advance its chain (agent/signing.py, libsodium); what
   importing it adds to an agent process that has its own modules loaded (ms, RSS), and what signing adds.
3. Collector: signatures verified per second.
4. One day of 430 points at 10 s (3,715,200 messages): the Merkle root over real record bodies.
5. Archive bytes per point-month at 10 s, written by the real ArchiveWriter (one point-day,
   times 30), as messages go today (one sample each) and with the evidence fields beside them
   (key id, previous chain value, signature); and the µs per record to scan a segment (what
   opening a day for appending costs).
Last line: one JSON object.   .venv/bin/python bench/evidence.py [--leaves 3715200]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pantau.agent.signing import AgentKey  # noqa: E402
from pantau.collector.archive import (  # noqa: E402
    merkle,
    segments,
    signing,
)
from pantau.shared.wire import Sample, encode  # noqa: E402

POINTS = 430
INTERVAL_S = 10
PER_DAY = 86_400 // INTERVAL_S  # 8,640 samples per point and day
T0_MS = 1_790_035_200_000  # 2026-09-22T00:00:00Z, fixed so runs are comparable
POINT = "citangkil-03"
TOPIC = f"pantau/v1/{POINT}/telemetry"

IMPORT_COST = """
import sys, time
def rss(): return int(open('/proc/self/statm').read().split()[1]) * 4096
try:
    import pantau.agent.run, pantau.agent.publisher  # what an agent has loaded anyway
    base = 'agent'
except Exception:
    import pantau.shared.wire
    base = 'wire'
r0 = rss(); t0 = time.perf_counter()
from pantau.agent.signing import AgentKey
from pantau.shared.signing_format import GENESIS
t1 = time.perf_counter(); r1 = rss()
key = AgentKey(bytes(range(32))); prev = GENESIS
payload = b'x' * 3000
for _ in range(2000):
    prev, _ = key.seal(prev, payload)
r2 = rss()
print(base, (t1 - t0) * 1000, (r1 - r0) / 1e6, (r2 - r1) / 1e6)
"""


def sample(seq: int) -> Sample:
    """A busy point's sample with every field the contract has (an upper bound: a source that
    cannot read a field leaves it out)."""
    return Sample(
        ts_ms=T0_MS + seq * INTERVAL_S * 1000,
        seq=1_000_000 + seq,
        boot="5f0c2e9a7d4b4c1e",
        interval_s=10.0,
        device_up=True,
        uptime_s=1_234_567.0 + seq * 10,
        rx_bytes=987_654_321_000 + seq * 31_250_000,
        tx_bytes=123_456_789_000 + seq * 6_250_000,
        rx_packets=812_345_678 + seq * 25_000,
        tx_packets=412_345_678 + seq * 9_000,
        rx_errors=12,
        tx_errors=3,
        rx_bps=25_012_345.6,
        tx_bps=4_987_654.3,
        link_up=True,
        link_downs=2,
        wan_up=True,
        rtt_ms=23.417,
        loss_pct=0.0,
        jitter_ms=1.873,
        clients_assoc=37,
        clients_hotspot=31,
        clients_dhcp=42,
        cpu_pct=17.5,
        mem_used_pct=43.2,
        temp_c=51.0,
        clock_synced=True,
    )


def telemetry(first_seq: int, count: int) -> bytes:
    """The message the publisher sends for `count` samples (its `_telemetry` format)."""
    body = ",".join(encode(sample(first_seq + i)).decode() for i in range(count))
    return f'{{"v":2,"point":"{POINT}","dropped":0,"samples":[{body}]}}'.encode()


def evidence_properties(key: Ed25519PrivateKey, prev: bytes, payload: bytes) -> dict[str, str]:
    """The agent's seal (agent/publisher.py `_Signer`): key id, previous chain hash, and the
    signature over the new chain hash, as MQTT user properties k, p, s."""
    new_hash = signing.chain_hash(prev, payload)
    return {
        "k": signing.key_id(key.public_key()),
        "p": prev.hex(),
        "s": signing.sign(key, new_hash).hex(),
    }


def per_call_us(call: Callable[[], object], repeat: int) -> float:
    """The best of five rounds: the machine is shared, and other work only adds time."""
    rounds = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeat // 5):
            call()
        rounds.append((time.perf_counter() - start) / (repeat // 5) * 1e6)
    return min(rounds)


def archive_point_day(directory: Path, with_evidence: bool) -> tuple[int, float]:
    """(bytes of one point-day of one-sample messages, µs per record to scan the segment)."""
    key = signing.generate()
    prev = signing.GENESIS
    records = []
    for seq in range(PER_DAY):
        payload = telemetry(seq, 1)
        properties = evidence_properties(key, prev, payload) if with_evidence else {}
        prev = signing.chain_hash(prev, payload)
        records.append(segments.Record(T0_MS + seq * 10_000 + 150, TOPIC, payload, properties))
    with segments.ArchiveWriter(directory) as writer:
        for start in range(0, len(records), 500):
            writer.append_many(records[start : start + 500])
    path = segments.segment_path(directory, "2026-09-22")
    started = time.perf_counter()
    count = sum(1 for _ in segments.read_bodies(path))
    scan_us = (time.perf_counter() - started) / count * 1e6
    return path.stat().st_size, scan_us


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=POINTS * PER_DAY)
    parser.add_argument("--repeat", type=int, default=5000)
    args = parser.parse_args()

    one, ten = telemetry(0, 1), telemetry(0, 10)
    key = signing.generate()
    public = key.public_key()
    print(f"payloads today: 1 sample {len(one)} B, 10 samples {len(ten)} B")

    # The agent signs the message's chain hash (32 bytes), so a signature costs the same at any
    # size; hashing the payload into the chain is what grows with it. Its signer is libsodium's
    # (agent/signing.py), with the same key the collector's check below takes.
    agent_key = AgentKey(key.private_bytes_raw())

    def seal(payload: bytes) -> tuple[bytes, bytes]:
        return agent_key.seal(signing.GENESIS, payload)

    sign_one = per_call_us(lambda: seal(one), args.repeat)
    sign_ten = per_call_us(lambda: seal(ten), args.repeat)
    chain_ten = per_call_us(lambda: signing.chain_hash(signing.GENESIS, ten), args.repeat)
    hash_ten = signing.chain_hash(signing.GENESIS, ten)
    signature = signing.sign(key, hash_ten)
    verify_ten = per_call_us(
        lambda: signing.verify(public, signing.chain_hash(signing.GENESIS, ten), signature),
        args.repeat,
    )
    hash_one = signing.chain_hash(signing.GENESIS, one)
    signature_one = signing.sign(key, hash_one)
    verify_one = per_call_us(
        lambda: signing.verify(public, signing.chain_hash(signing.GENESIS, one), signature_one),
        args.repeat,
    )
    print(
        f"agent: sign {sign_one:.1f} us (1 sample), {sign_ten:.1f} us (10 samples);"
        f" chain hash {chain_ten:.1f} us"
    )
    print(
        f"collector: verify {1e6 / verify_one:,.0f} messages/s (1 sample),"
        f" {1e6 / verify_ten:,.0f} messages/s (10 samples), one core"
    )

    cost = subprocess.run(
        [sys.executable, "-c", IMPORT_COST], capture_output=True, text=True, timeout=120, check=True
    ).stdout.split()
    base, import_ms, import_mb, signing_mb = cost[0], *map(float, cost[1:])
    print(
        f"agent process ({base} modules loaded): import signing +{import_ms:.1f} ms,"
        f" +{import_mb:.1f} MB RSS; 2,000 signatures +{signing_mb:.2f} MB RSS"
    )

    body = segments.Record(T0_MS, TOPIC, one, evidence_properties(key, signing.GENESIS, one))
    leaf = body.encode()
    builder = merkle.TreeBuilder()
    started = time.perf_counter()
    for index in range(args.leaves):
        builder.add(index.to_bytes(8, "big") + leaf)
    merkle_s = time.perf_counter() - started
    builder.root()
    print(f"Merkle root of {args.leaves:,} records of {len(leaf) + 8} B: {merkle_s:.1f} s")

    with tempfile.TemporaryDirectory(prefix="pantau-bench-") as tmp:
        plain_day, scan_us = archive_point_day(Path(tmp) / "plain", with_evidence=False)
        signed_day, _ = archive_point_day(Path(tmp) / "signed", with_evidence=True)
    month_plain, month_signed = plain_day * 30, signed_day * 30
    city_gb = month_signed * POINTS / 1e9
    print(
        f"archive per point-month at 10 s: {month_plain / 1e6:.1f} MB as sent today,"
        f" {month_signed / 1e6:.1f} MB with evidence fields; {POINTS} points:"
        f" {city_gb:.1f} GB a month; scan {scan_us:.1f} us a record"
        f" ({scan_us * POINTS * PER_DAY / 1e6:.0f} s to open a full day)"
    )

    # verify checks one signature and one chain hash per message; one core per day in parallel
    city_messages = POINTS * PER_DAY * 30  # one sample a message (publish.linger_s 0)
    verify_city_s = city_messages / (1e6 / verify_one) / (os.cpu_count() or 1)
    print(
        f"verify a month of {POINTS} points at 10 s ({city_messages:,} messages): about"
        f" {verify_city_s / 3600:.1f} h of signature checks on {os.cpu_count()} core(s)"
        " (estimated from the rate above; reading the archive adds its scan time)"
    )

    figures = {
        "payload_bytes_1_sample": len(one),
        "payload_bytes_10_samples": len(ten),
        "sign_us_1_sample": round(sign_one, 1),
        "sign_us_10_samples": round(sign_ten, 1),
        "chain_hash_us_10_samples": round(chain_ten, 2),
        "verify_messages_per_s_1_sample": round(1e6 / verify_one),
        "verify_messages_per_s_10_samples": round(1e6 / verify_ten),
        "agent_baseline": base,
        "import_signing_ms": round(import_ms, 1),
        "import_signing_rss_mb": round(import_mb, 2),
        "signing_rss_mb": round(signing_mb, 2),
        "merkle_leaves": args.leaves,
        "merkle_leaf_bytes": len(leaf) + 8,
        "merkle_day_s": round(merkle_s, 2),
        "archive_bytes_per_point_month_plain": month_plain,
        "archive_bytes_per_point_month_signed": month_signed,
        "archive_gb_per_month_430_points_signed": round(city_gb, 2),
        "segment_scan_us_per_record": round(scan_us, 2),
        "verify_city_month_s_estimate": round(verify_city_s),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
