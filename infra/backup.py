"""Stored events as stored: read with their notification ids and bytes, written back with
the same ids into an empty events table (a backup and its restore).

The interchange export re-records facts (new notification ids, states sealed again);
a backup must give back the very rows, so that the audit tree, the proofs already handed
to reviewers and the sealed medical notes and erasures stay exactly what they were.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Notification
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.sql import SQL, Identifier

from infra.log_consumer import NotificationLog

Row = tuple[int, UUID, int, str, bytes]  # notification id, originator, version, topic, state


class StoreNotEmptyError(RuntimeError):
    """A restore goes into an empty store only."""


def stored_rows(recorder: ApplicationRecorder, page_size: int = 5000) -> Iterator[Notification]:
    """Every stored event in notification order, whatever its id."""
    for page in NotificationLog(recorder).notifications(None, page_size=page_size):
        yield from page


def write_rows(recorder: ApplicationRecorder, rows: Iterable[Row]) -> int:
    """Insert ``rows`` with their own notification ids, in one transaction, into an empty
    events table; the number written. ``StoreNotEmptyError`` if it holds any event."""
    if recorder.max_notification_id():
        raise StoreNotEmptyError(
            "the store already holds events: restore into an empty database (or schema)"
        )
    if isinstance(recorder, PostgresApplicationRecorder):
        return _postgres(recorder, rows)
    if isinstance(recorder, SQLiteApplicationRecorder):
        return _sqlite(recorder, rows)
    raise TypeError(f"no restore for a {type(recorder).__name__}")


def _postgres(recorder: PostgresApplicationRecorder, rows: Iterable[Row]) -> int:
    table = SQL("{0}.{1}").format(
        Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name)
    )
    copy = SQL(
        "COPY {0} (notification_id, originator_id, originator_version, topic, state) "
        "FROM STDIN (FORMAT BINARY)"
    ).format(table)
    written = 0
    with (
        recorder.datastore.get_connection() as connection,
        connection.transaction(),
        connection.cursor() as cursor,
    ):
        recorder._lock_table(cursor)  # the library's lock (and lock timeout) of its inserts
        with cursor.copy(copy) as target:
            target.set_types(["int8", "uuid", "int8", "text", "bytea"])
            for row in rows:
                target.write_row(row)
                written += 1
        # the next event continues after the restored ones
        cursor.execute(
            SQL(
                "SELECT setval(pg_get_serial_sequence(%s, 'notification_id'), "
                "GREATEST((SELECT MAX(notification_id) FROM {0}), 1))"
            ).format(table),
            (table.as_string(cursor),),
        )
    return written


def _sqlite(recorder: SQLiteApplicationRecorder, rows: Iterable[Row]) -> int:
    statement = (
        f"INSERT INTO {recorder.events_table_name} "
        "(rowid, originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?, ?)"
    )
    written = 0
    with recorder.datastore.transaction(commit=True) as cursor:
        for batch in _batches(rows, 1000):
            # the library's SQLite recorder keeps an originator id as its hex form
            cursor.executemany(statement, [(n, o.hex, v, t, s) for n, o, v, t, s in batch])
            written += len(batch)
    return written


def _batches(rows: Iterable[Row], size: int) -> Iterator[Sequence[Row]]:
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
