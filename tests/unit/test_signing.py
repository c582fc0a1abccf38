"""Agent signatures and the per-point chain: RFC 8032 vectors, key files and their errors."""

from __future__ import annotations

import hashlib
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pantau.collector.archive import signing
from pantau.collector.archive.signing import SigningKeyError
from pantau.shared import signing_format
from pantau.shared.errors import ConfigError

# RFC 8032 section 7.1, TEST 1 (empty message) and TEST 2 (one byte, 0x72).
RFC8032 = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        b"",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        b"\x72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
]
SEED2 = RFC8032[1][0]
PEM2 = (
    b"-----BEGIN PRIVATE KEY-----\n"
    b"MC4CAQAwBQYDK2VwBCIEIEzNCJso/5banbbDRuwRTg9bijGfNaumJNqM9u1PuKb7\n"
    b"-----END PRIVATE KEY-----\n"
)


def key(seed_hex: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(("seed", "public", "message", "signature"), RFC8032)
def test_signatures_are_the_rfc_8032_ones(
    seed: str, public: str, message: bytes, signature: str
) -> None:
    private = key(seed)
    assert signing.public_raw(private.public_key()).hex() == public
    assert signing.sign(private, message).hex() == signature
    assert signing.verify(private.public_key(), message, bytes.fromhex(signature)) is True


def test_a_changed_byte_a_changed_signature_or_another_key_fails() -> None:
    private = key(SEED2)
    data = b'{"v":1,"point":"cit-01","samples":[]}'
    signature = signing.sign(private, data)
    assert len(signature) == signing.SIGNATURE_BYTES == 64
    public = private.public_key()
    assert signing.verify(public, data, signature) is True
    assert signing.verify(public, data.replace(b"01", b"02"), signature) is False
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    assert signing.verify(public, data, flipped) is False
    assert signing.verify(public, data, signature[:63]) is False
    assert signing.verify(public, data, b"") is False
    assert signing.verify(key(RFC8032[0][0]).public_key(), data, signature) is False


def test_key_id_is_the_first_16_hex_digits_of_sha256_of_the_raw_key() -> None:
    assert signing.key_id(key(RFC8032[0][0]).public_key()) == "21fe31dfa154a261"
    raw = bytes.fromhex(RFC8032[1][1])
    assert signing.key_id(signing.public_key_from_raw(raw)) == hashlib.sha256(raw).hexdigest()[:16]
    with pytest.raises(ValueError, match="32 bytes, not 31"):
        signing.public_key_from_raw(raw[:31])


def test_chain_hash_is_domain_separated_sha256() -> None:
    assert signing.GENESIS.hex() == "00" * 32
    # SHA-256("pantau/chain/v1\0" || 32 zero bytes || 8-byte length || payload)
    assert signing.chain_hash(signing.GENESIS, b"").hex() == (
        "b1627165095ad01a448560f2bc16aea6af1bd664dbc77649a0d13afb1df21f3f"
    )
    assert signing.chain_hash(signing.GENESIS, b'{"v":1}').hex() == (
        "fc26613aecc64ba308e759ab3f4bcca7bebca979b6af06e8d1f1ab6bc4208c64"
    )
    payload = b"sample"
    by_hand = hashlib.sha256(
        b"pantau/chain/v1\x00" + bytes(32) + (6).to_bytes(8, "big") + payload
    ).digest()
    assert signing.chain_hash(signing.GENESIS, payload) == by_hand
    assert signing.chain_hash(signing.GENESIS, payload) != hashlib.sha256(payload).digest()


def test_a_chain_depends_on_every_message_and_its_order() -> None:
    def run(payloads: list[bytes]) -> bytes:
        value = signing.GENESIS
        for payload in payloads:
            value = signing.chain_hash(value, payload)
        return value

    messages = [b"a", b"b", b"c"]
    head = run(messages)
    assert run([b"a", b"c", b"b"]) != head  # reordered
    assert run([b"a", b"c"]) != head  # one missing
    assert run([b"a", b"b", b"b", b"c"]) != head  # replayed
    # The length field keeps message boundaries: "ab","c" is not "a","bc".
    assert run([b"ab", b"c"]) != run([b"a", b"bc"])
    with pytest.raises(ValueError, match="32 bytes, not 31"):
        signing.chain_hash(bytes(31), b"a")


def test_key_files_round_trip_with_private_mode(tmp_path: Path) -> None:
    private = key(SEED2)
    signing.save_private_key(tmp_path / "keys" / "signing.key", private)
    signing.save_public_key(tmp_path / "keys" / "signing.pub", private.public_key())
    assert (tmp_path / "keys" / "signing.key").read_bytes() == PEM2
    assert mode(tmp_path / "keys" / "signing.key") == 0o600
    assert mode(tmp_path / "keys" / "signing.pub") == 0o644
    loaded = signing.load_private_key(tmp_path / "keys" / "signing.key")
    assert loaded.private_bytes_raw() == bytes.fromhex(SEED2)
    public = signing.load_public_key(tmp_path / "keys" / "signing.pub")
    assert signing.public_raw(public).hex() == RFC8032[1][1]
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == ["signing.key", "signing.pub"]


def test_key_files_are_the_standard_forms(tmp_path: Path) -> None:
    """What cryptography and openssl write is read, and what we write they read."""
    private = key(SEED2)
    theirs = serialization.load_pem_private_key(signing.private_pem(private), password=None)
    assert isinstance(theirs, Ed25519PrivateKey)
    assert theirs.private_bytes_raw() == bytes.fromhex(SEED2)
    public_der = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert signing.public_pem(private.public_key()) == public_der
    made = tmp_path / "openssl.pem"
    subprocess.run(
        ["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(made)], check=True, timeout=30
    )
    made.chmod(0o600)
    loaded = signing.load_private_key(made)
    assert signing.private_pem(loaded) == made.read_bytes()
    # A PKCS#8 v2 key (RFC 8410 section 10.3: the public key inside), which OpenSSL 3 does not
    # read either, is refused in one line.
    seed, public = bytes.fromhex(SEED2), bytes.fromhex(RFC8032[1][1])
    der = bytes.fromhex("3051020101300506032b657004220420") + seed + b"\x81\x21\x00" + public
    v2 = tmp_path / "v2.pem"
    v2.write_bytes(signing_format.pem("PRIVATE KEY", der))
    v2.chmod(0o600)
    with pytest.raises(SigningKeyError, match=r"v2.pem: not a readable unencrypted PKCS#8"):
        signing.load_private_key(v2)
    ssh = tmp_path / "ssh.key"
    ssh.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    ssh.chmod(0o600)
    with pytest.raises(SigningKeyError, match=r"ssh.key: not a PEM private key \(no -----BEGIN"):
        signing.load_private_key(ssh)  # an OpenSSH key is refused by name, not half-read


@pytest.mark.parametrize(
    ("content", "file_mode", "message"),
    [
        (None, 0o600, r"signing.key: signing key file does not exist$"),
        (PEM2, 0o644, r"readable by group or others \(mode 644\); run: chmod 600 .*signing.key$"),
        (PEM2, 0o640, r"readable by group or others \(mode 640\)"),
        (b"", 0o600, r"signing.key: not a PEM private key \(no -----BEGIN PRIVATE KEY-----"),
        (b"\xff\xfe\x00binary", 0o600, r"signing.key: not a PEM file \(binary content\)$"),
        (PEM2.replace(b"MC4C", b"MC*C"), 0o600, r"signing.key: damaged PEM \(invalid base64\)$"),
        (PEM2[:-30], 0o600, r"signing.key: not a PEM private key"),
        (
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            0o600,
            r"signing.key: not a readable unencrypted PKCS#8 private key$",
        ),
    ],
)
def test_a_bad_key_file_is_one_clear_line(
    tmp_path: Path, content: bytes | None, file_mode: int, message: str
) -> None:
    path = tmp_path / "signing.key"
    if content is not None:
        path.write_bytes(content)
        path.chmod(file_mode)
    with pytest.raises(SigningKeyError, match=message) as caught:
        signing.load_private_key(path)
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, ConfigError)


def test_a_key_of_another_kind_is_named(tmp_path: Path) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "ec.key"
    path.write_bytes(
        other.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    with pytest.raises(SigningKeyError, match=r"ec.key: not an Ed25519 key \(ECPrivateKey\)$"):
        signing.load_private_key(path)
    public = tmp_path / "ec.pub"
    public.write_bytes(
        other.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    with pytest.raises(SigningKeyError, match=r"ec.pub: not an Ed25519 key \(ECPublicKey\)$"):
        signing.load_public_key(public)
    with pytest.raises(SigningKeyError, match=r"nothing.pub: public key file does not exist$"):
        signing.load_public_key(tmp_path / "nothing.pub")


def test_a_new_key_each_time() -> None:
    first, second = signing.generate(), signing.generate()
    assert signing.key_id(first.public_key()) != signing.key_id(second.public_key())
    data = b"x" * 3000
    assert signing.verify(first.public_key(), data, signing.sign(first, data)) is True
    assert signing.verify(second.public_key(), data, signing.sign(first, data)) is False
