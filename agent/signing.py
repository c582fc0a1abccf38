"""The agent's signing key: Ed25519 through libsodium (PyNaCl), not `cryptography`.

`cryptography` is one Rust extension with its own OpenSSL linked in: importing even only its
Ed25519 class maps and initialises all of it, 7 to 12 MB of RSS on an agent that otherwise needs
about 30. libsodium's binding costs about 1 MB. Ed25519 is deterministic (RFC 8032), so this
key signs the same bytes as the collector's `cryptography` would with the same key, and the
collector checks them with it (shared/signing.py); the chain and the key files' form are
shared (shared/signing_format.py).
"""

from __future__ import annotations

from pathlib import Path

from nacl.signing import SigningKey

from pantau.shared.signing_format import (
    SIGNATURE_BYTES,
    SigningKeyError,
    chain_hash,
    key_id_of_raw,
    private_seed,
    read_private_der,
)


class AgentKey:
    """One point's private key: signs a message's chain value, names itself by key id."""

    __slots__ = ("_key", "key_id", "public_raw")

    def __init__(self, seed: bytes) -> None:
        self._key = SigningKey(seed)
        self.public_raw = bytes(self._key.verify_key)
        self.key_id = key_id_of_raw(self.public_raw)

    def sign(self, data: bytes) -> bytes:
        """64 bytes over exactly `data`."""
        signature = self._key.sign(data).signature
        assert len(signature) == SIGNATURE_BYTES
        return signature

    def seal(self, prev: bytes, payload: bytes) -> tuple[bytes, bytes]:
        """(the chain value after `payload`, the signature over it)."""
        new_hash = chain_hash(prev, payload)
        return new_hash, self.sign(new_hash)

    def __repr__(self) -> str:
        return f"AgentKey({self.key_id})"  # never the seed


def load_key(path: str | Path) -> AgentKey:
    """Read a private key only its owner can read, in the form `pantau pki issue` and
    `openssl genpkey -algorithm ed25519` write (PKCS#8 v1, RFC 8410). Raises SigningKeyError,
    one line; any other form is refused by name rather than half-read."""
    der = read_private_der(path)
    seed = private_seed(der)
    if seed is None:
        raise SigningKeyError(
            f"{path}: not an unencrypted Ed25519 PKCS#8 private key (the form `pantau pki"
            " issue` and `openssl genpkey -algorithm ed25519` write)"
        )
    return AgentKey(seed)
