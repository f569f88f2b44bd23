"""The library's SQLite application recorder, with the ledger's one-``event_id`` index."""

from __future__ import annotations

from eventsourcing.sqlite import SQLiteApplicationRecorder

from infra.event_ids import index_name, sqlite_expression


class LedgerSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    """``SQLiteApplicationRecorder`` whose table refuses a second use of an ``event_id``."""

    def construct_create_table_statements(self) -> list[str]:
        statements = super().construct_create_table_statements()
        statements.append(
            f"CREATE UNIQUE INDEX IF NOT EXISTS {index_name(self.events_table_name)} "
            f"ON {self.events_table_name} {sqlite_expression()}"
        )
        return statements
