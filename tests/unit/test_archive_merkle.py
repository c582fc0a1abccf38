"""RFC 9162 Merkle hashing against the Certificate Transparency reference vectors (RFC 6962's
test data, as the CT implementations carry it), then against the RFC's recursive definition for
every size up to 70 and every proof in them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest

from pantau.collector.archive import merkle
from pantau.collector.archive.merkle import ProofError

# The eight leaves of the CT reference tree, and MTH of the first n of them (n = 0..8).
LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (leaf index, tree size, audit path)
INCLUSION = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
# (old size, new size, consistency proof)
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def hexes(hashes: list[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


def reference_mth(leaves: list[bytes]) -> bytes:
    """MTH exactly as RFC 9162 section 2.1.1 writes it, recursively."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + reference_mth(leaves[:k]) + reference_mth(leaves[k:])).digest()


def test_leaf_and_node_hashes_are_prefixed() -> None:
    assert merkle.leaf_hash(b"").hex() == ROOTS[1]
    assert merkle.leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert (
        merkle.node_hash(b"a" * 32, b"b" * 32)
        == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    )
    assert merkle.EMPTY_ROOT.hex() == ROOTS[0]


@pytest.mark.parametrize("size", range(9))
def test_tree_heads_are_the_reference_ones(size: int) -> None:
    assert merkle.root(LEAVES[:size]).hex() == ROOTS[size]
    hashes = [merkle.leaf_hash(d) for d in LEAVES[:size]]
    assert merkle.root_of_hashes(hashes).hex() == ROOTS[size]
    builder = merkle.TreeBuilder()
    for data in LEAVES[:size]:
        builder.add(data)
    assert (builder.size, builder.root().hex()) == (size, ROOTS[size])


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_proofs_are_the_reference_ones(index: int, size: int, path: list[str]) -> None:
    hashes = [merkle.leaf_hash(d) for d in LEAVES[:size]]
    assert hexes(merkle.inclusion_proof(hashes, index)) == path
    proof = [bytes.fromhex(h) for h in path]
    root = bytes.fromhex(ROOTS[size])
    assert merkle.root_from_inclusion_proof(index, size, hashes[index], proof) == root
    assert merkle.verify_inclusion(index, size, hashes[index], proof, root) is True


@pytest.mark.parametrize(("old", "new", "path"), CONSISTENCY)
def test_consistency_proofs_are_the_reference_ones(old: int, new: int, path: list[str]) -> None:
    hashes = [merkle.leaf_hash(d) for d in LEAVES[:new]]
    assert hexes(merkle.consistency_proof(hashes, old)) == path
    proof = [bytes.fromhex(h) for h in path]
    old_root, new_root = bytes.fromhex(ROOTS[old]), bytes.fromhex(ROOTS[new])
    assert merkle.verify_consistency(old, new, old_root, new_root, proof) is True


Probe = tuple[int, int, list[bytes], bytes, bytes]


def corrupted_inclusion(
    index: int, size: int, proof: list[bytes], root: bytes, leaf: bytes
) -> Iterator[Probe]:
    """The probes the CT verifier tests use: each must fail."""
    yield index - 1, size, proof, root, leaf
    yield index + 1, size, proof, root, leaf
    yield index ^ 2, size, proof, root, leaf
    yield index, size * 2, proof, root, leaf
    yield index, size // 2, proof, root, leaf
    yield index, size, proof, root, merkle.leaf_hash(b"WrongLeaf")
    yield index, size, proof, merkle.EMPTY_ROOT, leaf
    yield index, size, proof, SOME_HASH, leaf
    yield index, size, [*proof, b""], root, leaf
    yield index, size, [*proof, root], root, leaf
    yield index, size, [b"", *proof], root, leaf
    yield index, size, [root, *proof], root, leaf
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = bytes([wrong[i][0] ^ 8]) + wrong[i][1:]
        yield index, size, wrong, root, leaf
    if proof:
        yield index, size, proof[:-1], root, leaf
    if len(proof) > 1:
        yield index, size, [proof[0], SOME_HASH, *proof[1:]], root, leaf


def corrupted_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> Iterator[tuple[int, int, bytes, bytes, list[bytes]]]:
    yield old - 1, new, old_root, new_root, proof
    yield old + 1, new, old_root, new_root, proof
    yield old ^ 2, new, old_root, new_root, proof
    yield old, new * 2, old_root, new_root, proof
    yield old, new // 2, old_root, new_root, proof
    yield old, new, SOME_HASH, new_root, proof
    yield old, new, old_root, SOME_HASH, proof
    yield old, new, new_root, old_root, proof
    yield old, new, old_root, new_root, []
    yield old, new, old_root, new_root, [*proof, b""]
    yield old, new, old_root, new_root, [*proof, old_root]
    yield old, new, old_root, new_root, [*proof, new_root]
    yield old, new, old_root, new_root, [b"", *proof]
    yield old, new, old_root, new_root, [old_root, *proof]
    yield old, new, old_root, new_root, [new_root, *proof]
    yield old, new, old_root, new_root, [proof[0], *proof]
    yield old, new, old_root, new_root, proof[:-1]
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = bytes([wrong[i][0] ^ 16]) + wrong[i][1:]
        yield old, new, old_root, new_root, wrong


@pytest.mark.parametrize("size", [*range(1, 71), 1024])
def test_every_inclusion_proof_holds_and_no_corruption_of_it_does(size: int) -> None:
    data = [f"message {i}".encode() for i in range(size)]
    hashes = [merkle.leaf_hash(d) for d in data]
    root = merkle.root_of_hashes(hashes)
    if size <= 70:
        assert root == reference_mth(data)
    for index in range(size) if size <= 70 else (0, 1, 511, 512, 1023):
        proof = merkle.inclusion_proof(hashes, index)
        assert merkle.verify_inclusion(index, size, hashes[index], proof, root) is True
        for probe in corrupted_inclusion(index, size, proof, root, hashes[index]):
            assert merkle.verify_inclusion(*probe[:2], probe[4], probe[2], probe[3]) is False


def test_every_consistency_proof_holds_and_no_corruption_of_it_does() -> None:
    size = 40
    hashes = [merkle.leaf_hash(f"m{i}".encode()) for i in range(size)]
    roots = [merkle.root_of_hashes(hashes, 0, n) for n in range(size + 1)]
    for new in range(size + 1):
        for old in range(new + 1):
            proof = merkle.consistency_proof(hashes[:new], old)
            assert merkle.verify_consistency(old, new, roots[old], roots[new], proof) is True
            if proof:
                for probe in corrupted_consistency(old, new, roots[old], roots[new], proof):
                    assert merkle.verify_consistency(*probe) is False


@pytest.mark.parametrize(
    ("old", "new", "old_root", "new_root", "proof", "holds"),
    [
        (0, 0, b"r1", b"r2", [], False),
        (1, 1, b"r1", b"r2", [], False),
        (0, 0, b"r1", b"r1", [], True),  # always consistent
        (0, 1, b"r1", b"r2", [], True),
        (1, 1, b"r2", b"r2", [], True),
        (1, 0, b"r1", b"r2", [], False),  # back in time
        (2, 1, b"r1", b"r2", [], False),
        (1, 2, b"r1", b"r2", [], False),  # empty proof
        (0, 0, merkle.EMPTY_ROOT, b"r2", [], False),
        (1, 1, merkle.EMPTY_ROOT, b"r2", [], False),
        (0, 0, merkle.EMPTY_ROOT, merkle.EMPTY_ROOT, [merkle.EMPTY_ROOT], False),
        (0, 1, merkle.EMPTY_ROOT, merkle.EMPTY_ROOT, [merkle.EMPTY_ROOT], False),
        (1, 1, merkle.EMPTY_ROOT, merkle.EMPTY_ROOT, [merkle.EMPTY_ROOT], False),
    ],
)
def test_consistency_edge_cases(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes], holds: bool
) -> None:
    assert merkle.verify_consistency(old, new, old_root, new_root, proof) is holds


@pytest.mark.parametrize(("index", "size"), [(0, 0), (0, 1), (1, 0), (2, 1)])
def test_an_empty_proof_of_a_leaf_outside_the_tree_fails(index: int, size: int) -> None:
    for root, leaf in ((b"", SOME_HASH), (merkle.EMPTY_ROOT, b""), (merkle.EMPTY_ROOT, SOME_HASH)):
        assert merkle.verify_inclusion(index, size, leaf, [], root) is False


def test_a_one_leaf_tree_is_its_leaf() -> None:
    hashed = merkle.leaf_hash(b"data")
    assert merkle.verify_inclusion(0, 1, hashed, [], hashed) is True
    assert merkle.verify_inclusion(0, 1, b"", [], hashed) is False
    assert merkle.verify_inclusion(0, 1, hashed, [], b"") is False


def test_proof_errors_say_what_is_wrong() -> None:
    hashes = [merkle.leaf_hash(d) for d in LEAVES]
    with pytest.raises(ProofError, match=r"^leaf 8 is not in a tree of 8$"):
        merkle.inclusion_proof(hashes, 8)
    proof = merkle.inclusion_proof(hashes, 5)
    with pytest.raises(ProofError, match=r"^proof has 2 hashes: too few for leaf 5 of 8$"):
        merkle.root_from_inclusion_proof(5, 8, hashes[5], proof[:2])
    with pytest.raises(ProofError, match=r"^proof has 4 hashes: too many for leaf 5 of 8$"):
        merkle.root_from_inclusion_proof(5, 8, hashes[5], [*proof, SOME_HASH])
    with pytest.raises(ProofError, match=r"^a hash of 31 bytes, not 32$"):
        merkle.root_from_inclusion_proof(5, 8, hashes[5], [proof[0][:31], *proof[1:]])
    with pytest.raises(ProofError, match=r"^a tree of 9 cannot be a prefix of a tree of 8$"):
        merkle.consistency_proof(hashes, 9)
