"""The case aggregate: one sickness-absence case of one employee (*verzuimdossier*)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, cast
from uuid import UUID

from eventsourcing.domain import BaseAggregate, datetime_now_with_tzinfo
from eventsourcing.utils import get_topic

from domain import events as ev
from domain.deadlines import DeadlineFact, deadline_facts
from domain.retention import FileStatus, file_status
from domain.rules import (
    CASE_OPENS_WITH_REPORT,
    ONE_SICKNESS_REPORT,
    RuleViolation,
    Violation,
    check_next_event,
    check_recording,
    check_timeline,
)
from domain.sicktime import RELAPSE_WINDOW_DAYS
from domain.state import CaseState, CaseStatus, evolve, fold
from domain.timeline import effective_events


class Case(BaseAggregate[UUID]):
    """Holds every fact recorded about one case and refuses what cannot happen.

    The aggregate keeps the full history (corrections included) because the
    state of a case depends on what was known when; see ``state``.
    """

    def __init__(self) -> None:
        self.history: list[ev.CaseEvent] = []
        self.events_by_id: dict[UUID, ev.CaseEvent] = {}
        self._current: CaseState | None = None
        self._deadlines: tuple[CaseState, list[DeadlineFact]] | None = None

    def remember(self, event: ev.CaseEvent) -> None:
        current = self._current
        if isinstance(event, ev.RecordKeepingEvent):
            pass  # not a fact of the case: the state stays as it is
        elif current is not None and _sorts_last(current, event):
            self._current = evolve(current, event)
        else:
            self._current = None
        self.history.append(event)
        self.events_by_id[event.event_id] = event

    def collect_case_events(self) -> list[ev.CaseEvent]:
        """The new events not yet saved (typed ``collect_events``)."""
        return [cast(ev.CaseEvent, event) for event in self.collect_events()]

    @property
    def current(self) -> CaseState:
        """The state with everything recorded, kept up to date as events are appended."""
        if self._current is None:
            self._current = fold(self.timeline())
        return self._current

    @property
    def deadlines(self) -> list[DeadlineFact]:
        """``deadline_facts`` of the current state, worked out once per state (the case-state
        and the deadline read models both need them)."""
        current = self.current
        if self._deadlines is None or self._deadlines[0] is not current:
            self._deadlines = (current, deadline_facts(current))
        return list(self._deadlines[1])

    def _admit(self, event: ev.CaseEvent) -> None:
        """Raise ``RuleViolation`` unless ``event`` may be recorded next."""
        current = self.current
        check_recording(self.history, event, closed=current.closed_on is not None)
        if isinstance(event, ev.RecordKeepingEvent):
            return
        if _sorts_last(current, event):
            check_next_event(current, event)
        else:
            check_timeline(self.history, event)

    @classmethod
    def open(
        cls,
        *,
        case_id: UUID,
        event_id: UUID,
        occurred_on: date,
        actor: ev.Actor | dict[str, str],
        recorded_at: datetime | None = None,
        **data: Any,
    ) -> Case:
        """Open a case with its sickness report (*ziekmelding*)."""
        report = ev.SicknessReported(
            originator_topic=get_topic(cls),
            originator_id=case_id,
            originator_version=1,
            timestamp=recorded_at or datetime_now_with_tzinfo(),
            event_id=event_id,
            occurred_on=occurred_on,
            actor=actor,
            **data,
        )
        Case._admit_opening(report)
        case = report.mutate(None)
        assert isinstance(case, Case)
        case.pending_events.append(report)
        return case

    def record(
        self,
        event_class: type[ev.CaseEvent],
        *,
        event_id: UUID,
        occurred_on: date,
        actor: ev.Actor | dict[str, str],
        recorded_at: datetime | None = None,
        **data: Any,
    ) -> ev.CaseEvent:
        """Record a fact about this case, or raise ``RuleViolation`` naming the broken rule."""
        if event_class is ev.SicknessReported:
            raise RuleViolation(
                Violation(
                    ONE_SICKNESS_REPORT,
                    "case already has a SicknessReported; renewed "
                    "sickness within 28 days is SicknessResumed",
                    "type",
                    event_id,
                )
            )
        event = event_class(
            originator_id=self.id,
            originator_version=self.version + 1,
            timestamp=recorded_at or datetime_now_with_tzinfo(),
            event_id=event_id,
            occurred_on=occurred_on,
            actor=actor,
            **data,
        )
        self._admit(event)
        event.mutate(self)
        self.pending_events.append(event)
        return event

    @staticmethod
    def _admit_opening(report: ev.SicknessReported) -> None:
        check_recording((), report, closed=False)
        check_timeline((), report)

    def timeline(
        self, *, as_of: date | None = None, known_at: datetime | None = None
    ) -> list[ev.CaseEvent]:
        return effective_events(self.history, as_of=as_of, known_at=known_at)

    @property
    def file(self) -> FileStatus:
        """Record keeping: legal hold and erasure."""
        return file_status(self.history)

    def state(self, *, as_of: date | None = None, known_at: datetime | None = None) -> CaseState:
        """What the file says on ``as_of`` (business date) as known at ``known_at``."""
        if as_of is None and known_at is None:
            return self.current
        return fold(self.timeline(as_of=as_of, known_at=known_at))


def record_fact(
    case: Case | None, case_id: UUID, event_class: type[ev.CaseEvent], **fields: Any
) -> Case:
    """Record a fact in ``case``, opening the case when it does not exist yet."""
    if case is not None:
        case.record(event_class, **fields)
        return case
    if event_class is not ev.SicknessReported:
        raise RuleViolation(
            Violation(
                CASE_OPENS_WITH_REPORT,
                f"case {case_id} does not exist; a case opens with SicknessReported, "
                f"not {event_class.__name__}",
                "case_id",
                fields.get("event_id"),
            )
        )
    return Case.open(case_id=case_id, **fields)


def _sorts_last(state: CaseState, event: ev.CaseEvent) -> bool:
    """Whether ``event`` lands at the end of the effective timeline folded into ``state``."""
    return not isinstance(event, ev.EventCorrected | ev.EventRetracted) and (
        state.last_event_on is None or event.occurred_on >= state.last_event_on
    )


def holds_open_file(state: CaseState) -> bool:
    """Whether the case is the employee's open file at the employer (rule
    one_open_file_per_employee): sick, not recovered and not closed."""
    return state.status is CaseStatus.OPEN


def opens_file(before: CaseState | None, after: CaseState) -> bool:
    """Whether a write takes the case from not open (or not yet there) to open: the report
    of a new case, or a relapse resuming a recovered one. Such a write claims the open file
    of the employee at the employer."""
    return holds_open_file(after) and (before is None or not holds_open_file(before))


def continues_case(state: CaseState, sick_on: date) -> bool:
    """Whether sickness from ``sick_on`` continues this case rather than opening a new
    one: the case recovered less than 28 days before, pregnancy leave not counted
    (samentelling, art. 7:629 lid 10 BW, rule relapse_within_28_days)."""
    if state.status is not CaseStatus.RECOVERED or state.recovered_on is None:
        return False
    if sick_on < state.recovered_on:
        return False
    return state.samentelling_gap_days(sick_on) < RELAPSE_WINDOW_DAYS
