"""What signing means on the wire and on disk, without a cryptography library: the per-point
hash chain, key ids and the key files' PEM form.

Both sides build on it: the collector and `pantau pki` with `cryptography` (collector/archive/signing.py),
a running agent with libsodium through PyNaCl (agent/signing.py), which costs it about 1 MB of
RSS where `cryptography`'s one Rust extension (its whole OpenSSL) costs 7 to 12 MB. Ed25519 is
deterministic, so the same key signs the same bytes alike on both.
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

from pantau.shared.errors import ConfigError

SIGNATURE_BYTES = 64
HASH_BYTES = 32
KEY_ID_CHARS = 16
# The chain value before a point's first message: nothing came before it.
GENESIS = bytes(HASH_BYTES)
CHAIN_DOMAIN = b"pantau/chain/v1\x00"

# RFC 8410 encodings: DER header + 32 raw key bytes.
PRIVATE_DER_PREFIX = bytes.fromhex("302e020100300506032b657004220420")
PUBLIC_DER_PREFIX = bytes.fromhex("302a300506032b6570032100")
PRIVATE_LABEL = "PRIVATE KEY"
PUBLIC_LABEL = "PUBLIC KEY"


class SigningKeyError(ConfigError):
    """A signing key file is missing, readable by others, or not an Ed25519 key."""


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


def key_id_of_raw(public_raw: bytes) -> str:
    """Short stable name of a key: the first 16 hex digits of SHA-256 of its raw 32 bytes."""
    return hashlib.sha256(public_raw).hexdigest()[:KEY_ID_CHARS]


def private_seed(der: bytes) -> bytes | None:
    """The 32-byte seed of a private key in the usual form (RFC 8410: PKCS#8 v1, what
    `pantau pki` and `openssl genpkey -algorithm ed25519` write), None for any other DER."""
    if len(der) == 48 and der.startswith(PRIVATE_DER_PREFIX):
        return der[16:]
    return None


def public_raw_of(der: bytes) -> bytes | None:
    """The 32 raw bytes of a public key in the usual form (SubjectPublicKeyInfo), else None."""
    if len(der) == 44 and der.startswith(PUBLIC_DER_PREFIX):
        return der[12:]
    return None


def read_private_der(path: str | Path) -> bytes:
    """The DER inside a private key file only its owner can read. Raises SigningKeyError, one
    line: missing, unreadable, readable by others, or not PEM."""
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
    return unpem(data, PRIVATE_LABEL, f"{path}")


def pem(label: str, der: bytes) -> bytes:
    body = base64.encodebytes(der).decode("ascii")  # 76-column lines, each ending in \n
    return f"-----BEGIN {label}-----\n{body}-----END {label}-----\n".encode("ascii")


def unpem(data: bytes, label: str, where: str) -> bytes:
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


def write_atomically(path: Path, data: bytes, mode: int, sync: bool = True) -> None:
    """Written to a new file, then renamed: never a moment when others could read a key.
    `sync=False` skips the fsync for files that can be made again (an issued bundle)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if sync:
                os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
