"""The library's SQLite application recorder, with the ledger's one-``event_id`` index
and group commit (``infra.group_commit``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

from infra.config import group_commit
from infra.event_ids import index_name, sqlite_expression
from infra.group_commit import GroupCommitter, alone

LARGEST_GROUPED = 500  # a bigger write (an import's batch) goes alone


class LedgerSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    """``SQLiteApplicationRecorder`` whose table refuses a second use of an ``event_id``,
    and whose concurrent small writes share one transaction."""

    def __init__(self, datastore: SQLiteDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.group = GroupCommitter(self._insert_alone) if group_commit() else None

    def construct_create_table_statements(self) -> list[str]:
        statements = super().construct_create_table_statements()
        statements.append(
            f"CREATE UNIQUE INDEX IF NOT EXISTS {index_name(self.events_table_name)} "
            f"ON {self.events_table_name} {sqlite_expression()}"
        )
        return statements

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if self.group is None or alone(stored_events, kwargs, LARGEST_GROUPED):
            return self._insert_alone(stored_events, **kwargs)
        return self.group.insert(stored_events)

    def _insert_alone(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        return super().insert_events(stored_events, **kwargs)
