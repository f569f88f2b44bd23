"""Commands sent with an idempotency key run once: a retry gets the first outcome.

The outcome is the caller's own ``(code, body)`` (an HTTP status and its JSON, say); this
layer stores and replays it without reading it. A key is owned by the whole identity of
the caller, so a token for other employers never replays another's result.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from domain.access import Principal
from infra.service_tables import PENDING, reclaim, release, reserve, store_result, stored_result
from services.application.context import Context
from services.application.errors import IdempotencyKeyReused, Issue, RequestInProgress

IDEMPOTENCY_NAMESPACE = uuid5(NAMESPACE_URL, "https://ledger.example/idempotency")
Outcome = tuple[int, dict[str, Any]]


@dataclass(frozen=True)
class Once:
    code: int
    body: dict[str, Any]
    replayed: bool


def derived_id(principal: Principal, key: str | None, purpose: str) -> UUID:
    """The same id for every retry of one keyed request; a fresh one without a key."""
    if key is None:
        return uuid4()
    return uuid5(IDEMPOTENCY_NAMESPACE, f"{principal.subject}\n{key}\n{purpose}")


def fingerprint(ctx: Context, *parts: Any) -> str:
    """A keyed digest of a request: it tells a retry from another request, and, unlike a
    plain hash, nobody can test guesses of the body (an employee id, a note) against it."""
    text = json.dumps(parts, sort_keys=True, default=str)
    if ctx.ledger.keys is not None:
        return ctx.ledger.keys.digest(text)
    return hashlib.sha256(text.encode()).hexdigest()


def key_owner(principal: Principal) -> str:
    employers = "*" if principal.employers is None else ",".join(sorted(principal.employers))
    return f"{principal.subject}|{principal.role.value}|{employers}"


def once(
    ctx: Context,
    principal: Principal,
    key: str | None,
    digest: str,
    command: Callable[[], Outcome],
    *,
    abandoned_after: float,
) -> Once:
    """Run ``command`` once per key; the same key for another request is refused. A claim
    left by a server that died (older than ``abandoned_after`` seconds) is taken over."""
    if key is None:
        return Once(*command(), replayed=False)
    owner = key_owner(principal)
    if not reserve(ctx.store, owner, key, digest):  # someone came first
        first = stored_result(ctx.store, owner, key)
        if first is None or first.request_hash != digest:
            raise IdempotencyKeyReused(
                f"the key {key!r} was first used with a different request; use a new key",
                [Issue("Idempotency-Key", "reused for another request")],
            )
        if first.status == PENDING and reclaim(ctx.store, owner, key, digest, abandoned_after):
            return _run_once(ctx, owner, key, digest, command)
        if first.status == PENDING:
            raise RequestInProgress(
                f"a request with Idempotency-Key {key!r} is in progress; retry shortly"
            )
        return Once(first.status, first.body, replayed=True)
    return _run_once(ctx, owner, key, digest, command)


def once_per_request(
    ctx: Context, principal: Principal, key: str | None, request: tuple[Any, ...],
    command: Callable[[], Outcome], *, abandoned_after: float,
) -> Once:
    """``once`` for a request told by its parts (route, path, body): what the API and the
    pages' forms run their commands through."""
    return once(ctx, principal, key, fingerprint(ctx, *request), command,
                abandoned_after=abandoned_after)  # fmt: skip


def _run_once(
    ctx: Context, owner: str, key: str, digest: str, command: Callable[[], Outcome]
) -> Once:
    try:
        code, body = command()
    except BaseException:
        release(ctx.store, owner, key)  # a refused request may be sent again
        raise
    store_result(ctx.store, owner, key, digest, code, body)
    return Once(code, body, replayed=False)
