"""The agent's signing key: Ed25519 through libsodium (PyNaCl), not `cryptography`.

`cryptography` is one Rust extension with its own OpenSSL linked in: importing even only its
Ed25519 class maps and initialises all of it, 7 to 12 MB of RSS on an agent that otherwise needs
about 30. libsodium's binding costs about 1 MB, and about half of that is PyNaCl's Python layer
(every binding of libsodium, boxes, password hashing, encodings) for the two calls made here; so
the key calls libsodium through the binding's own compiled module (`nacl._sodium`) as that
layer does (nacl/bindings/crypto_sign.py), for about 0.5 MB. Ed25519 is deterministic
(RFC 8032), so this key signs the same bytes as the collector's `cryptography` would with the
same key, and the collector checks them with it (collector/archive/signing.py); the chain and the key
files' form are shared (shared/signing_format.py).
"""

from __future__ import annotations

from pathlib import Path

from nacl._sodium import ffi, lib

from pantau.shared.signing_format import (
    SIGNATURE_BYTES,
    SigningKeyError,
    chain_hash,
    key_id_of_raw,
    private_seed,
    read_private_der,
)

SEED_BYTES, PUBLIC_BYTES, SECRET_BYTES = 32, 32, 64  # Ed25519, as libsodium lays it out
if lib.sodium_init() == -1:  # picks this CPU's implementations; later calls are no-ops
    raise RuntimeError("libsodium could not start")
if (
    lib.crypto_sign_bytes(),
    lib.crypto_sign_publickeybytes(),
    lib.crypto_sign_secretkeybytes(),
) != (SIGNATURE_BYTES, PUBLIC_BYTES, SECRET_BYTES):
    raise RuntimeError("libsodium's Ed25519 sizes are not the ones this key is laid out for")


class AgentKey:
    """One point's private key: signs a message's chain value, names itself by key id."""

    __slots__ = ("_secret", "key_id", "public_raw")

    def __init__(self, seed: bytes) -> None:
        if len(seed) != SEED_BYTES:
            raise ValueError(f"an Ed25519 seed is {SEED_BYTES} bytes, not {len(seed)}")
        public = ffi.new("unsigned char[]", PUBLIC_BYTES)
        self._secret = ffi.new("unsigned char[]", SECRET_BYTES)  # seed and public key
        if lib.crypto_sign_seed_keypair(public, self._secret, seed) != 0:
            raise RuntimeError("libsodium could not make the key pair")
        self.public_raw = ffi.buffer(public, PUBLIC_BYTES)[:]
        self.key_id = key_id_of_raw(self.public_raw)

    def sign(self, data: bytes) -> bytes:
        """64 bytes over exactly `data` (libsodium's signed message starts with them)."""
        signed = ffi.new("unsigned char[]", SIGNATURE_BYTES + len(data))
        if lib.crypto_sign(signed, ffi.NULL, data, len(data), self._secret) != 0:
            raise RuntimeError("libsodium could not sign")
        return ffi.buffer(signed, SIGNATURE_BYTES)[:]

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
