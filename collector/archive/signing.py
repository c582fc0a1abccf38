"""Ed25519 signatures and the per-point hash chain: what makes a measurement checkable later.

An agent signs the exact bytes it publishes, so the figures can be checked by anyone holding its
public key, not only by whoever has write access to the database. Each message also names the
chain value of the one before it (`chain_hash`), so a message that goes missing, is reordered or
replayed breaks the chain where it happened.

This is the collector's and `pantau pki`'s side, with `cryptography`; a running agent signs with
libsodium (agent/signing.py), lighter by several MB of RSS. What both share, the chain and the
key files' form, is shared/signing_format.py.

Key files are PEM (PKCS#8 for the private key, SubjectPublicKeyInfo for the public one, as
`openssl genpkey -algorithm ed25519` writes them). The usual form (RFC 8410: a fixed 16-byte
prefix and the 32-byte seed) is read without `cryptography`'s serialization layer, which costs
about 30 ms and a few MB to import; any other valid PEM form falls back to it.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

# The chain and its sizes are the collector's too: it reads them from here.
from pantau.shared.signing_format import GENESIS as GENESIS
from pantau.shared.signing_format import HASH_BYTES as HASH_BYTES
from pantau.shared.signing_format import KEY_ID_CHARS as KEY_ID_CHARS
from pantau.shared.signing_format import (
    PRIVATE_DER_PREFIX,
    PRIVATE_LABEL,
    PUBLIC_DER_PREFIX,
    PUBLIC_LABEL,
    SIGNATURE_BYTES,
    SigningKeyError,
    key_id_of_raw,
    pem,
    private_seed,
    public_raw_of,
    read_private_der,
    unpem,
    write_atomically,
)
from pantau.shared.signing_format import chain_hash as chain_hash


# -- keys -------------------------------------------------------------------------------------
def generate() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def public_raw(public_key: Ed25519PublicKey) -> bytes:
    """The 32 bytes that name the key everywhere (key id, registry)."""
    return public_key.public_bytes_raw()


def public_key_from_raw(raw: bytes) -> Ed25519PublicKey:
    if len(raw) != 32:
        raise ValueError(f"an Ed25519 public key is 32 bytes, not {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def key_id(public_key: Ed25519PublicKey) -> str:
    """Short stable name of a key: the first 16 hex digits of SHA-256 of its raw bytes."""
    return key_id_of_raw(public_raw(public_key))


def private_pem(private_key: Ed25519PrivateKey) -> bytes:
    return pem(PRIVATE_LABEL, PRIVATE_DER_PREFIX + private_key.private_bytes_raw())


def public_pem(public_key: Ed25519PublicKey) -> bytes:
    return pem(PUBLIC_LABEL, PUBLIC_DER_PREFIX + public_raw(public_key))


def public_key_from_pem(data: bytes, where: str = "public key") -> Ed25519PublicKey:
    der = unpem(data, PUBLIC_LABEL, where)
    raw = public_raw_of(der)
    if raw is not None:
        return Ed25519PublicKey.from_public_bytes(raw)
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, TypeError):
        raise SigningKeyError(f"{where}: not a public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"{where}: not an Ed25519 key ({type(key).__name__})")
    return key


def save_private_key(path: str | Path, private_key: Ed25519PrivateKey) -> None:
    """Written atomically with mode 600: never a moment when others could read it."""
    write_atomically(Path(path), private_pem(private_key), 0o600)


def save_public_key(path: str | Path, public_key: Ed25519PublicKey) -> None:
    write_atomically(Path(path), public_pem(public_key), 0o644)


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    """Read a private key only its owner can read. Raises SigningKeyError, one line."""
    der = read_private_der(path)
    seed = private_seed(der)
    if seed is not None:
        return Ed25519PrivateKey.from_private_bytes(seed)
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError):
        raise SigningKeyError(f"{path}: not a readable unencrypted PKCS#8 private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path}: not an Ed25519 key ({type(key).__name__})")
    return key


def load_public_key(path: str | Path) -> Ed25519PublicKey:
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SigningKeyError(f"{path}: public key file does not exist") from None
    except OSError as exc:
        raise SigningKeyError(f"{path}: public key file cannot be read: {exc.strerror}") from None
    return public_key_from_pem(data, str(path))


# -- signatures and the chain -------------------------------------------------------------------
def sign(private_key: Ed25519PrivateKey, data: bytes) -> bytes:
    """64 bytes over exactly `data` (Ed25519 is deterministic: same key and data, same bytes)."""
    return private_key.sign(data)


def verify(public_key: Ed25519PublicKey, data: bytes, signature: bytes) -> bool:
    if len(signature) != SIGNATURE_BYTES:
        return False
    try:
        public_key.verify(signature, data)
    except InvalidSignature:
        return False
    return True
