"""The tamper-evident log for the ``ledger`` command: sign checkpoints, verify the whole
store against them, write proof bundles for reviewers (``infra.audit``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from infra.audit import AuditLog, Verification, signing_key
from services.application.context import Context

__all__ = ["Verification", "case_proof", "checkpoint", "consistency_proof", "verify"]


def checkpoint(ctx: Context) -> dict[str, Any]:
    """Add the events stored since the last checkpoint to the tree and sign its head
    (the development signing key is created on first use)."""
    return AuditLog(ctx.ledger.recorder, ctx.store, signing_key(create=True)).checkpoint()


def verify(
    ctx: Context, public_key: str | None, expect: Sequence[tuple[int, str]] = ()
) -> Verification:
    """Recompute the tree from every stored event and check every signed checkpoint;
    ``public_key`` pins the signer (no private key needed)."""
    key = None if public_key else signing_key()
    return AuditLog(ctx.ledger.recorder, ctx.store, key).verify(public_key, list(expect))


def case_proof(ctx: Context, case_id: UUID, checkpoint_seq: int | None = None) -> dict[str, Any]:
    return AuditLog(ctx.ledger.recorder, ctx.store).case_bundle(case_id, checkpoint_seq)


def consistency_proof(ctx: Context, first: int, second: int) -> dict[str, Any]:
    return AuditLog(ctx.ledger.recorder, ctx.store).consistency_bundle(first, second)
