"""Standalone verifier of the ledger's proof bundles, for reviewers.

Needs only Python 3.11 and the ``cryptography`` package; it imports nothing of the
ledger, so a reviewer can read all of it and run it on their own machine:

    python verify_bundle.py case-proof.json --public-key 3b6a27bc...
    python verify_bundle.py consistency.json --public-key 3b6a27bc...

Pin the ledger's public key (``--public-key``, obtained from the ledger's operator out
of band): a bundle carries a key, but a hostile ledger could sign with its own.
Checks, following RFC 9162: every checkpoint's Ed25519 signature; every event's
inclusion proof against the checkpoint's root; a consistency proof between two
checkpoints. Exit code 0 only when everything holds.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


class Refused(Exception):
    """The bundle does not prove what it claims; the message says what failed."""


def _leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def checkpoint_note(cp: dict[str, Any]) -> bytes:
    """The signed text of a checkpoint: origin, size, root (base64), time, and the head
    of the ledger's access log (who read which case)."""
    root = base64.b64encode(bytes.fromhex(cp["root"])).decode()
    return (
        f"{cp['origin']}\ncheckpoint {cp['seq']}\nkey {cp['key']}\n"
        f"{cp['tree_size']}\n{root}\n{cp['at']}\n"
        f"access {cp['access_seq']} {cp['access_hash']}\n"
    ).encode()


def check_signature(cp: dict[str, Any], pinned: str | None) -> None:
    pinned = pinned.lower() if pinned else None
    key_hex = pinned or cp["key"]
    if pinned is not None and cp["key"] != pinned:
        raise Refused(f"checkpoint {cp['seq']} is signed by another key than the pinned one")
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(key_hex)).verify(
            bytes.fromhex(cp["signature"]), checkpoint_note(cp)
        )
    except (InvalidSignature, ValueError):
        raise Refused(f"checkpoint {cp['seq']}: the signature does not match") from None


def verify_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = _node(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: list[bytes]
) -> bool:
    """RFC 9162 section 2.1.4.2."""
    if first == second:
        return not proof and first_root == second_root
    if not 0 < first < second or not proof:
        return False
    if first & (first - 1) == 0:  # a power of two: the first tree is a subtree
        proof = [first_root, *proof]
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = _node(c, fr), _node(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = _node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_root and sr == second_root and sn == 0


def _index(entry: dict[str, Any], size: int) -> int:
    index = entry.get("index")
    if type(index) is not int or not 0 <= index < size:
        raise Refused(f"position {index!r} is not a position in a tree of {size}")
    return index


def verify_case_bundle(bundle: dict[str, Any], pinned: str | None) -> list[str]:
    cp = bundle["checkpoint"]
    check_signature(cp, pinned)
    size = cp["tree_size"]
    if type(size) is not int or size < 1:
        raise Refused(f"tree size {size!r} is not a positive integer")
    root, case_id = bytes.fromhex(cp["root"]), str(bundle["case_id"])
    entries = bundle["events"]
    if not entries:
        raise Refused("the bundle proves no event")
    indexes = [_index(e, size) for e in entries]
    if len(set(indexes)) != len(indexes):
        raise Refused("the bundle holds an event twice")
    lines = [
        f"checkpoint {cp['seq']} signed at {cp['at']}: {size} events, root {cp['root']}",
        f"case {case_id}:",
    ]
    versions = []
    for index, entry in zip(indexes, entries, strict=True):
        data = base64.b64decode(entry["leaf"])
        proof = [bytes.fromhex(p) for p in entry["proof"]]
        if not verify_inclusion(index, size, _leaf(data), proof, root):
            raise Refused(f"event at position {index} is not in checkpoint {cp['seq']}")
        event = json.loads(data)
        if event["originator_id"] != case_id:
            raise Refused(f"the event at position {index} belongs to case {event['originator_id']}")
        versions.append(event["originator_version"])
        state = json.loads(base64.b64decode(event["state"]))
        lines.append(
            f"  position {entry['index']}: {event['topic'].rsplit(':', 1)[-1]} "
            f"v{event['originator_version']} occurred {state.get('occurred_on')} "
            f"recorded {state.get('timestamp')}: included"
        )
    if sorted(versions) != list(range(1, len(versions) + 1)):
        raise Refused(f"the case's versions are not 1..{len(versions)} without gaps: {versions}")
    lines.append(
        f"versions 1..{len(versions)} proven; a later version in this checkpoint cannot be "
        "ruled out by a bundle (ask for a newer checkpoint's bundle)"
    )
    return lines


def verify_consistency_bundle(bundle: dict[str, Any], pinned: str | None) -> list[str]:
    first, second = bundle["first"], bundle["second"]
    check_signature(first, pinned)
    check_signature(second, pinned)
    proof = [bytes.fromhex(p) for p in bundle["proof"]]
    if not verify_consistency(
        int(first["tree_size"]), int(second["tree_size"]),
        bytes.fromhex(first["root"]), bytes.fromhex(second["root"]), proof,
    ):  # fmt: skip
        raise Refused(
            f"checkpoint {first['seq']} is not a prefix of checkpoint {second['seq']}: "
            "history was rewritten between them"
        )
    return [f"checkpoint {first['seq']} ({first['tree_size']} events) is a prefix of "
            f"checkpoint {second['seq']} ({second['tree_size']} events)"]  # fmt: skip


def verify(bundle: dict[str, Any], pinned: str | None) -> list[str]:
    kind = bundle.get("format")
    if kind == "reintegration-ledger/case-proof/1":
        return verify_case_bundle(bundle, pinned)
    if kind == "reintegration-ledger/consistency-proof/1":
        return verify_consistency_bundle(bundle, pinned)
    raise Refused(f"unknown bundle format {kind!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("bundle", help="a proof bundle (JSON) from `ledger proof`")
    pinning = parser.add_mutually_exclusive_group()  # both at once: which one was meant?
    pinning.add_argument("--public-key", help="the ledger's Ed25519 public key (hex): pin it")
    pinning.add_argument("--unpinned", action="store_true",
                        help="check the bundle under the key it carries; never says VERIFIED, "
                        "since anyone can sign with a key of their own (exit 3)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.public_key is None and not args.unpinned:
        print("REFUSED: no --public-key: pin the ledger's key (from its operator, out of band); "
              "--unpinned checks consistency only", file=sys.stderr)  # fmt: skip
        return 2
    try:
        with open(args.bundle, encoding="utf-8") as file:
            bundle = json.load(file)
        lines = verify(bundle, args.public_key)
    except (Refused, KeyError, ValueError, TypeError, OSError) as error:
        print(f"REFUSED: {error}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    if args.public_key is None:
        print("CONSISTENT under the bundle's own key, NOT VERIFIED: no key pinned")
        return 3
    print("VERIFIED")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
