"""Tables the HTTP service keeps beside the read models: who read which case, and the
results of commands sent with an ``Idempotency-Key``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from infra.readmodel import ReadModelStore, Table

CASE_ACCESS = Table(
    name="case_access",
    columns=(
        ("access_id", "text"),
        ("at", "text"),
        ("subject", "text"),
        ("role", "text"),
        ("case_id", "text"),
        ("action", "text"),
    ),
    key=("access_id",),
    indexes=(("case_id", "at"),),
)
IDEMPOTENCY = Table(
    name="idempotency_key",
    columns=(
        ("subject", "text"),
        ("key", "text"),
        ("request_hash", "text"),
        ("status", "integer"),
        ("body", "json"),
        ("created_at", "text"),
    ),
    key=("subject", "key"),
)
SERVICE_TABLES = (CASE_ACCESS, IDEMPOTENCY)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record_access(
    store: ReadModelStore, subject: str, role: str, case_id: UUID | None, action: str
) -> None:
    store.write(
        "INSERT INTO {case_access} (access_id, at, subject, role, case_id, action) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [str(uuid4()), _now(), subject, role, str(case_id) if case_id else None, action],
    )


def access_log(store: ReadModelStore, case_id: UUID) -> list[dict[str, Any]]:
    return store.query(
        "SELECT at, subject, role, action FROM {case_access} WHERE case_id = ? ORDER BY at",
        [str(case_id)],
    )


@dataclass(frozen=True)
class StoredResult:
    request_hash: str
    status: int
    body: Any


def stored_result(store: ReadModelStore, subject: str, key: str) -> StoredResult | None:
    rows = store.query(
        "SELECT request_hash, status, body FROM {idempotency_key} WHERE subject = ? AND key = ?",
        [subject, key],
    )
    if not rows:
        return None
    row = rows[0]
    return StoredResult(row["request_hash"], int(row["status"]), json.loads(row["body"]))


PENDING = 0  # the status of a key whose first request is still running


def reserve(store: ReadModelStore, subject: str, key: str, request_hash: str) -> bool:
    """Claim a key before running its request; False if another request claimed it."""
    claimed = store.write(
        "INSERT INTO {idempotency_key} (subject, key, request_hash, status, body, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [subject, key, request_hash, PENDING, "null", _now()],
    )
    return claimed == 1


def release(store: ReadModelStore, subject: str, key: str) -> None:
    store.write(
        "DELETE FROM {idempotency_key} WHERE subject = ? AND key = ? AND status = ?",
        [subject, key, PENDING],
    )


def store_result(
    store: ReadModelStore, subject: str, key: str, request_hash: str, status: int, body: Any
) -> None:
    """Record the result of a claimed key (see ``reserve``)."""
    store.write(
        "UPDATE {idempotency_key} SET status = ?, body = ? "
        "WHERE subject = ? AND key = ? AND request_hash = ?",
        [status, json.dumps(body), subject, key, request_hash],
    )
