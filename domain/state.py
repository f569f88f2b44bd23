"""The state of a case as a left fold over its effective timeline.

The fold is lenient: it never rejects anything (that is the rules' job, in
``domain.rules``), so that any stored history can always be read back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from domain import events as ev
from domain.sicktime import DAYS_PER_WEEK, Gap, SickClock, days_within, shortened_sanction_end


class CaseStatus(StrEnum):
    OPEN = "open"
    RECOVERED = "recovered"
    CLOSED = "closed"


class SecondTrackStatus(StrEnum):
    NONE = "none"
    RUNNING = "running"
    PLACED = "placed"
    ENDED = "ended"


class WagePayment(StrEnum):
    PAID = "paid"
    SUSPENDED = "suspended"  # opschorting
    STOPPED = "stopped"  # stopzetting


class CasePhase(StrEnum):
    """The furthest step of the Poortwachter process the file has reached (rules reference s1)."""

    REPORTED = "reported"
    PROBLEM_ANALYSIS = "problem_analysis"
    PLAN_OF_APPROACH = "plan_of_approach"
    UWV_NOTIFIED = "uwv_notified"
    FIRST_YEAR_EVALUATED = "first_year_evaluated"
    SECOND_TRACK = "second_track"
    FINAL_EVALUATION = "final_evaluation"
    WIA_APPLICATION = "wia_application"
    RECOVERED = "recovered"
    CLOSED = "closed"


# Later steps first: the first one found in the milestones is the phase.
_PHASE_STEPS: tuple[tuple[CasePhase, type[ev.CaseEvent]], ...] = (
    (CasePhase.WIA_APPLICATION, ev.WIAApplied),
    (CasePhase.WIA_APPLICATION, ev.ReintegrationReportSubmitted),
    (CasePhase.FINAL_EVALUATION, ev.FinalEvaluationCompleted),
    (CasePhase.SECOND_TRACK, ev.SecondTrackStarted),
    (CasePhase.FIRST_YEAR_EVALUATED, ev.FirstYearEvaluationCompleted),
    (CasePhase.UWV_NOTIFIED, ev.UWVNotified),
    (CasePhase.PLAN_OF_APPROACH, ev.PlanOfApproachAgreed),
    (CasePhase.PROBLEM_ANALYSIS, ev.ProblemAnalysisCompleted),
)


@dataclass(frozen=True)
class Sanction:
    kind: ev.SanctionKind
    imposed_on: date
    ends_on: date


@dataclass(frozen=True)
class CaseState:
    """What the file says about a case, derived from its effective events."""

    case_id: UUID
    employee_id: str | ev.Withheld  # withheld once the employee's keys are erased
    employer_id: str
    sector: str | None
    first_sick_day: date
    status: CaseStatus = CaseStatus.OPEN
    incapacity_percent: int = 100
    recovered_on: date | None = None
    gaps: tuple[Gap, ...] = ()
    case_manager_id: str | None = None
    goal: ev.Goal | None = None
    second_track: SecondTrackStatus = SecondTrackStatus.NONE
    second_track_started_on: date | None = None
    second_track_needed_on: date | None = None
    second_track_end_reason: ev.SecondTrackEndReason | None = None
    wage_payment: WagePayment = WagePayment.PAID
    sanction: Sanction | None = None
    extension_weeks: int = 0
    employment_ended: ev.EmploymentEndReason | None = None
    wia_outcome: ev.WIAOutcome | None = None
    closed_on: date | None = None
    outcome: ev.CaseOutcome | None = None
    last_event_type: str | None = None
    last_event_on: date | None = None
    event_count: int = 0
    subject_id: UUID | None = None  # the ledger's pseudonym of the employee
    safety_net: bool = False  # that a safety-net provision applies, never which (s5)
    safety_net_period: ev.SafetyNetPeriod | None = None  # established by the physician
    safety_net_established_on: date | None = None
    on_leave_since: date | None = None  # pregnancy and maternity leave under way
    leave_expected_end: date | None = None
    leaves: tuple[Gap, ...] = ()  # completed pregnancy leaves (they do not count, s2)
    shortening_requested_on: date | None = None  # a bekortingsverzoek awaiting UWV
    # The business dates of each kind of fact, for deadlines and reviews.
    milestones: dict[str, tuple[date, ...]] = field(default_factory=dict)

    @property
    def clock(self) -> SickClock:
        return SickClock(self.first_sick_day, (*self.gaps, *self.leave_gaps))

    @property
    def leave_gaps(self) -> tuple[Gap, ...]:
        """Pregnancy leaves, the one under way until its expected end."""
        if self.on_leave_since is None or self.leave_expected_end is None:
            return self.leaves
        return (*self.leaves, Gap(self.on_leave_since, self.leave_expected_end))

    @property
    def ended_on(self) -> date | None:
        """The last day of the file, once it ended: the last sick day before a recovery
        (with no relapse yet), or the day it was closed while sick."""
        if self.status is CaseStatus.OPEN:
            return None
        if self.recovered_on is not None:
            return self.recovered_on - timedelta(days=1)
        return self.closed_on

    def samentelling_gap_days(self, sick_on: date) -> int:
        """Days since the recovery that count toward the 28-day gap of samentelling:
        pregnancy leave does not (art. 7:629 lid 10 BW; rules reference s2)."""
        if self.recovered_on is None:
            return 0
        gap = (sick_on - self.recovered_on).days
        return gap - days_within(self.leave_gaps, self.recovered_on, sick_on)

    @property
    def wage_continuation_weeks(self) -> int:
        """The weeks of sick time up to the end of wage continuation (104, more after an
        extension or a sanction)."""
        counted = self.clock.counted_sick_days(self.end_of_wage_continuation)
        return -(-counted // DAYS_PER_WEEK)

    def sick_week(self, on: date) -> int:
        """The week of sickness the file stands in on ``on`` (or stood in when it ended),
        never beyond the end of wage continuation."""
        counted = self.counted_sick_days(on)
        return min(max(-(-counted // DAYS_PER_WEEK), 1), self.wage_continuation_weeks)

    @property
    def end_of_waiting_time(self) -> date:
        return self.clock.end_of_waiting_time(self.extension_weeks)

    @property
    def end_of_wage_continuation(self) -> date:
        """Week 104 moved by samentelling and extensions, or the sanction's end."""
        if self.sanction is not None and self.sanction.ends_on > self.end_of_waiting_time:
            return self.sanction.ends_on
        return self.end_of_waiting_time

    @property
    def phase(self) -> CasePhase:
        if self.status is CaseStatus.CLOSED:
            return CasePhase.CLOSED
        if self.status is CaseStatus.RECOVERED:
            return CasePhase.RECOVERED
        for phase, step in _PHASE_STEPS:
            if step.__name__ in self.milestones:
                return phase
        return CasePhase.REPORTED

    def counted_sick_days(self, on: date) -> int:
        """Sick days counted by ``on``; an ended file stops counting at its last day."""
        ended = self.ended_on
        return self.clock.counted_sick_days(on if ended is None else min(on, ended))

    def to_json(self, on: date) -> dict[str, Any]:
        return {
            "case_id": str(self.case_id),
            "employee_id": self.employee_id
            if isinstance(self.employee_id, str)
            else self.employee_id.model_dump(),
            "employer_id": self.employer_id,
            "sector": self.sector,
            "safety_net": self.safety_net,
            "on_pregnancy_leave": self.on_leave_since is not None,
            "pregnancy_leave_until": _iso(self.leave_expected_end),
            "status": self.status.value,
            "phase": self.phase.value,
            "first_sick_day": self.first_sick_day.isoformat(),
            "incapacity_percent": self.incapacity_percent,
            "counted_sick_days": self.counted_sick_days(on),
            "recovered_on": _iso(self.recovered_on),
            "case_manager_id": self.case_manager_id,
            "goal": self.goal.value if self.goal else None,
            "second_track": self.second_track.value,
            "wage_payment": self.wage_payment.value,
            "sanction": None
            if self.sanction is None
            else {
                "kind": self.sanction.kind.value,
                "imposed_on": self.sanction.imposed_on.isoformat(),
                "ends_on": self.sanction.ends_on.isoformat(),
            },
            "extension_weeks": self.extension_weeks,
            "end_of_wage_continuation": self.end_of_wage_continuation.isoformat(),
            "employment_ended": self.employment_ended.value if self.employment_ended else None,
            "wia_outcome": self.wia_outcome.value if self.wia_outcome else None,
            "closed_on": _iso(self.closed_on),
            "outcome": self.outcome.value if self.outcome else None,
            "last_event_type": self.last_event_type,
            "last_event_on": _iso(self.last_event_on),
            "event_count": self.event_count,
        }


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


# A transition names the fields an event changes; ``evolve`` applies them in one step.
Transition = Callable[[CaseState, Any], dict[str, Any]]


def _resumed(state: CaseState, event: ev.SicknessResumed) -> dict[str, Any]:
    gaps = state.gaps
    if state.recovered_on is not None:
        gaps = (*gaps, Gap(state.recovered_on, event.occurred_on))
    return {
        "status": CaseStatus.OPEN,
        "recovered_on": None,
        "gaps": gaps,
        "incapacity_percent": event.incapacity_percent,
    }


def _sanction_shortened(state: CaseState, event: ev.WageSanctionShortened) -> dict[str, Any]:
    if state.sanction is None:
        return {}
    return {"sanction": replace(state.sanction, ends_on=event.ends_on)}


def _shortening_decided(state: CaseState, event: ev.SanctionShorteningDecided) -> dict[str, Any]:
    changes: dict[str, Any] = {"shortening_requested_on": None}
    if event.granted and state.sanction is not None:
        ends_on = shortened_sanction_end(
            state.sanction.ends_on, state.end_of_waiting_time, event.occurred_on
        )
        changes["sanction"] = replace(state.sanction, ends_on=ends_on)
    return changes


def _leave_ended(state: CaseState, event: ev.PregnancyLeaveEnded) -> dict[str, Any]:
    if state.on_leave_since is None:
        return {}
    return {
        "leaves": (*state.leaves, Gap(state.on_leave_since, event.occurred_on)),
        "on_leave_since": None,
        "leave_expected_end": None,
    }


def _closed(state: CaseState, event: ev.CaseClosed) -> dict[str, Any]:
    changes: dict[str, Any] = {
        "status": CaseStatus.CLOSED,
        "closed_on": event.occurred_on,
        "outcome": event.outcome,
    }
    if state.second_track is SecondTrackStatus.RUNNING:  # the closing ends the trajectory
        changes["second_track"] = SecondTrackStatus.ENDED
    return changes


TRANSITIONS: dict[type[ev.CaseEvent], Transition] = {
    ev.PlanOfApproachAgreed: lambda s, e: {
        "goal": e.goal,
        "case_manager_id": e.case_manager_id or s.case_manager_id,
    },
    ev.PlanEvaluated: lambda s, e: {"goal": e.goal or s.goal},
    ev.CaseManagerAppointed: lambda s, e: {"case_manager_id": e.case_manager_id},
    ev.WorkPartiallyResumed: lambda s, e: {"incapacity_percent": e.incapacity_percent},
    ev.RecoveryReported: lambda s, e: {
        "status": CaseStatus.RECOVERED,
        "recovered_on": e.occurred_on,
        "incapacity_percent": 0,
    },
    ev.SicknessResumed: _resumed,
    ev.SecondTrackPlacement: lambda s, e: {"second_track": SecondTrackStatus.PLACED},
    ev.SecondTrackEnded: lambda s, e: {
        "second_track": SecondTrackStatus.ENDED,
        "second_track_end_reason": e.reason,
    },
    ev.SecondTrackStarted: lambda s, e: {
        "second_track": SecondTrackStatus.RUNNING,
        "second_track_started_on": e.occurred_on,
        "second_track_end_reason": None,
    },
    ev.WagePaymentSuspended: lambda s, e: {"wage_payment": WagePayment.SUSPENDED},
    ev.WagePaymentSuspensionLifted: lambda s, e: {"wage_payment": WagePayment.PAID},
    ev.WagePaymentStopped: lambda s, e: {"wage_payment": WagePayment.STOPPED},
    ev.WagePaymentResumed: lambda s, e: {"wage_payment": WagePayment.PAID},
    ev.WageSanctionImposed: lambda s, e: {"sanction": Sanction(e.kind, e.occurred_on, e.ends_on)},
    ev.WageSanctionShortened: _sanction_shortened,
    ev.SanctionShorteningRequested: lambda s, e: {"shortening_requested_on": e.occurred_on},
    ev.SanctionShorteningDecided: _shortening_decided,
    ev.SafetyNetPeriodEstablished: lambda s, e: {
        "safety_net": True,
        "safety_net_period": e.period,
        "safety_net_established_on": e.occurred_on,
    },
    ev.PregnancyLeaveStarted: lambda s, e: {
        "on_leave_since": e.occurred_on,
        "leave_expected_end": e.expected_end_on,
    },
    ev.PregnancyLeaveEnded: _leave_ended,
    ev.WaitingTimeExtended: lambda s, e: {"extension_weeks": s.extension_weeks + e.weeks},
    ev.FirstYearEvaluationCompleted: lambda s, e: {
        "second_track_needed_on": e.occurred_on if e.second_track_needed else None
    },
    ev.WIADecided: lambda s, e: {"wia_outcome": e.outcome},
    ev.EmploymentEnded: lambda s, e: {"employment_ended": e.reason},
    ev.CaseClosed: _closed,
}
# Facts one event also establishes: a version-1 RIV was the WIA application with its report.
IMPLIED_MILESTONES: dict[type[ev.CaseEvent], Callable[[Any], tuple[str, ...]]] = {
    ev.ReintegrationReportSubmitted: lambda e: (
        (ev.WIAApplied.__name__,) if e.with_wia_application else ()
    ),
}


def initial_state(report: ev.SicknessReported) -> CaseState:
    return CaseState(
        case_id=report.originator_id,
        employee_id=report.employee_id,
        subject_id=report.subject_id,
        employer_id=report.employer_id,
        sector=report.sector,
        first_sick_day=report.first_sick_day,
        incapacity_percent=report.incapacity_percent,
        safety_net=report.safety_net,
    )


def evolve(state: CaseState, event: ev.CaseEvent) -> CaseState:
    """One step of the fold: the state after ``event``."""
    transition = TRANSITIONS.get(type(event))
    changes = transition(state, event) if transition is not None else {}
    milestones = dict(state.milestones)
    implied = IMPLIED_MILESTONES.get(type(event))
    for name in (event.type, *(implied(event) if implied is not None else ())):
        milestones[name] = (*milestones.get(name, ()), event.occurred_on)
    return replace(
        state,
        **changes,
        milestones=milestones,
        last_event_type=event.type,
        last_event_on=event.occurred_on,
        event_count=state.event_count + 1,
    )


def opening_report(timeline: Sequence[ev.CaseEvent]) -> ev.SicknessReported:
    for event in timeline:
        if isinstance(event, ev.SicknessReported):
            return event
    msg = "a case's timeline must contain its SicknessReported event"
    raise ValueError(msg)


def fold(timeline: Sequence[ev.CaseEvent]) -> CaseState:
    """The state after every event of an effective timeline (see ``domain.timeline``)."""
    report = opening_report(timeline)
    state = initial_state(report)
    for event in timeline:
        state = evolve(state, event)
    return state
