"""Tables the services keep beside the read models: who read which case, the results of
commands sent with an ``Idempotency-Key``, and the slots the scheduler ran."""

from __future__ import annotations

import hashlib
import json
import random
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.persistence import IntegrityError

from infra.readmodel import ReadModelStore, Table, stamp_at

CASE_ACCESS = Table(
    name="case_access",
    columns=(
        ("seq", "integer"),
        ("access_id", "text"),
        ("at", "text"),
        ("subject", "text"),
        ("role", "text"),
        ("case_id", "text"),
        ("action", "text"),
        ("prev_hash", "text"),
        ("hash", "text"),
    ),
    key=("seq",),
    indexes=(("case_id", "at"),),
    # v2: a hash chain, its head signed in every audit checkpoint (issue 8)
    version=2,
)
GENESIS = "0" * 64


class AccessLogBusyError(RuntimeError):
    """Too many reads at once to record each in the access log: refuse the read."""


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
# One row per reminder (or digest) of ``ledger signals``: claimed before it is sent, so
# that a restart neither sends it again (``sent``) nor forgets it (``sending``, taken
# over after a while: the worker that claimed it died).
REMINDER = Table(
    name="reminder",
    columns=(("reminder_key", "text"), ("case_id", "text"), ("deadline", "text"),
             ("due_on", "text"), ("kind", "text"), ("role", "text"), ("recipient", "text"),
             ("status", "text"), ("claimed_at", "integer"), ("sent_at", "text"),
             ("message_id", "text"), ("detail", "text")),
    key=("reminder_key",),
)
# One row per job and time slot of ``ledger schedule``: the key refuses a second claim.
SCHEDULED_RUN = Table(
    name="scheduled_run",
    columns=(("job", "text"), ("slot", "text"), ("started_at", "text"),
             ("finished_at", "text"), ("outcome", "text"), ("detail", "text")),
    key=("job", "slot"),
)


def _now() -> str:
    return stamp_at(time.time())


def access_hash(prev_hash: str, row: dict[str, Any]) -> str:
    """Each record's hash covers the previous one: no record can be changed, removed or
    slipped in without breaking every hash after it."""
    fields = {k: row[k] for k in ("seq", "access_id", "at", "subject", "role", "case_id", "action")}
    text = prev_hash + json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def access_head(store: ReadModelStore) -> tuple[int, str]:
    rows = store.query("SELECT seq, hash FROM {case_access} ORDER BY seq DESC LIMIT 1")
    return (int(rows[0]["seq"]), rows[0]["hash"]) if rows else (0, GENESIS)


def record_access(
    store: ReadModelStore, subject: str, role: str, case_id: UUID | None, action: str
) -> None:
    for attempt in range(200):  # readers at once race for the next seq; the key decides
        if attempt:
            time.sleep(random.uniform(0, 0.002 * min(attempt, 20)))
        seq, prev = access_head(store)
        row = {
            "seq": seq + 1,
            "access_id": str(uuid4()),
            "at": _now(),
            "subject": subject,
            "role": role,
            "case_id": str(case_id) if case_id else None,
            "action": action,
        }
        try:
            store.write(
                "INSERT INTO {case_access} (seq, access_id, at, subject, role, case_id, action, "
                "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [*row.values(), prev, access_hash(prev, row)],
            )
            return
        except IntegrityError:
            continue
    raise AccessLogBusyError("could not record the read in the access log; retry shortly")


def verify_access_chain(store: ReadModelStore) -> list[str]:
    """The first broken link of the access log, if any."""
    prev = GENESIS
    for expected, row in enumerate(store.query("SELECT * FROM {case_access} ORDER BY seq"), 1):
        if int(row["seq"]) != expected:
            return [f"access log: record {expected} is missing (the next is {row['seq']})"]
        if row["prev_hash"] != prev or access_hash(prev, row) != row["hash"]:
            return [f"access log: record {expected} was changed"]
        prev = row["hash"]
    return []


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


def reclaim(
    store: ReadModelStore, subject: str, key: str, request_hash: str, abandoned_after: float
) -> bool:
    """Take over a claim whose request never finished (its server died): True if this
    request may run it now. The command is idempotent by its event id, so running it
    again appends nothing that the first run stored."""
    taken = store.write(
        "UPDATE {idempotency_key} SET created_at = ? WHERE subject = ? AND key = ? "
        "AND request_hash = ? AND status = ? AND created_at < ?",
        [_now(), subject, key, request_hash, PENDING, stamp_at(time.time() - abandoned_after)],
    )
    return taken == 1


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
