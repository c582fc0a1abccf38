"""Merkle tree hashing as RFC 9162 (Certificate Transparency 2.0) defines it.

One tree per archived day: its head (size and root) goes into the signed checkpoint, so one
message can later be shown to belong to that day (an inclusion proof: about 22 hashes for a
day of 430 points at 10 s) without handing over the whole archive, and a day that grew can be
shown to extend what was checkpointed before (a consistency proof).

    leaf hash  = SHA-256(0x00 || data)
    node hash  = SHA-256(0x01 || left || right)
    MTH({})    = SHA-256()
    MTH(D[n])  = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two below n

The root of a whole day is computed streaming (`TreeBuilder`, memory O(log n)); proofs need
the day's leaf hashes (32 bytes each).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from pantau.shared.errors import PantauError

HASH_BYTES = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(PantauError):
    """An inclusion or consistency proof does not hold: the message says which check failed."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class TreeBuilder:
    """The root of a growing tree, leaf by leaf, keeping one hash per set bit of the size.

    Full subtrees are merged as soon as two of the same size meet; at the end the remaining
    ones are folded right to left, which is exactly MTH's split at the largest power of two."""

    def __init__(self) -> None:
        self._stack: list[bytes] = []  # roots of full subtrees, largest (leftmost) first
        self.size = 0

    def add(self, data: bytes) -> None:
        self.add_hash(leaf_hash(data))

    def add_hash(self, hashed: bytes) -> None:
        stack = self._stack
        size = self.size
        while size & 1:
            hashed = node_hash(stack.pop(), hashed)
            size >>= 1
        stack.append(hashed)
        self.size += 1

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        stack = self._stack
        hashed = stack[-1]
        for left in reversed(stack[:-1]):
            hashed = node_hash(left, hashed)
        return hashed


def root(leaves: Iterable[bytes]) -> bytes:
    """MTH of the leaves' data."""
    builder = TreeBuilder()
    for data in leaves:
        builder.add(data)
    return builder.root()


def root_of_hashes(hashes: Sequence[bytes], start: int = 0, end: int | None = None) -> bytes:
    """MTH of hashes[start:end] given as leaf hashes."""
    end = len(hashes) if end is None else end
    builder = TreeBuilder()
    for index in range(start, end):
        builder.add_hash(hashes[index])
    return builder.root()


def inclusion_proof(hashes: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(index, D[n]) of RFC 9162 2.1.3.1, from the tree's leaf hashes."""
    if not 0 <= index < len(hashes):
        raise ProofError(f"leaf {index} is not in a tree of {len(hashes)}")
    proof: list[bytes] = []
    start, end = 0, len(hashes)
    while end - start > 1:
        split = start + _largest_power_below(end - start)
        if index < split:
            proof.append(root_of_hashes(hashes, split, end))
            end = split
        else:
            proof.append(root_of_hashes(hashes, start, split))
            start = split
    proof.reverse()  # the path runs from the leaf up
    return proof


def root_from_inclusion_proof(
    index: int, size: int, hashed: bytes, proof: Sequence[bytes]
) -> bytes:
    """The root that `proof` leads to from leaf `index` (RFC 9162 2.1.3.2)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size}")
    _check_hashes([hashed, *proof])
    fn, sn, node = index, size - 1, hashed
    for sibling in proof:
        if sn == 0:
            raise ProofError(f"proof has {len(proof)} hashes: too many for leaf {index} of {size}")
        if fn & 1 or fn == sn:
            node = node_hash(sibling, node)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            node = node_hash(node, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"proof has {len(proof)} hashes: too few for leaf {index} of {size}")
    return node


def verify_inclusion(
    index: int, size: int, hashed: bytes, proof: Sequence[bytes], expected_root: bytes
) -> bool:
    try:
        return root_from_inclusion_proof(index, size, hashed, proof) == expected_root
    except ProofError:
        return False


def consistency_proof(hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 9162 2.1.4.1: the tree of `hashes` extends its first m leaves."""
    size = len(hashes)
    if not 0 <= old_size <= size:
        raise ProofError(f"a tree of {old_size} cannot be a prefix of a tree of {size}")
    if old_size in (0, size):
        return []
    proof: list[bytes] = []
    start, end, m, complete = 0, size, old_size, True
    while m != end - start:
        split = _largest_power_below(end - start)
        if m <= split:
            proof.append(root_of_hashes(hashes, start + split, end))
            end = start + split
        else:
            proof.append(root_of_hashes(hashes, start, start + split))
            start, m, complete = start + split, m - split, False
    if not complete:
        proof.append(root_of_hashes(hashes, start, end))
    proof.reverse()
    return proof


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2; a tree of 0 is consistent with any later one, equal sizes need equal
    roots, both with an empty proof."""
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return old_root == new_root and not proof
    if old_size == 0:
        return not proof
    if not proof or any(len(p) != HASH_BYTES for p in proof):
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # an exact power of two: the old root is a node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for hashed in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(hashed, fr)
            sr = node_hash(hashed, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, hashed)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


def _largest_power_below(n: int) -> int:
    """The largest power of two strictly below n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_hashes(hashes: Iterable[bytes]) -> None:
    for hashed in hashes:
        if len(hashed) != HASH_BYTES:
            raise ProofError(f"a hash of {len(hashed)} bytes, not {HASH_BYTES}")
