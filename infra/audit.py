"""The verifiable log: a Merkle tree over every stored event in store order, signed
checkpoints, proofs, and a verifier that names the first thing that changed.

A leaf is the stored event's full content (ids, topic and the stored state, which
holds ``recorded_at``), so no part of an event can change unseen. Leaf hashes are
kept in ``audit_leaf`` (to say *what* changed) and each checkpoint's signed root in
``audit_checkpoint`` (to prove *that* it changed, even if ``audit_leaf`` is rewritten
too). The signing key is ``LEDGER_SIGNING_KEY`` (hex Ed25519 seed) or, for
development, a key created once in ``LEDGER_SIGNING_KEY_FILE`` (``.ledger-signing.key``).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eventsourcing.persistence import ApplicationRecorder, IntegrityError, Notification

from domain.events import ERASED_TOPIC, REPORT_TOPIC
from domain.merkle import (
    Frontier,
    consistency_proof,
    extend,
    frontier_root,
    inclusion_proof,
    leaf_hash,
)
from infra.log_consumer import NotificationLog
from infra.readmodel import ReadModelStore, Table
from infra.service_tables import access_head, verify_access_chain

ORIGIN = "reintegration-ledger"
AUDIT_LEAF = Table(
    name="audit_leaf",
    columns=(("position", "integer"), ("notification_id", "integer"), ("leaf_hash", "text")),
    key=("position",),
)
AUDIT_CHECKPOINT = Table(
    name="audit_checkpoint",
    columns=(
        ("seq", "integer"),
        ("origin", "text"),
        ("tree_size", "integer"),
        ("root", "text"),
        ("at", "text"),
        ("signature", "text"),
        ("key", "text"),
        ("access_seq", "integer"),
        ("access_hash", "text"),
    ),
    key=("seq",),
    # v2 signed the access-log head; v3 also signs seq and key (a new note: the tree
    # and its checkpoints start afresh on upgrade)
    version=3,
)


class MissingKeyError(LookupError):
    pass


class CheckpointClashError(RuntimeError):
    pass


def signing_key(*, create: bool = False) -> Ed25519PrivateKey:
    """The signing key. Only ``ledger checkpoint`` may create a development key file: a
    verifier that made itself a new key would call every checkpoint forged."""
    seed = os.environ.get("LEDGER_SIGNING_KEY")
    if not seed:
        path = Path(os.environ.get("LEDGER_SIGNING_KEY_FILE", ".ledger-signing.key"))
        if not path.exists():
            if not create:
                raise MissingKeyError(
                    f"no signing key: set LEDGER_SIGNING_KEY, or LEDGER_SIGNING_KEY_FILE "
                    f"(looked for {path}); to verify, pass --public-key"
                )
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        seed = path.read_text().strip()
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed))


def public_hex(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def leaf_bytes(notification: Notification) -> bytes:
    """The canonical content of one stored event."""
    return json.dumps(
        {
            "originator_id": str(notification.originator_id),
            "originator_version": notification.originator_version,
            "topic": notification.topic,
            "state": base64.b64encode(notification.state).decode(),
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()


def note(checkpoint: dict[str, Any]) -> bytes:
    """The signed text of a checkpoint (as ``services/verify_bundle.py`` rebuilds it)."""
    root_b64 = base64.b64encode(bytes.fromhex(checkpoint["root"])).decode()
    return (
        f"{checkpoint['origin']}\ncheckpoint {checkpoint['seq']}\nkey {checkpoint['key']}\n"
        f"{checkpoint['tree_size']}\n{root_b64}\n{checkpoint['at']}\n"
        f"access {checkpoint['access_seq']} {checkpoint['access_hash']}\n"
    ).encode()


@dataclass
class Verification:
    events: int
    checkpoints: int
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


class AuditLog:
    def __init__(
        self,
        recorder: ApplicationRecorder,
        store: ReadModelStore,
        key: Ed25519PrivateKey | None = None,
    ) -> None:
        self.recorder, self.store, self.key = recorder, store, key
        self._frontier: tuple[int, Frontier] = (-1, [])

    # --- building ---------------------------------------------------------------

    def _stored(self, after: int | None = None) -> list[Notification]:
        """Every stored event after ``after`` (all of them, whatever their ids, when None:
        a row forged below the first id must not escape the verifier)."""
        found: list[Notification] = []
        for page in NotificationLog(self.recorder).notifications(after):
            found.extend(page)
        return found

    def leaves(self) -> list[dict[str, Any]]:
        return self.store.query("SELECT * FROM {audit_leaf} ORDER BY position")

    def _last_leaf(self) -> dict[str, Any] | None:
        rows = self.store.query("SELECT * FROM {audit_leaf} ORDER BY position DESC LIMIT 1")
        return rows[0] if rows else None

    def append_leaves(self) -> list[bytes]:
        """Add the events stored since the last leaf; their leaf hashes."""
        last = self._last_leaf()
        size = last["position"] + 1 if last else 0
        new = self._stored(last["notification_id"] if last else None)
        hashes = [leaf_hash(leaf_bytes(n)) for n in new]
        self.store.write_many(
            "INSERT INTO {audit_leaf} (position, notification_id, leaf_hash) VALUES (?, ?, ?)",
            [(size + i, n.id, h.hex()) for i, (n, h) in enumerate(zip(new, hashes, strict=True))],
        )
        return hashes

    def _edge(self, size: int) -> Frontier:
        """The tree's right edge over the first ``size`` leaves (kept between checkpoints,
        so a checkpoint costs only its new events)."""
        cached_size, edge = self._frontier
        if cached_size != size:
            edge = extend([], [bytes.fromhex(r["leaf_hash"]) for r in self.leaves()[:size]])
        return edge

    def checkpoint(self) -> dict[str, Any]:
        """Add the new events to the tree and sign its head."""
        if self.key is None:
            raise MissingKeyError("a checkpoint needs the signing key (LEDGER_SIGNING_KEY)")
        try:
            return self._checkpoint(self.key)
        except IntegrityError:
            self._frontier = (-1, [])
            raise CheckpointClashError(
                "another `ledger checkpoint` ran at the same moment; nothing was signed "
                "twice: run it again"
            ) from None

    def _checkpoint(self, key: Ed25519PrivateKey) -> dict[str, Any]:
        last = self._last_leaf()
        before = last["position"] + 1 if last else 0
        edge = self._edge(before)
        new = self.append_leaves()
        edge = extend(edge, new)
        self._frontier = (before + len(new), edge)
        previous = self.checkpoints()
        cp = {
            "seq": previous[-1]["seq"] + 1 if previous else 1,
            "origin": ORIGIN,
            "tree_size": before + len(new),
            "root": frontier_root(edge).hex(),
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "key": public_hex(key),
        }
        cp["access_seq"], cp["access_hash"] = access_head(self.store)
        cp["signature"] = key.sign(note(cp)).hex()
        columns = ("seq", "origin", "tree_size", "root", "at", "signature", "key",
                   "access_seq", "access_hash")  # fmt: skip
        self.store.write(
            f"INSERT INTO {{audit_checkpoint}} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)})",
            [cp[c] for c in columns],
        )
        return cp

    def checkpoints(self) -> list[dict[str, Any]]:
        return self.store.query("SELECT * FROM {audit_checkpoint} ORDER BY seq")

    def checkpoint_no(self, seq: int | None) -> dict[str, Any]:
        found = self.checkpoints()
        chosen = [c for c in found if seq is None or c["seq"] == seq]
        if not chosen:
            raise LookupError(f"no checkpoint {seq}; make one with `ledger checkpoint`")
        return chosen[-1]

    # --- proofs -----------------------------------------------------------------

    def case_bundle(self, case_id: UUID, seq: int | None = None) -> dict[str, Any]:
        cp = self.checkpoint_no(seq)
        size = int(cp["tree_size"])
        hashes = [bytes.fromhex(r["leaf_hash"]) for r in self.leaves()[:size]]
        stored = self._stored()[:size]
        events = [
            {
                "index": index,
                "leaf": base64.b64encode(leaf_bytes(n)).decode(),
                "proof": [p.hex() for p in inclusion_proof(index, hashes)],
            }
            for index, n in enumerate(stored)
            if n.originator_id == case_id
        ]
        if not events:
            raise LookupError(f"case {case_id} has no events in checkpoint {cp['seq']}")
        return {
            "format": "reintegration-ledger/case-proof/1",
            "case_id": str(case_id),
            "checkpoint": cp,
            "events": events,
        }

    def consistency_bundle(self, first: int, second: int) -> dict[str, Any]:
        a, b = self.checkpoint_no(first), self.checkpoint_no(second)
        hashes = [bytes.fromhex(r["leaf_hash"]) for r in self.leaves()[: int(b["tree_size"])]]
        proof = consistency_proof(int(a["tree_size"]), hashes)
        return {
            "format": "reintegration-ledger/consistency-proof/1",
            "first": a,
            "second": b,
            "proof": [p.hex() for p in proof],
        }

    # --- verification -----------------------------------------------------------

    def verify(
        self, public_key: str | None = None, expect: Sequence[tuple[int, str]] = ()
    ) -> Verification:
        """Recompute the tree from the stored events; check every leaf and checkpoint.

        ``public_key`` pins the signer (default: the configured key's); ``expect`` holds
        (seq, root) pairs published outside the ledger, which must still be there."""
        key = (public_key or (public_hex(self.key) if self.key else "")).lower() or None
        if key is None:
            raise MissingKeyError("no key to check signatures against: pass --public-key")
        notifications = self._stored()
        stored = [leaf_hash(leaf_bytes(n)) for n in notifications]
        recorded = [bytes.fromhex(r["leaf_hash"]) for r in self.leaves()]
        checkpoints = self.checkpoints()
        report = Verification(len(stored), len(checkpoints))
        report.problems.extend(
            f"position {i}: inserted: a row with notification id {n.id} (ids start at 1)"
            for i, n in enumerate(notifications) if n.id <= 0
        )  # fmt: skip
        roots = _check_roots(checkpoints, stored)
        first_bad = next(
            (i for i, (s, r) in enumerate(zip(stored, recorded, strict=False)) if s != r), None
        )
        signed = max((int(c["tree_size"]) for c in checkpoints), default=0)
        if first_bad is not None and not roots and first_bad < signed:
            report.problems.append(
                f"audit_leaf row {first_bad} changed (the events match every signed root)"
            )
        elif first_bad is not None:
            report.problems.append(_diagnose(first_bad, stored, recorded))
        elif len(stored) < len(recorded):
            report.problems.append(
                f"position {len(stored)}: missing: the log ends {len(recorded) - len(stored)} "
                "event(s) early (rows deleted at the end)"
            )
        report.problems.extend(p for cp in checkpoints for p in _check_signature(cp, key))
        report.problems.extend(roots)
        report.problems.extend(_check_sequence(checkpoints, len(recorded), expect))
        report.problems.extend(verify_access_chain(self.store))
        report.problems.extend(self._check_access_heads(checkpoints))
        report.problems.extend(self._check_file_keys(notifications))
        return report

    def _check_file_keys(self, notifications: Sequence[Notification]) -> list[str]:
        """A file's keys are destroyed only by an erasure, which records PersonalDataErased
        first: keys gone without that event are a deletion someone hid."""
        erased = {n.originator_id for n in notifications if n.topic == ERASED_TOPIC}
        keyed = {
            str(r["case_id"])
            for r in self.store.query("SELECT case_id FROM {file_key} WHERE personal IS NOT NULL")
        }
        return [
            f"case {n.originator_id}: its keys are gone but no PersonalDataErased event "
            "records an erasure (key row deleted or emptied)"
            for n in notifications
            if n.topic == REPORT_TOPIC
            and n.originator_id not in erased
            and str(n.originator_id) not in keyed
            and _sealed_report(n)
        ]

    def _check_access_heads(self, checkpoints: Sequence[dict[str, Any]]) -> list[str]:
        """Each checkpoint signed the access log's head: it must still be there."""
        for cp in checkpoints:
            if not cp["access_seq"]:
                continue
            rows = self.store.query(
                "SELECT hash FROM {case_access} WHERE seq = ?", [cp["access_seq"]]
            )
            if not rows or rows[0]["hash"] != cp["access_hash"]:
                return [f"access log: record {cp['access_seq']}, signed in checkpoint "
                        f"{cp['seq']}, is missing or changed"]  # fmt: skip
        return []




def _sealed_report(notification: Notification) -> bool:
    """Whether the report was stored sealed, under file keys (issue 9 on); older reports
    are plain text and never had keys."""
    try:
        state = json.loads(notification.state)
    except ValueError:
        return False
    return isinstance(state, dict) and state.get("subject_id") is not None


def _check_signature(cp: dict[str, Any], key: str) -> list[str]:
    try:
        if cp["key"] != key:  # the pinned key, not whichever key the row names
            raise InvalidSignature
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(key)).verify(
            bytes.fromhex(cp["signature"]), note(cp)
        )
    except (InvalidSignature, ValueError):
        return [f"checkpoint {cp['seq']}: signature invalid (checkpoint rewritten)"]
    return []


def _check_sequence(
    checkpoints: Sequence[dict[str, Any]], leaves: int, expect: Sequence[tuple[int, str]]
) -> list[str]:
    """Checkpoints are numbered 1, 2, ... without gaps; leaves imply at least one; and
    checkpoints published outside the ledger must still be there, unchanged."""
    problems = []
    seqs = [int(c["seq"]) for c in checkpoints]
    missing = sorted(set(range(1, max(seqs, default=0) + 1)) - set(seqs))
    if missing:
        problems.append(f"checkpoint(s) {', '.join(map(str, missing))} deleted")
    if leaves and not checkpoints:
        problems.append("no checkpoint, yet the log has leaves: checkpoints were deleted")
    roots = {int(c["seq"]): c["root"] for c in checkpoints}
    for seq, expected in expect:
        if roots.get(seq) != expected:
            problems.append(
                f"checkpoint {seq}: not the one published (root {expected[:16]}...): "
                + ("deleted" if seq not in roots else f"now {roots[seq][:16]}...")
            )
    return problems


def _check_roots(checkpoints: Sequence[dict[str, Any]], stored: Sequence[bytes]) -> list[str]:
    """Each checkpoint's root against the stored events, in one pass over the tree's
    right edge (smallest checkpoint first)."""
    problems: list[str] = []
    edge: Frontier = []
    done = 0
    for cp in sorted(checkpoints, key=lambda c: int(c["tree_size"])):
        size = int(cp["tree_size"])
        if size > len(stored):
            problems.append(f"checkpoint {cp['seq']}: covers {size} events, the store has "
                            f"{len(stored)}")  # fmt: skip
            continue
        edge, done = extend(edge, stored[done:size]), size
        if frontier_root(edge).hex() != cp["root"]:
            problems.append(f"checkpoint {cp['seq']}: the stored events do not give its root "
                            "(history rewritten before it)")  # fmt: skip
    return problems


def _diagnose(i: int, stored: Sequence[bytes], recorded: Sequence[bytes]) -> str:
    """What the first difference looks like: modified, missing, inserted or reordered."""

    def at(seq: Sequence[bytes], j: int) -> bytes | None:
        return seq[j] if 0 <= j < len(seq) else None

    if at(stored, i) == at(recorded, i + 1) and at(stored, i + 1) == at(recorded, i):
        kind = "reordered: events at this position and the next have swapped places"
    elif at(stored, i) == at(recorded, i + 1):
        kind = "missing: the event recorded here was removed"
    elif at(stored, i + 1) == at(recorded, i):
        kind = "inserted: an event that was never recorded stands here"
    else:
        kind = "modified: the stored event differs from what was recorded"
    return f"position {i}: {kind}"
