"""The agent signs with libsodium (agent/signing.py), the collector checks with `cryptography`
(collector/archive/signing.py): the same key must give the same bytes, and the collector must let the
agent's messages in. Ed25519 is deterministic (RFC 8032), so equality is exact."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pantau.agent.publisher import _Signer
from pantau.agent.signing import load_key
from pantau.collector.archive import signing
from pantau.collector.signatures import Seal, Verifier
from pantau.shared import signing_format
from pantau.shared.errors import ConfigError
from pantau.shared.signing_format import SigningKeyError
from tests.evidence_fixtures import Agent, capacity, keys_json, telemetry, write_keys

NOW_MS = 1_790_000_000_000
RFC8032_SEEDS = (
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
)
MESSAGES = [
    b"",
    b"\x72",
    b'{"v":2,"point":"cit-01","dropped":0,"samples":[]}',
    '{"v":2,"note":"Cilegon – Banten"}'.encode(),
    b"x" * 300_000,
    telemetry("cit-01", 7),
    capacity("cit-01", 150),
]


def saved(tmp_path: Path, key: Ed25519PrivateKey, name: str = "signing.key") -> Path:
    path = tmp_path / name
    signing.save_private_key(path, key)
    return path


def test_the_rfc_8032_vectors_sign_alike(tmp_path: Path) -> None:
    """RFC 8032 section 7.1, TEST 2: the agent's key gives the published signature."""
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(RFC8032_SEEDS[1]))
    agent = load_key(saved(tmp_path, key))
    assert agent.public_raw.hex() == (
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
    )
    assert agent.sign(b"\x72").hex() == (
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
    )


@pytest.mark.parametrize("seed", [*RFC8032_SEEDS, None, None, None])
def test_the_agent_signs_what_cryptography_signs(tmp_path: Path, seed: str | None) -> None:
    key = (
        Ed25519PrivateKey.generate()
        if seed is None
        else Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed))
    )
    agent = load_key(saved(tmp_path, key))
    assert agent.key_id == signing.key_id(key.public_key())
    assert agent.public_raw == signing.public_raw(key.public_key())
    prev = signing.GENESIS
    for payload in MESSAGES:
        new_hash, signature = agent.seal(prev, payload)
        assert new_hash == signing.chain_hash(prev, payload)
        assert signature == signing.sign(key, new_hash)
        assert agent.sign(payload) == signing.sign(key, payload)
        prev = new_hash


def test_an_openssl_key_signs_alike(tmp_path: Path) -> None:
    made = tmp_path / "openssl.key"
    subprocess.run(
        ["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(made)], check=True, timeout=30
    )
    made.chmod(0o600)
    theirs = signing.load_private_key(made)
    ours = load_key(made)
    assert ours.key_id == signing.key_id(theirs.public_key())
    assert [ours.sign(m) for m in MESSAGES] == [signing.sign(theirs, m) for m in MESSAGES]


def test_the_collector_lets_the_agents_messages_in(tmp_path: Path) -> None:
    """The seal the publisher puts on each message (k, p, s), checked by the collector's
    Verifier against the PKI's keys file: every signature good, the chain unbroken, and the
    same seals a `cryptography` signer makes."""
    reference = Agent("cit-01")
    keys = write_keys(tmp_path / "keys.json", keys_json({"cit-01": reference}, signing.generate()))
    (tmp_path / "points" / "cit-01").mkdir(parents=True)
    saved(tmp_path / "points" / "cit-01", reference.key)
    signer = _Signer.load(str(tmp_path / "points" / "{point}" / "signing.key"), "cit-01")
    verifier = Verifier(keys, frozenset(), chain_check=True)
    prev = signer.genesis
    for payload in MESSAGES:
        sealed, props, prev = signer.seal(prev, payload)
        assert sealed == payload
        expected = reference.sign(payload)
        assert props == {k: expected[k] for k in ("k", "p", "s")}
        seal = verifier.check("cit-01", payload, props, NOW_MS)
        assert isinstance(seal, Seal), seal
        assert seal.chain_hash == prev
        assert verifier.follow("cit-01", seal) is None
    forged = dict(props, s=bytes(64).hex())
    assert not isinstance(verifier.check("cit-01", MESSAGES[-1], forged, NOW_MS), Seal)


@pytest.mark.parametrize(
    ("content", "file_mode", "message"),
    [
        (None, 0o600, r"signing.key: signing key file does not exist$"),
        ("good", 0o644, r"readable by group or others \(mode 644\); run: chmod 600 .*signing.key$"),
        (b"", 0o600, r"signing.key: not a PEM private key \(no -----BEGIN PRIVATE KEY-----"),
        (
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            0o600,
            r"signing.key: not an unencrypted Ed25519 PKCS#8 private key \(the form `pantau pki",
        ),
        (
            "v2",
            0o600,
            r"signing.key: not an unencrypted Ed25519 PKCS#8 private key",
        ),
    ],
)
def test_a_bad_key_file_is_one_clear_line(
    tmp_path: Path, content: bytes | str | None, file_mode: int, message: str
) -> None:
    path = tmp_path / "signing.key"
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(RFC8032_SEEDS[1]))
    if content == "good":
        saved(tmp_path, key)
    elif content == "v2":  # PKCS#8 v2 (RFC 8410 section 10.3), refused by name, not half-read
        der = bytes.fromhex("3051020101300506032b657004220420") + key.private_bytes_raw()
        der += b"\x81\x21\x00" + signing.public_raw(key.public_key())
        path.write_bytes(signing_format.pem("PRIVATE KEY", der))
    elif isinstance(content, bytes):
        path.write_bytes(content)
    if path.exists():
        path.chmod(file_mode)
    with pytest.raises(SigningKeyError, match=message) as caught:
        load_key(path)
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, ConfigError)
    assert isinstance(caught.value, signing.SigningKeyError)


def modules_after_importing_signing() -> list[str]:
    """Every module a fresh interpreter holds after importing the agent's signing and
    publisher, sorted."""
    code = (
        "import sys\n"
        "import pantau.agent.signing, pantau.agent.publisher\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()


def test_the_agents_signing_imports_no_cryptography() -> None:
    assert [m for m in modules_after_importing_signing() if m.startswith("cryptography")] == []


def test_the_agents_signing_loads_libsodium_without_pynacls_python_layer() -> None:
    """agent/signing.py calls libsodium through the binding's compiled module only: PyNaCl's
    Python layer (every binding, boxes, encodings) is about 0.5 MB of a running agent."""
    loaded = modules_after_importing_signing()
    assert [m for m in loaded if m.split(".")[0] == "nacl"] == ["nacl", "nacl._sodium"]
