"""The tamper-evident log for the ``ledger`` command: sign checkpoints, verify the whole
store against them, write proof bundles for reviewers (``infra.audit``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

from infra.audit import AuditLog, Verification, signing_key
from infra.witness import expected_roots, witness, witness_files
from services.application.context import Context

__all__ = ["Verification", "case_proof", "checkpoint", "consistency_proof", "verify"]


def checkpoint(ctx: Context, witnesses: Sequence[Path] = ()) -> dict[str, Any]:
    """Add the events stored since the last checkpoint to the tree and sign its head
    (the development signing key is created on first use); every witness file gets it."""
    signed = AuditLog(ctx.ledger.recorder, ctx.store, signing_key(create=True)).checkpoint()
    for path in witness_files(witnesses):
        witness(path, signed)
    return signed


def verify(
    ctx: Context,
    public_key: str | None,
    expect: Sequence[tuple[int, str]] = (),
    witnesses: Sequence[Path] = (),
) -> Verification:
    """Recompute the tree from every stored event and check every signed checkpoint;
    ``public_key`` pins the signer (no private key needed). Every checkpoint a witness
    holds must still be there; an intact store's latest checkpoint is witnessed, so the
    next verify notices if it goes."""
    key = None if public_key else signing_key()
    files = witness_files(witnesses)
    log = AuditLog(ctx.ledger.recorder, ctx.store, key)
    report = log.verify(public_key, [*expect, *expected_roots(files)])
    latest = log.checkpoints()[-1:] if report.intact else []
    for path in files:
        for seen in latest:
            witness(path, seen)
    return report


def case_proof(ctx: Context, case_id: UUID, checkpoint_seq: int | None = None) -> dict[str, Any]:
    return AuditLog(ctx.ledger.recorder, ctx.store).case_bundle(case_id, checkpoint_seq)


def consistency_proof(ctx: Context, first: int, second: int) -> dict[str, Any]:
    return AuditLog(ctx.ledger.recorder, ctx.store).consistency_bundle(first, second)
