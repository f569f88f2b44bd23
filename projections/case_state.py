"""Case state read model: one row per case, what a case list shows.

Everything stored is fixed by the events; what depends on the day asked about
(counted sick days, the status of the next deadline) is worked out when read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from domain import events as ev
from domain.case import Case
from domain.deadlines import next_due
from domain.retention import reintegration_ended_on
from domain.sicktime import sick_days_later
from domain.state import CaseStatus
from infra.readmodel import Change, ReadModelStore, Replace, Row, Table
from projections.base import CaseProjection

CASE_STATE = Table(
    name="case_state",
    columns=(
        ("case_id", "text"),
        ("subject_id", "text"),
        ("employer_id", "text"),
        ("case_manager_id", "text"),
        ("status", "text"),
        ("phase", "text"),
        ("first_sick_day", "text"),
        ("incapacity_percent", "integer"),
        ("sick_days_at_last_event", "integer"),
        ("second_track", "text"),
        ("wage_payment", "text"),
        ("sanction_ends_on", "text"),
        ("end_of_wage_continuation", "text"),
        ("last_event_type", "text"),
        ("last_event_on", "text"),
        ("next_deadline", "text"),
        ("next_due_on", "text"),
        ("version", "integer"),
        ("reintegration_ended_on", "text"),
        ("legal_hold", "integer"),
        ("erased_on", "text"),
        ("state", "json"),
    ),
    key=("case_id",),
    indexes=(("employer_id", "status"), ("case_manager_id", "status"), ("subject_id",)),
    # v2: the employee, to find an employee's last case (relapse within 28 days);
    # v3: the employee as its subject pseudonym, never in plain text (issue 9), and what
    # retention needs (when re-integration ended, legal hold, erasure); v4: the safety-net
    # and pregnancy-leave flags (and the leave's expected end, which pauses the count), and no
    # next deadline once the file ended (issue 17)
    version=4,
)


class CaseStateProjection(CaseProjection):
    name = "case_state"
    tables = (CASE_STATE,)

    def changes(self, case: Case, new_events: Sequence[ev.CaseEvent]) -> list[Change]:
        (table,) = self.tables
        return [Replace(table, {"case_id": str(case.id)}, [case_state_row(case)])]


def case_state_row(case: Case) -> Row:
    state = case.current
    last_on = state.last_event_on or state.first_sick_day
    upcoming = next_due(case.deadlines)
    document = state.to_json(on=last_on)
    del document["employee_id"]  # read models hold no personal data; views fetch it sealed
    ended_on = reintegration_ended_on(state)
    file = case.file
    return {
        "case_id": str(case.id),
        "subject_id": str(state.subject_id) if state.subject_id else None,
        "employer_id": state.employer_id,
        "case_manager_id": state.case_manager_id,
        "status": state.status.value,
        "phase": state.phase.value,
        "first_sick_day": state.first_sick_day.isoformat(),
        "incapacity_percent": state.incapacity_percent,
        "sick_days_at_last_event": document.pop("counted_sick_days"),
        "second_track": state.second_track.value,
        "wage_payment": state.wage_payment.value,
        "sanction_ends_on": state.sanction.ends_on.isoformat() if state.sanction else None,
        "end_of_wage_continuation": state.end_of_wage_continuation.isoformat(),
        "last_event_type": state.last_event_type,
        "last_event_on": last_on.isoformat(),
        "next_deadline": upcoming.deadline if upcoming else None,
        "next_due_on": upcoming.due_on.isoformat() if upcoming else None,
        "version": case.version,
        "reintegration_ended_on": ended_on.isoformat() if ended_on else None,
        "legal_hold": int(file.legal_hold),
        "erased_on": file.erased_on.isoformat() if file.erased_on else None,
        "state": json.dumps(document, sort_keys=True),
    }


@dataclass(frozen=True)
class CaseSummary:
    """A case-state row read for a day on or after its last event."""

    row: Row
    on: date

    @property
    def counted_sick_days(self) -> int:
        """Sick days keep counting while the case is open (rules reference s2)."""
        leave_until = json.loads(self.row["state"]).get("pregnancy_leave_until")
        return sick_days_later(
            self.row["sick_days_at_last_event"],
            date.fromisoformat(self.row["last_event_on"]),
            self.on,
            still_sick=self.row["status"] == CaseStatus.OPEN.value,
            paused_until=date.fromisoformat(leave_until) if leave_until else None,
        )

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.row["state"])
        document.update(
            {
                "counted_sick_days": self.counted_sick_days,
                "next_deadline": self.row["next_deadline"],
                "next_due_on": self.row["next_due_on"],
                "version": self.row["version"],
            }
        )
        return document


def read_case_state(store: ReadModelStore, case_id: UUID) -> Row | None:
    rows = store.query("SELECT * FROM {case_state} WHERE case_id = ?", [str(case_id)])
    return rows[0] if rows else None


def find_cases(
    store: ReadModelStore,
    *,
    employer_id: str | None = None,
    case_manager_id: str | None = None,
    status: CaseStatus | None = None,
    limit: int | None = None,
) -> list[Row]:
    """Case-state rows, the longest-running first (by first sick day, then id)."""
    conditions: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("employer_id", employer_id),
        ("case_manager_id", case_manager_id),
        ("status", status.value if status else None),
    ):
        if value is not None:
            conditions.append(f"{column} = ?")
            params.append(value)
    where = f"WHERE {' AND '.join(conditions)} " if conditions else ""
    sql = f"SELECT * FROM {{case_state}} {where}ORDER BY first_sick_day, case_id"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return store.query(sql, params)


def cases_of_subject(store: ReadModelStore, subject: UUID, employer_id: str) -> dict[UUID, date]:
    """The first sick day of every case of one employee (by subject) at an employer."""
    rows = store.query(
        "SELECT case_id, first_sick_day FROM {case_state} WHERE subject_id = ? AND employer_id = ?",
        [str(subject), employer_id],
    )
    return {UUID(r["case_id"]): date.fromisoformat(r["first_sick_day"]) for r in rows}


def employer_ids(store: ReadModelStore) -> list[str]:
    """Every employer with a case, in order."""
    rows = store.query("SELECT DISTINCT employer_id FROM {case_state} ORDER BY employer_id")
    return [row["employer_id"] for row in rows]


def retention_rows(store: ReadModelStore) -> list[Row]:
    """What retention judges of every file with a subject (the employee's pseudonym)."""
    return store.query(
        "SELECT case_id, subject_id, status, reintegration_ended_on, legal_hold, erased_on "
        "FROM {case_state} WHERE subject_id IS NOT NULL ORDER BY subject_id, case_id"
    )


CASE_LIST_COLUMNS = ("case_id", "employer_id", "case_manager_id", "status", "phase",
                     "first_sick_day", "next_deadline", "next_due_on", "last_event_on")  # fmt: skip


def search_cases(store: ReadModelStore, *, employers: frozenset[str] | None,
                 employer: str | None, case_manager: str | None, status: str | None,
                 reference: str | None, limit: int = 200) -> list[Row]:  # fmt: skip
    """Files by employer (within ``employers`` when given), case manager, status and
    short reference (the first characters of the case id), soonest next deadline first."""
    conditions: list[str] = ["erased_on IS NULL"]
    values: list[Any] = []
    if employers is not None:
        conditions.append(f"employer_id IN ({', '.join('?' * len(employers))})")
        values.extend(sorted(employers))
    for column, value in (("employer_id", employer), ("case_manager_id", case_manager),
                          ("status", status)):  # fmt: skip
        if value:
            conditions.append(f"{column} = ?")
            values.append(value)
    if reference:
        conditions.append("substr(case_id, 1, ?) = ?")
        values.extend([len(reference), reference.lower()])
    sql = (f"SELECT {', '.join(CASE_LIST_COLUMNS)} FROM {{case_state}} "
           f"WHERE {' AND '.join(conditions)} "
           "ORDER BY (next_due_on IS NULL), next_due_on, case_id LIMIT ?")  # fmt: skip
    return store.query(sql, [*values, limit])


def status_counts(store: ReadModelStore, employers: frozenset[str] | None) -> dict[str, int]:
    """How many files there are per status (within ``employers`` when given)."""
    where, values = "erased_on IS NULL", list[Any]()
    if employers is not None:
        where += f" AND employer_id IN ({', '.join('?' * len(employers))})"
        values = sorted(employers)
    rows = store.query(
        f"SELECT status, COUNT(*) AS n FROM {{case_state}} WHERE {where} GROUP BY status", values
    )
    return {str(r["status"]): int(r["n"]) for r in rows}
