"""Deadline view: every deadline of every case, for case managers' morning lists.

Rows hold the deadline *facts* (due date, when met, whether the case ended
first); the status for a day is computed when read, by the same domain code as
``ledger deadlines --case`` (``DeadlineFact.as_of``), so the view and the pure
rule computation cannot drift apart. The facts hold for any day on or after a
case's last event; for an earlier day the case is replayed from the ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from domain import events as ev
from domain.case import Case
from domain.deadlines import Deadline, DeadlineFact, DeadlineStatus
from infra.readmodel import Change, ReadModelStore, Replace, Row, Table
from projections.base import CaseProjection

DEADLINE = Table(
    name="deadline",
    columns=(
        ("case_id", "text"),
        ("deadline", "text"),
        ("cycle", "integer"),
        ("due_on", "text"),
        ("done_on", "text"),
        ("file_ended_on", "text"),
        ("is_task", "integer"),
        ("rule", "text"),
        ("rule_set", "text"),
        ("employer_id", "text"),
        ("case_manager_id", "text"),
        ("last_event_on", "text"),
    ),
    key=("case_id", "deadline", "cycle"),
    indexes=(
        ("employer_id", "due_on"),
        ("case_manager_id", "due_on"),
        ("due_on",),
        # finds the few cases with events after the day asked about (replayed instead)
        ("employer_id", "last_event_on"),
        ("case_manager_id", "last_event_on"),
    ),
    version=2,  # v2: when the file ended (missed deadlines, running files) replaces lapsed
)


class DeadlineProjection(CaseProjection):
    name = "deadlines"
    tables = (DEADLINE,)

    def changes(self, case: Case, new_events: Sequence[ev.CaseEvent]) -> list[Change]:
        state = case.current
        last_on = (state.last_event_on or state.first_sick_day).isoformat()
        rows = [
            {
                "case_id": str(case.id),
                "deadline": fact.deadline,
                "cycle": fact.cycle,
                "due_on": fact.due_on.isoformat(),
                "done_on": _iso(fact.done_on),
                "file_ended_on": _iso(fact.file_ended_on),
                "is_task": int(fact.is_task),
                "rule": fact.rule,
                "rule_set": fact.rule_set,
                "employer_id": state.employer_id,
                "case_manager_id": state.case_manager_id,
                "last_event_on": last_on,
            }
            for fact in case.deadlines
        ]
        (table,) = self.tables
        return [Replace(table, {"case_id": str(case.id)}, rows)]


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


@dataclass(frozen=True)
class CaseDeadline:
    case_id: UUID
    deadline: Deadline

    def to_json(self) -> dict[str, Any]:
        return {"case_id": str(self.case_id), **self.deadline.to_json()}


@dataclass(frozen=True)
class DeadlineQuery:
    """Which deadlines to list, as of ``on``. ``due_before`` is exclusive."""

    on: date
    employer_id: str | None = None
    case_manager_id: str | None = None
    case_id: UUID | None = None
    status: DeadlineStatus | None = None
    due_before: date | None = None
    became_overdue: bool = False  # overdue on ``on``, not yet the day before
    limit: int | None = None  # the first ``limit`` by due date (a page of a long list)
    history: bool = False  # ended files too; by default the work of running files only

    @property
    def running_only(self) -> bool:
        """Missed and not-applicable deadlines exist only on ended files: asking for them is
        asking for history."""
        ended_only = (DeadlineStatus.MISSED, DeadlineStatus.NOT_APPLICABLE)
        return not self.history and self.status not in ended_only

    def matches(self, row: CaseDeadline) -> bool:
        deadline = row.deadline
        if self.running_only and deadline.file_ended_on is not None:
            return False
        if self.due_before is not None and deadline.due_on >= self.due_before:
            return False
        if self.status is not None and deadline.status is not self.status:
            return False
        return not self.became_overdue or (
            deadline.status is DeadlineStatus.OVERDUE
            and deadline.due_on == self.on - timedelta(days=1)
        )


# The pure computation for one case as of a day (replaying the ledger).
Replay = Callable[[UUID, date], list[Deadline]]

# A pre-filter the indexes can serve; ``DeadlineQuery.matches`` has the last word.
# ``{on}`` is the day asked about.
_RUNNING = "file_ended_on IS NULL"
_STATUS_FILTERS = {
    DeadlineStatus.OVERDUE: f"is_task = 1 AND done_on IS NULL AND {_RUNNING} AND due_on < {{on}}",
    DeadlineStatus.OPEN: f"done_on IS NULL AND {_RUNNING} AND due_on >= {{on}}",
    DeadlineStatus.MISSED: "is_task = 1 AND done_on IS NULL AND file_ended_on >= due_on",
    DeadlineStatus.NOT_APPLICABLE: "done_on IS NULL AND file_ended_on < due_on",
    DeadlineStatus.DONE: "(done_on IS NOT NULL OR is_task = 0)",
    DeadlineStatus.DONE_LATE: "done_on > due_on",
}


def find_deadlines(
    store: ReadModelStore, query: DeadlineQuery, replay: Replay
) -> list[CaseDeadline]:
    """The deadlines matching ``query``, sorted by due date.

    Cases with events after ``query.on`` are replayed with ``replay``; the
    others are answered from the view.
    """
    scope, params = _scope(query)
    conditions, values = [*scope, "last_event_on <= ?"], [*params, query.on.isoformat()]
    if query.running_only:
        conditions.append(_RUNNING)
    if query.due_before is not None:
        conditions.append("due_on < ?")
        values.append(query.due_before.isoformat())
    status = DeadlineStatus.OVERDUE if query.became_overdue else query.status
    if status is not None:
        condition = _STATUS_FILTERS[status]
        conditions.append(condition.replace("{on}", "?"))
        values.extend([query.on.isoformat()] * condition.count("{on}"))
    if query.became_overdue:
        conditions.append("due_on = ?")
        values.append((query.on - timedelta(days=1)).isoformat())
    sql = f"SELECT * FROM {{deadline}} WHERE {' AND '.join(conditions)} "
    found = _from_view(store, query, sql + "ORDER BY due_on, case_id, deadline, cycle", values)
    found.extend(_replayed(store, query, replay))
    ordered = sorted(
        (row for row in found if query.matches(row)),
        key=lambda r: (r.deadline.due_on, str(r.case_id), r.deadline.deadline),
    )
    return ordered if query.limit is None else ordered[: query.limit]


def _from_view(
    store: ReadModelStore, query: DeadlineQuery, sql: str, values: list[Any]
) -> list[CaseDeadline]:
    """The view's rows with their status as of the day; with a limit, only as many rows
    as it takes to find ``limit`` that match (the SQL filter is a pre-filter)."""

    def as_of(rows: list[Row]) -> list[CaseDeadline]:
        return [CaseDeadline(UUID(r["case_id"]), fact_from_row(r).as_of(query.on)) for r in rows]

    if query.limit is None:
        return as_of(store.query(sql, values))
    size = query.limit
    while True:
        rows = store.query(f"{sql} LIMIT {size}", values)
        found = as_of(rows)
        if len(rows) < size or sum(map(query.matches, found)) >= query.limit:
            return found
        size *= 4


def _scope(query: DeadlineQuery) -> tuple[list[str], list[Any]]:
    conditions: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("employer_id", query.employer_id),
        ("case_manager_id", query.case_manager_id),
        ("case_id", str(query.case_id) if query.case_id else None),
    ):
        if value is not None:
            conditions.append(f"{column} = ?")
            params.append(value)
    return conditions, params


def _replayed(store: ReadModelStore, query: DeadlineQuery, replay: Replay) -> list[CaseDeadline]:
    scope, params = _scope(query)
    where = " AND ".join([*scope, "last_event_on > ?"])
    stale = store.query(
        f"SELECT DISTINCT case_id FROM {{deadline}} WHERE {where}", [*params, query.on.isoformat()]
    )
    return [
        CaseDeadline(UUID(row["case_id"]), deadline)
        for row in stale
        for deadline in replay(UUID(row["case_id"]), query.on)
    ]


def fact_from_row(row: Row) -> DeadlineFact:
    return DeadlineFact(
        deadline=row["deadline"],
        cycle=row["cycle"],
        due_on=date.fromisoformat(row["due_on"]),
        done_on=date.fromisoformat(row["done_on"]) if row["done_on"] else None,
        file_ended_on=date.fromisoformat(row["file_ended_on"]) if row["file_ended_on"] else None,
        is_task=bool(row["is_task"]),
        rule=row["rule"],
        rule_set=row["rule_set"],
    )


def responsible_of(store: ReadModelStore, case_ids: list[UUID]) -> dict[UUID, Row]:
    """The employer and the case manager of each case, as the view holds them."""
    found: dict[UUID, Row] = {}
    for start in range(0, len(case_ids), 500):
        chunk = [str(c) for c in case_ids[start : start + 500]]
        marks = ", ".join("?" * len(chunk))
        for row in store.query(
            "SELECT DISTINCT case_id, employer_id, case_manager_id FROM {deadline} "
            f"WHERE case_id IN ({marks})", chunk,
        ):  # fmt: skip
            found[UUID(row["case_id"])] = row
    return found


def overdue_by_employer(store: ReadModelStore, on: date, employers: frozenset[str] | None,
                        limit: int = 20) -> list[Row]:  # fmt: skip
    """The employers with the most files that have an overdue deadline on ``on``."""
    condition = _STATUS_FILTERS[DeadlineStatus.OVERDUE].replace("{on}", "?")
    values: list[Any] = [on.isoformat()]
    if employers is not None:
        condition += f" AND employer_id IN ({', '.join('?' * len(employers))})"
        values.extend(sorted(employers))
    return store.query(
        f"SELECT employer_id, COUNT(DISTINCT case_id) AS files FROM {{deadline}} "
        f"WHERE {condition} GROUP BY employer_id ORDER BY files DESC, employer_id LIMIT ?",
        [*values, limit],
    )
