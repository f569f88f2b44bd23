"""Event index: one row per stored event, in the order the ledger recorded them.

Append-only, so a runner that applied an event twice would fail on the key:
the index is also the proof that projection is exactly-once. It maps a
knowledge time to a case version (``version_known_at``), which the library
cannot do (it only knows versions; stack.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

from domain import events as ev
from domain.case import Case
from infra.readmodel import Append, Change, ReadModelStore, Table
from projections.base import CaseProjection

CASE_EVENT = Table(
    name="case_event",
    columns=(
        ("case_id", "text"),
        ("version", "integer"),
        ("event_id", "text"),
        ("type", "text"),
        ("occurred_on", "text"),
        ("recorded_at", "text"),
        ("actor_role", "text"),
    ),
    key=("case_id", "version"),
    indexes=(("case_id", "recorded_at"),),
)


def utc_text(moment: datetime) -> str:
    """A fixed-width UTC form, so that text order is time order on both stores."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class EventIndexProjection(CaseProjection):
    name = "event_index"
    tables = (CASE_EVENT,)

    def changes(self, case: Case, new_events: Sequence[ev.CaseEvent]) -> list[Change]:
        rows = [
            {
                "case_id": str(event.originator_id),
                "version": event.originator_version,
                "event_id": str(event.event_id),
                "type": event.type,
                "occurred_on": event.occurred_on.isoformat(),
                "recorded_at": utc_text(event.recorded_at),
                "actor_role": event.actor.role.value,
            }
            for event in new_events
        ]
        (table,) = self.tables
        return [Append(table, rows)]


def version_known_at(store: ReadModelStore, case_id: UUID, known_at: datetime) -> int | None:
    """The last version of a case recorded by ``known_at``, per the index (None: none yet).

    Every event recorded by then has a version at most this, so loading the case
    up to it and filtering by ``known_at`` gives exactly what was known.
    """
    rows = store.query(
        "SELECT MAX(version) AS version FROM {case_event} WHERE case_id = ? AND recorded_at <= ?",
        [str(case_id), utc_text(known_at)],
    )
    found = rows[0]["version"] if rows else None
    return int(found) if found is not None else None
