"""Queries the library's recorders do not offer, against their own tables."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Notification
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.sql import SQL, Identifier

from infra.event_ids import postgres_expression, sqlite_expression, stored_form

CHUNK = 1000


def existing_aggregate_ids(recorder: ApplicationRecorder, ids: Iterable[UUID]) -> set[UUID]:
    """Which of ``ids`` already have events, in one query per thousand ids."""
    wanted = list(ids)
    found: set[UUID] = set()
    for start in range(0, len(wanted), CHUNK):
        found |= _existing(recorder, wanted[start : start + CHUNK])
    return found


def _existing(recorder: ApplicationRecorder, ids: list[UUID]) -> set[UUID]:
    if not ids:
        return set()
    if isinstance(recorder, PostgresApplicationRecorder):
        statement = SQL(
            "SELECT DISTINCT originator_id FROM {schema}.{table} WHERE originator_id = ANY(%s)"
        ).format(
            schema=Identifier(recorder.datastore.schema),
            table=Identifier(recorder.events_table_name),
        )
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, (ids,))
            return {UUID(str(row["originator_id"])) for row in cursor.fetchall()}
    if isinstance(recorder, SQLiteApplicationRecorder):
        marks = ",".join("?" * len(ids))
        statement_text = (
            f"SELECT DISTINCT originator_id FROM {recorder.events_table_name} "
            f"WHERE originator_id IN ({marks})"
        )
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement_text, [i.hex for i in ids])
            return {UUID(row["originator_id"]) for row in cursor.fetchall()}
    return {i for i in ids if recorder.select_events(i, limit=1)}


def cases_of_event_ids(recorder: ApplicationRecorder, ids: Iterable[UUID]) -> dict[UUID, UUID]:
    """The case that stores each of ``ids`` already, through the one-``event_id`` index
    (``infra.event_ids``), in one query per thousand ids."""
    wanted = list(ids)
    found: dict[UUID, UUID] = {}
    for start in range(0, len(wanted), CHUNK):
        found.update(_cases_of(recorder, wanted[start : start + CHUNK]))
    return found


def _cases_of(recorder: ApplicationRecorder, ids: list[UUID]) -> dict[UUID, UUID]:
    if not ids:
        return {}
    keys = [stored_form(i) for i in ids]
    if isinstance(recorder, PostgresApplicationRecorder):
        expression = SQL(postgres_expression())
        statement = SQL("SELECT originator_id, {e} AS event_id FROM {s}.{t} WHERE {e} = ANY(%s)")
        query = statement.format(
            e=expression,
            s=Identifier(recorder.datastore.schema),
            t=Identifier(recorder.events_table_name),
        )
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(query, (keys,))
            rows = cursor.fetchall()
        return {UUID(bytes(r["event_id"]).decode()): UUID(str(r["originator_id"])) for r in rows}
    if isinstance(recorder, SQLiteApplicationRecorder):
        expression_text = sqlite_expression()
        marks = ",".join("?" * len(keys))
        statement_text = (
            f"SELECT originator_id, {expression_text} AS event_id "
            f"FROM {recorder.events_table_name} WHERE {expression_text} IN ({marks})"
        )
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement_text, keys)
            return {UUID(bytes(r["event_id"]).decode()): UUID(r["originator_id"])
                    for r in cursor.fetchall()}  # fmt: skip
    raise TypeError(f"no event-id index on a {type(recorder).__name__}")


CasePosition = tuple[Any, int]  # (stored originator id, version) of the last row read


def notifications_by_case(
    recorder: ApplicationRecorder, up_to: int, *, page_size: int = 5000
) -> Iterator[list[Notification]]:
    """Every stored event up to notification ``up_to``, ordered by case and version (the
    primary key's order, so each case's events come together), a page at a time."""
    after: CasePosition | None = None
    while True:
        rows = _rows_by_case(recorder, after, up_to, page_size)
        if not rows:
            return
        after = (rows[-1][1], rows[-1][2])
        convert = getattr(recorder, "convert_originator_id", lambda stored: stored)
        yield [
            Notification(
                id=row[0],
                originator_id=convert(row[1]),
                originator_version=row[2],
                topic=row[3],
                state=bytes(row[4]),
            )
            for row in rows
        ]
        if len(rows) < page_size:
            return


def _rows_by_case(
    recorder: ApplicationRecorder, after: CasePosition | None, up_to: int, size: int
) -> list[tuple[Any, ...]]:
    if isinstance(recorder, PostgresApplicationRecorder):
        query = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM {s}.{t} WHERE notification_id <= %s {after} "
            "ORDER BY originator_id, originator_version LIMIT %s"
        ).format(
            s=Identifier(recorder.datastore.schema),
            t=Identifier(recorder.events_table_name),
            after=SQL("AND (originator_id, originator_version) > (%s, %s)" if after else ""),
        )
        with recorder.datastore.get_connection() as connection:
            cursor = connection.execute(query, [up_to, *(after or ()), size])
            return [tuple(row.values()) for row in cursor.fetchall()]
    if isinstance(recorder, SQLiteApplicationRecorder):
        where = "AND (originator_id, originator_version) > (?, ?)" if after else ""
        statement = (
            "SELECT rowid, originator_id, originator_version, topic, state "
            f"FROM {recorder.events_table_name} WHERE rowid <= ? {where} "
            "ORDER BY originator_id, originator_version LIMIT ?"
        )
        with recorder.datastore.transaction(commit=False) as sqlite_cursor:
            sqlite_cursor.execute(statement, [up_to, *(after or ()), size])
            return [tuple(row) for row in sqlite_cursor.fetchall()]
    raise TypeError(f"no reading by case from a {type(recorder).__name__}")
