"""Ed25519 signatures and the per-point hash chain: what makes a measurement checkable later.

An agent signs the exact bytes it publishes, so the figures can be checked by anyone holding its
public key, not only by whoever has write access to the database. Each message also names the
chain value of the one before it (`chain_hash`), so a message that goes missing, is reordered or
replayed breaks the chain where it happened.

Key files are PEM (PKCS#8 for the private key, SubjectPublicKeyInfo for the public one, as
`openssl genpkey -algorithm ed25519` writes them). The usual form (RFC 8410: a fixed 16-byte
prefix and the 32-byte seed) is read without `cryptography`'s serialization layer, which costs
an agent about 30 ms and a few MB to import; any other valid PEM form falls back to it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import secrets
import stat
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from pantau.shared.errors import ConfigError

SIGNATURE_BYTES = 64
HASH_BYTES = 32
KEY_ID_CHARS = 16
# The chain value before a point's first message: nothing came before it.
GENESIS = bytes(HASH_BYTES)
CHAIN_DOMAIN = b"pantau/chain/v1\x00"

# RFC 8410 encodings: DER header + 32 raw key bytes.
_PRIVATE_DER_PREFIX = bytes.fromhex("302e020100300506032b657004220420")
_PUBLIC_DER_PREFIX = bytes.fromhex("302a300506032b6570032100")
_PRIVATE_LABEL = "PRIVATE KEY"
_PUBLIC_LABEL = "PUBLIC KEY"


class SigningKeyError(ConfigError):
    """A signing key file is missing, readable by others, or not an Ed25519 key."""


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
    return hashlib.sha256(public_raw(public_key)).hexdigest()[:KEY_ID_CHARS]


def private_pem(private_key: Ed25519PrivateKey) -> bytes:
    return _pem(_PRIVATE_LABEL, _PRIVATE_DER_PREFIX + private_key.private_bytes_raw())


def public_pem(public_key: Ed25519PublicKey) -> bytes:
    return _pem(_PUBLIC_LABEL, _PUBLIC_DER_PREFIX + public_raw(public_key))


def public_key_from_pem(data: bytes, where: str = "public key") -> Ed25519PublicKey:
    der = _unpem(data, _PUBLIC_LABEL, where)
    if len(der) == 44 and der.startswith(_PUBLIC_DER_PREFIX):
        return Ed25519PublicKey.from_public_bytes(der[12:])
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
    _write(Path(path), private_pem(private_key), 0o600)


def save_public_key(path: str | Path, public_key: Ed25519PublicKey) -> None:
    _write(Path(path), public_pem(public_key), 0o644)


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    """Read a private key only its owner can read. Raises SigningKeyError, one line."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except FileNotFoundError:
        raise SigningKeyError(f"{path}: signing key file does not exist") from None
    except OSError as exc:
        raise SigningKeyError(f"{path}: signing key file cannot be read: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SigningKeyError(
            f"{path}: signing key file is readable by group or others"
            f" (mode {stat.S_IMODE(mode):o}); run: chmod 600 {path}"
        )
    der = _unpem(data, _PRIVATE_LABEL, f"{path}")
    if len(der) == 48 and der.startswith(_PRIVATE_DER_PREFIX):
        return Ed25519PrivateKey.from_private_bytes(der[16:])
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


def chain_hash(prev_hash: bytes, payload: bytes) -> bytes:
    """The chain value after `payload`: SHA-256 of domain || prev (32 bytes) || len (8, big
    endian) || payload. The domain keeps these hashes apart from any other SHA-256 in Pantau;
    the fixed-size fields make the encoding unambiguous."""
    if len(prev_hash) != HASH_BYTES:
        raise ValueError(f"a chain value is {HASH_BYTES} bytes, not {len(prev_hash)}")
    digest = hashlib.sha256(CHAIN_DOMAIN)
    digest.update(prev_hash)
    digest.update(len(payload).to_bytes(8, "big"))
    digest.update(payload)
    return digest.digest()


# -- internals ---------------------------------------------------------------------------------
def _pem(label: str, der: bytes) -> bytes:
    body = base64.encodebytes(der).decode("ascii")  # 76-column lines, each ending in \n
    return f"-----BEGIN {label}-----\n{body}-----END {label}-----\n".encode("ascii")


def _unpem(data: bytes, label: str, where: str) -> bytes:
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise SigningKeyError(f"{where}: not a PEM file (binary content)") from None
    begin, end = f"-----BEGIN {label}-----", f"-----END {label}-----"
    start = text.find(begin)
    stop = text.find(end, start + len(begin))
    if start < 0 or stop < 0:
        raise SigningKeyError(f"{where}: not a PEM {label.lower()} (no {begin} ... {end})")
    try:
        der = base64.b64decode("".join(text[start + len(begin) : stop].split()), validate=True)
    except (binascii.Error, ValueError):
        raise SigningKeyError(f"{where}: damaged PEM (invalid base64)") from None
    if not der:
        raise SigningKeyError(f"{where}: damaged PEM (empty)")
    return der


def _write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
