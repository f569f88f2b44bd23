"""The library's own test cases, run against the recorders this project extends."""

from __future__ import annotations

import os
import tempfile
import unittest
from uuid import uuid4

import psycopg
import pytest
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore
from eventsourcing.tests.persistence import (
    ApplicationRecorderTestCase,
    NonInterleavingNotificationIDsBaseCase,
    TrackingRecorderTestCase,
)

from infra.pg_recorder import LedgerPostgresApplicationRecorder
from infra.readmodel import PostgresReadModelRecorder, SQLiteReadModelRecorder
from infra.sqlite_recorder import LedgerSQLiteApplicationRecorder
from tests.conftest import POSTGRES_URL, require_postgres


def fresh_schema(case: unittest.TestCase) -> PostgresDatastore:
    """A datastore on a new schema, dropped when ``case`` ends."""
    require_postgres()
    schema = f"test_{uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    case.addCleanup(_drop, schema)
    datastore = PostgresDatastore(
        "postgres", "127.0.0.1", "5432", "postgres", "", schema=schema, lock_timeout=5
    )
    case.addCleanup(datastore.close)
    return datastore


def ledger_recorder(
    case: unittest.TestCase, copy_from: int | None = None
) -> LedgerPostgresApplicationRecorder:
    """The ledger's application recorder on a new schema (COPY from ``copy_from`` events)."""
    recorder = LedgerPostgresApplicationRecorder(
        fresh_schema(case), events_table_name="stored_events"
    )
    if copy_from is not None:
        recorder.copy_from = copy_from
    recorder.create_table()
    return recorder


def _drop(schema: str) -> None:
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


def sqlite_datastore(case: unittest.TestCase) -> SQLiteDatastore:
    """A datastore on a new file, removed when ``case`` ends."""
    folder = tempfile.TemporaryDirectory()
    case.addCleanup(folder.cleanup)
    datastore = SQLiteDatastore(os.path.join(folder.name, "store.db"))
    case.addCleanup(datastore.close)
    return datastore


class TestSQLiteReadModelRecorder(TrackingRecorderTestCase):
    def create_recorder(self) -> SQLiteReadModelRecorder:
        recorder = SQLiteReadModelRecorder(sqlite_datastore(self))
        recorder.create_table()
        return recorder


@pytest.mark.postgres
class TestPostgresReadModelRecorder(TrackingRecorderTestCase):
    def create_recorder(self) -> PostgresReadModelRecorder:
        datastore = fresh_schema(self)
        recorder = PostgresReadModelRecorder(datastore, tracking_table_name="projections_tracking")
        recorder.create_table()
        return recorder


class TestLedgerSQLiteApplicationRecorder(ApplicationRecorderTestCase):
    """The SQLite recorder with the one-event_id index keeps the library's contract."""

    def create_recorder(self) -> LedgerSQLiteApplicationRecorder:
        # An in-memory database of its own, never closed by the test: the library's
        # concurrency cases leave reader threads running into the next case, and closing
        # a file database under them crashes sqlite3 (seen here as a segfault).
        datastore = SQLiteDatastore(f"file:{uuid4().hex}?mode=memory&cache=shared")
        recorder = LedgerSQLiteApplicationRecorder(datastore)
        recorder.create_table()
        return recorder


@pytest.mark.postgres
class TestLedgerPostgresApplicationRecorder(ApplicationRecorderTestCase):
    """The recorder that stops retrying at a lock timeout keeps the library's contract."""

    def create_recorder(self) -> LedgerPostgresApplicationRecorder:
        return ledger_recorder(self)


@pytest.mark.postgres
class TestLedgerPostgresApplicationRecorderByCopy(ApplicationRecorderTestCase):
    """The same contract when every batch, however small, is written with COPY."""

    def create_recorder(self) -> LedgerPostgresApplicationRecorder:
        return ledger_recorder(self, copy_from=1)


@pytest.mark.postgres
class TestCopyDoesNotInterleaveNotificationIds(NonInterleavingNotificationIDsBaseCase):
    """Two batches of 1,000 events (written with COPY) racing: their notification ids
    do not interleave, so a tailing reader cannot pass over a gap filled in later."""

    def create_recorder(self) -> LedgerPostgresApplicationRecorder:
        recorder = ledger_recorder(self)
        assert self.insert_num >= recorder.copy_from
        return recorder
