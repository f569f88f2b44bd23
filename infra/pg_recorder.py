"""The library's PostgreSQL application recorder, retrying as it does on a dropped
connection but not on a lock timeout, nor when its pool already waited for a connection;
large batches are written with ``COPY``.

The library retries a read or write up to ten times on any operational error. For
a lock held by a stuck transaction that turns one ``lock_timeout`` into ten, so a
request would wait close to a minute for its 503. A lock timeout is an answer, not
a glitch: it goes straight to the caller (the API answers 503 with Retry-After).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any, TypeVar

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from infra.config import group_commit
from infra.event_ids import index_name, postgres_expression
from infra.group_commit import GroupCommitter, alone
from infra.pg_pool import use_socket_check

ATTEMPTS = 10  # as the library
WAIT_SECONDS = 0.2
Method = TypeVar("Method", bound=Callable[..., Any])


def is_lock_timeout(error: BaseException) -> bool:
    """A statement gave up waiting for a lock (PostgreSQL), or the file was locked (SQLite)."""
    text = str(error).lower()
    return "lock timeout" in text or "lock_timeout" in text or "database is locked" in text


def is_final(error: BaseException) -> bool:
    """A lock timeout, or a pool that already waited its timeout for a connection: retrying
    would only make the caller wait ten times as long for the same answer."""
    return is_lock_timeout(error) or "couldn't get a connection" in str(error).lower()


def retried_unless_lock_timeout(method: Method) -> Method:
    inner = getattr(method, "__wrapped__", method)  # the library's undecorated method

    @wraps(inner)
    def call(*args: Any, **kwargs: Any) -> Any:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return inner(*args, **kwargs)
            except (InterfaceError, OperationalError) as error:
                if is_final(error) or attempt == ATTEMPTS:
                    raise
                time.sleep(WAIT_SECONDS)
        raise AssertionError("unreachable")

    return call  # type: ignore[return-value]


class LedgerPostgresApplicationRecorder(PostgresApplicationRecorder):
    """``PostgresApplicationRecorder`` whose retries stop at a lock timeout, which writes a
    batch of ``copy_from`` events or more with ``COPY`` (a bulk import), and whose table
    refuses a second use of an ``event_id`` (``infra.event_ids``).

    ``COPY`` keeps the library's guarantees: the same ``EXCLUSIVE`` table lock
    (commit order is notification order), the same ``NOTIFY``, the same primary key
    (a version already stored raises ``IntegrityError``, nothing of the batch is kept),
    and the notification ids of the batch are returned. It saves the per-row work of
    the library's statement, which binds the batch as an array of a composite type.
    """

    copy_from = 500

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        use_socket_check(datastore)
        # a command's append shares its transaction with those arriving meanwhile
        self.group = GroupCommitter(self._insert_alone) if group_commit() else None
        # one event_id per ledger, for every writer (infra/event_ids.py)
        self.sql_create_statements.append(
            SQL("CREATE UNIQUE INDEX IF NOT EXISTS {0} ON {1}.{2} ({3})").format(
                Identifier(index_name(self.events_table_name)),
                Identifier(self.datastore.schema),
                Identifier(self.events_table_name),
                SQL(postgres_expression()),
            )
        )

    def _create_table(self, curs: Cursor[DictRow]) -> None:
        # Every process sets the store up at start, and the library replaces its insert
        # function each time: two replacing at once fail one ("tuple concurrently
        # updated"). One setup at a time per table; the lock ends with the transaction.
        curs.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                     [f"{self.datastore.schema}.{self.events_table_name}:setup"])  # fmt: skip
        super()._create_table(curs)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if self.group is None or alone(stored_events, kwargs, self.copy_from):
            return self._insert_alone(stored_events, **kwargs)
        return self.group.insert(stored_events)

    def _insert_alone(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if len(stored_events) < self.copy_from or self.datastore.enable_db_functions:
            ids: Sequence[int] | None = self._insert_by_statement(stored_events, **kwargs)
            return ids
        return self._insert_by_copy(stored_events)

    _insert_by_statement = retried_unless_lock_timeout(PostgresApplicationRecorder.insert_events)

    @retried_unless_lock_timeout
    def _insert_by_copy(self, stored_events: Sequence[StoredEvent]) -> Sequence[int]:
        table = SQL("{0}.{1}").format(
            Identifier(self.datastore.schema), Identifier(self.events_table_name)
        )
        copy = SQL(
            "COPY {0} (originator_id, originator_version, topic, state) FROM STDIN (FORMAT BINARY)"
        ).format(table)
        with (
            self.datastore.get_connection() as connection,
            connection.transaction(),
            connection.cursor() as cursor,
        ):
            self._lock_table(cursor)
            self._notify_channel(cursor)
            with cursor.copy(copy) as rows:
                rows.set_types(["uuid", "int8", "text", "bytea"])
                for event in stored_events:
                    rows.write_row(
                        (event.originator_id, event.originator_version, event.topic, event.state)
                    )
            # Under the table lock the newest ids are this batch's, whatever the sequence did.
            cursor.execute(
                SQL(
                    "SELECT notification_id FROM {0} ORDER BY notification_id DESC LIMIT %s"
                ).format(table),
                (len(stored_events),),
            )
            return sorted(int(row["notification_id"]) for row in cursor.fetchall())

    select_events = retried_unless_lock_timeout(PostgresApplicationRecorder.select_events)
    select_notifications = retried_unless_lock_timeout(
        PostgresApplicationRecorder.select_notifications
    )
    max_notification_id = retried_unless_lock_timeout(
        PostgresApplicationRecorder.max_notification_id
    )
