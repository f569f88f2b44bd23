"""A Merkle tree over the event log in the style of RFC 9162 (Certificate Transparency
v2): leaf hash SHA-256(0x00 || leaf), node hash SHA-256(0x01 || left || right), the
tree over n leaves split at the largest power of two below n.

Proof generation is here; verification is written again, independently, in the
standalone verifier (``services/verify_bundle.py``), which imports nothing of ours.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def root(leaves: Sequence[bytes]) -> bytes:
    """The tree head over leaf hashes (MTH); the hash of nothing for an empty tree."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    level = list(leaves)
    # Build bottom-up, carrying an odd node up unchanged: the same tree as RFC 9162's
    # recursive definition, in linear time.
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree over ``leaves`` (RFC 9162 2.1.3.1)."""
    n = len(leaves)
    if not 0 <= index < n:
        raise ValueError(f"leaf {index} is not in a tree of {n}")
    if n == 1:
        return []
    k = _split(n)
    if index < k:
        return [*inclusion_proof(index, leaves[:k]), root(leaves[k:])]
    return [*inclusion_proof(index - k, leaves[k:]), root(leaves[:k])]


def consistency_proof(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """Proof that the tree over the first ``m`` leaves is a prefix of the tree over all
    of ``leaves`` (RFC 9162 2.1.4.1)."""
    n = len(leaves)
    if not 0 < m <= n:
        raise ValueError(f"a tree of {m} cannot be a prefix of a tree of {n}")
    return _subproof(m, leaves, complete=True)


def _subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [root(leaves)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, leaves[:k], complete), root(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), root(leaves[:k])]


Frontier = list[tuple[int, bytes]]  # the roots of the perfect subtrees, largest first


def extend(frontier: Frontier, leaves: Sequence[bytes]) -> Frontier:
    """Add leaves to a tree's right edge (RFC 9162's "compact range"): a tree of n
    leaves is one perfect subtree per set bit of n, so adding costs O(log n) each."""
    edge = list(frontier)
    for leaf in leaves:
        edge.append((1, leaf))
        while len(edge) > 1 and edge[-1][0] == edge[-2][0]:
            (size, left), (_, right) = edge[-2], edge[-1]
            edge[-2:] = [(size * 2, node_hash(left, right))]
    return edge


def frontier_root(frontier: Frontier) -> bytes:
    """The tree head from its right edge: the same as ``root`` over all the leaves."""
    if not frontier:
        return hashlib.sha256(b"").digest()
    head = frontier[-1][1]
    for _, subtree in reversed(frontier[:-1]):
        head = node_hash(subtree, head)
    return head
