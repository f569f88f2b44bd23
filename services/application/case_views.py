"""Views of one case for people: its state, its timeline, what changed between two
knowledge times. Plain functions over the domain, shared by the CLI and the API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any, cast
from uuid import UUID

from domain import events as ev
from domain.case import Case
from domain.deadlines import Deadline, case_deadlines, deadline_facts, next_due
from domain.events import CaseEvent, EventCorrected, EventRetracted, SicknessReported
from domain.state import CaseStatus
from domain.timeline import TimelineEntry, full_timeline, known_by
from infra.readmodel import ReadModelStore
from projections.case_state import CaseSummary, find_cases
from projections.event_index import EventIndexProjection, version_known_at
from projections.set_aside import describe
from services.application.ledger import Ledger, UnknownCaseError


class NotYetKnownError(UnknownCaseError):
    def __init__(self, case_id: UUID, known_at: datetime) -> None:
        LookupError.__init__(
            self, f"case {case_id} had no events recorded by {known_at.isoformat()}"
        )
        self.case_id = case_id


def case_as_known(
    ledger: Ledger, case_id: UUID, known_at: datetime | None, index: ReadModelStore | None
) -> Case:
    """The case with every event recorded by ``known_at``, loading no more than needed.

    With an event index that is at the head of the log, only the versions recorded by
    then are read (the library knows versions, not times); otherwise the whole case.
    """
    if known_at is None:
        return ledger.get_case(case_id)
    if index is None or not _index_is_current(ledger, index):
        case = ledger.get_case(case_id)
        known = bool(known_by(case.history, known_at))
    else:
        version = version_known_at(index, case_id, known_at)
        known = version is not None
        case = ledger.get_case(case_id) if version is None else _case_at(ledger, case_id, version)
    if not known:
        raise NotYetKnownError(case_id, known_at)
    return case


def _case_at(ledger: Ledger, case_id: UUID, version: int) -> Case:
    return cast(Case, ledger.repository.get(case_id, version=version))


def _index_is_current(ledger: Ledger, index: ReadModelStore) -> bool:
    head = ledger.recorder.max_notification_id() or 0
    return (index.position(EventIndexProjection().tracking_name) or 0) >= head


# Medical fields opened for the occupational physician, by event id (Ledger.medical_fields).
Medical = dict[UUID, dict[str, Any]]


def _event_json(event: CaseEvent, medical: Medical | None = None) -> dict[str, Any]:
    data = event.payload()
    if medical is not None:
        data.update(medical.get(event.event_id, {}))
    return {
        "event_id": str(event.event_id),
        "type": event.type,
        "occurred_on": event.occurred_on.isoformat(),
        "recorded_at": event.recorded_at.isoformat(),
        "actor": event.actor.model_dump(mode="json"),
        "data": data,
    }


class NotYetBegunError(UnknownCaseError):
    def __init__(self, case_id: UUID, as_of: date) -> None:
        LookupError.__init__(self, f"case {case_id} had not begun on {as_of.isoformat()}")
        self.case_id = case_id


class UnreadableFileError(Exception):
    """The file holds an event the rules cannot compute with (one an older ledger stored);
    the read models set it aside too, until a correction."""

    def __init__(self, case_id: UUID, error: Exception) -> None:
        super().__init__(
            f"case {case_id} holds an event the ledger cannot apply ({describe(error)}); the "
            "read models set it aside (ledger project --status): an admin records an "
            "EventCorrected of the wrong event"
        )
        self.case_id = case_id


def case_view(
    case: Case, as_of: date, known_at: datetime | None, medical: Medical | None = None
) -> dict[str, Any]:
    """The case as the file stood: raises ``NotYetKnownError`` when nothing was recorded by
    ``known_at``, ``NotYetBegunError`` when the case had not begun on ``as_of``,
    ``UnreadableFileError`` when its dates cannot be computed with."""
    with computing(case.id):
        return _case_view(case, as_of, known_at, medical)


@contextmanager
def computing(case_id: UUID) -> Iterator[None]:
    """Computing with a file's dates: a date the week arithmetic overflows (one an older
    ledger stored) is ``UnreadableFileError``, the same on every route."""
    try:
        yield
    except (ArithmeticError, ValueError) as error:
        raise UnreadableFileError(case_id, error) from error


def computable(case: Case) -> Case:
    """The case, or ``UnreadableFileError`` when the rules cannot compute with its dates:
    the end of wage continuation (104 weeks on) is the furthest date they reach."""
    with computing(case.id):
        _ = case.current.end_of_wage_continuation
    return case


def _case_view(
    case: Case, as_of: date, known_at: datetime | None, medical: Medical | None
) -> dict[str, Any]:
    if known_at is not None and not known_by(case.history, known_at):
        raise NotYetKnownError(case.id, known_at)
    if not any(
        isinstance(e, SicknessReported) for e in case.timeline(as_of=as_of, known_at=known_at)
    ):
        raise NotYetBegunError(case.id, as_of)
    state = case.state(as_of=as_of, known_at=known_at)
    known = known_by(case.history, known_at)
    return {
        "as_of": as_of.isoformat(),
        "known_at": known_at.isoformat() if known_at else None,
        "version": max(e.originator_version for e in known),  # the newest version known then
        "state": state.to_json(as_of),
        "events": [_event_json(e, medical) for e in case.timeline(as_of=as_of, known_at=known_at)],
    }


def _entry_json(entry: TimelineEntry, medical: Medical | None) -> dict[str, Any]:
    event = entry.event
    row = {
        **_event_json(event, medical),
        "version": event.originator_version,
        "effective_on": entry.effective_on.isoformat(),
        "status": entry.status,
        "corrected_by": [str(i) for i in entry.corrected_by],
        "retracted_by": str(entry.retracted_by) if entry.retracted_by else None,
    }
    if isinstance(event, EventCorrected):
        row["corrects"] = str(event.corrects)
    if isinstance(event, EventRetracted):
        row["retracts"] = str(event.retracts)
    return row


def timeline_view(
    case: Case, known_at: datetime | None, medical: Medical | None = None
) -> list[dict[str, Any]]:
    """Every recorded event in business order, marked effective, corrected or retracted;
    ``medical`` fields are opened only when given (the physician's reads)."""
    return [_entry_json(entry, medical) for entry in full_timeline(case.history, known_at=known_at)]


def _deadline_keys(deadlines: list[Deadline]) -> dict[tuple[str, int], dict[str, Any]]:
    """Deadlines keyed by name and round (recurring deadlines have several rounds)."""
    keyed: dict[tuple[str, int], dict[str, Any]] = {}
    rounds: dict[str, int] = {}
    for deadline in deadlines:
        rounds[deadline.deadline] = rounds.get(deadline.deadline, 0) + 1
        keyed[(deadline.deadline, rounds[deadline.deadline])] = deadline.to_json()
    return keyed


def diff_view(case: Case, before: datetime, after: datetime, as_of: date) -> dict[str, Any]:
    """What the file said about the case and its deadlines on ``as_of``, as known at
    ``before`` and at ``after``: only what differs, and the events recorded in between."""
    states = [
        case.state(as_of=as_of, known_at=t).to_json(as_of)
        if case.timeline(known_at=t, as_of=as_of)
        else {}
        for t in (before, after)
    ]
    deadlines = [
        _deadline_keys(case_deadlines(case.timeline(known_at=t), as_of)) for t in (before, after)
    ]
    state_changes = {
        key: {"before": states[0].get(key), "after": states[1].get(key)}
        for key in sorted(set(states[0]) | set(states[1]))
        if states[0].get(key) != states[1].get(key)
    }
    deadline_changes = [
        {
            "deadline": name,
            "round": n,
            "before": deadlines[0].get((name, n)),
            "after": deadlines[1].get((name, n)),
        }
        for name, n in sorted(set(deadlines[0]) | set(deadlines[1]))
        if deadlines[0].get((name, n)) != deadlines[1].get((name, n))
    ]
    recorded = [_event_json(e) for e in case.history if before < e.recorded_at <= after]
    return {
        "case_id": str(case.id),
        "as_of": as_of.isoformat(),
        "known_at_before": before.isoformat(),
        "known_at_after": after.isoformat(),
        "recorded_between": recorded,
        "state": state_changes,
        "deadlines": deadline_changes,
    }


def case_list(
    ledger: Ledger,
    store: ReadModelStore,
    on: date,
    *,
    employer_id: str | None = None,
    case_manager_id: str | None = None,
    status: CaseStatus | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Cases as they stood on ``on``: from the case-state view, replaying from the ledger
    the cases with events after ``on`` (their rows describe a later day)."""
    rows = find_cases(store, employer_id=employer_id)
    found: list[dict[str, Any]] = []
    for row in rows:
        if date.fromisoformat(row["last_event_on"]) <= on:
            found.append(CaseSummary(row, on).to_json())
        elif date.fromisoformat(row["first_sick_day"]) <= on:
            found.append(_replayed_summary(ledger.get_case(UUID(row["case_id"])), on))
    found = [
        r
        for r in found
        if (case_manager_id is None or r["case_manager_id"] == case_manager_id)
        and (status is None or r["status"] == status.value)
    ]
    found = found[:limit] if limit is not None else found
    employees = ledger.employee_ids([UUID(r["case_id"]) for r in found])
    for r in found:
        employee = employees.get(UUID(r["case_id"]))
        r["employee_id"] = employee.model_dump() if isinstance(employee, ev.Withheld) else employee
    return found


def _replayed_summary(case: Case, on: date) -> dict[str, Any]:
    state = case.state(as_of=on)
    upcoming = next_due(deadline_facts(state))
    known = [e for e in case.history if e.occurred_on <= on]
    return {
        **state.to_json(on),
        "next_deadline": upcoming.deadline if upcoming else None,
        "next_due_on": upcoming.due_on.isoformat() if upcoming else None,
        "version": max(e.originator_version for e in known),
    }


def deadline_replay(ledger: Ledger) -> Callable[[UUID, date], list[Deadline]]:
    """The pure deadline computation for one case as of a day, for ``find_deadlines``
    to use on cases whose view rows describe a later day."""

    def replay(case_id: UUID, day: date) -> list[Deadline]:
        return case_deadlines(ledger.get_case(case_id).timeline(), day)

    return replay
