"""One ``event_id`` per ledger, enforced by the store for every writer.

Consumers of the feed deduplicate by ``event_id`` (``schemas/feed-message.json``), so two
events may never share one, whichever case, process or client writes them. The library's
events table has no column for it; the id is in the stored state, which is compact JSON
that starts with the envelope (``{"timestamp":…,["originator_topic":…,]"event_id":"…"``,
``infra.mapper``). A unique index on an expression that cuts the 36 characters after the
first ``"event_id":"`` makes the store refuse a second use, in the inserting transaction,
on SQLite and PostgreSQL alike; a state without the key (other applications' tests) gives
NULL, which the index ignores. Queries use the same expression, so they use the index.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.persistence import IntegrityError

KEY = b'"event_id":"'
INDEX_SUFFIX = "event_id_uidx"


def index_name(events_table: str) -> str:
    return f"{events_table}_{INDEX_SUFFIX}"


def postgres_expression() -> str:
    key = "'\\x" + KEY.hex() + "'::bytea"
    at = f"position({key} in state)"
    return f"(CASE WHEN {at} > 0 THEN substring(state from {at} + {len(KEY)} for 36) END)"


def sqlite_expression() -> str:
    key = "X'" + KEY.hex() + "'"
    at = f"instr(state, {key})"
    return f"(CASE WHEN {at} > 0 THEN substr(state, {at} + {len(KEY)}, 36) END)"


def stored_form(event_id: UUID) -> bytes:
    """What the expression gives for an event with this id."""
    return str(event_id).encode()


def is_event_id_clash(error: BaseException) -> bool:
    """Whether the store refused a write because its ``event_id`` is used already."""
    return isinstance(error, IntegrityError) and INDEX_SUFFIX in str(error)
