"""What a UWV reviewer checks in a re-integration report (rules reference s4): the
required documents first, each with its date and whether it was on time; then the
second track, expert opinions, sanctions and suspensions, and every correction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from domain import events as ev
from domain.deadlines import Deadline, DeadlineStatus, case_deadlines

CURRENT_OPINION_DAYS = 91  # an opinion older than about three months is not current
# Before this day the ledger had no CurrentOpinionIssued: the physician's last fact before
# the RIV stood for the current opinion, as the review then checked it (a dated rule, s8).
CURRENT_OPINION_EVENT_SINCE = datetime(2026, 12, 1, tzinfo=UTC)


@dataclass(frozen=True)
class DocumentCheck:
    document: str
    dutch: str
    required: bool
    present: bool
    dates: list[str]
    due_on: str | None
    on_time: bool | None
    note: str


# (name, Dutch term, the event that is the document, the deadline it answers)
DOCUMENTS: tuple[tuple[str, str, type[ev.CaseEvent], str | None], ...] = (
    ("problem_analysis", "probleemanalyse", ev.ProblemAnalysisCompleted, "problem_analysis"),
    ("plan_of_approach", "plan van aanpak", ev.PlanOfApproachAgreed, "plan_of_approach"),
    ("first_year_evaluation", "eerstejaarsevaluatie", ev.FirstYearEvaluationCompleted,
     "first_year_evaluation"),
    ("final_evaluation", "eindevaluatie", ev.FinalEvaluationCompleted, "final_evaluation"),
    ("wia_application", "WIA-aanvraag", ev.WIAApplied, "wia_application"),
    ("reintegration_report", "re-integratieverslag", ev.ReintegrationReportSubmitted,
     "reintegration_report"),
)  # fmt: skip


def _document(
    name: str, dutch: str, kind: type[ev.CaseEvent], deadline: Deadline | None,
    timeline: Sequence[ev.CaseEvent],
) -> DocumentCheck:  # fmt: skip
    found = [e.occurred_on.isoformat() for e in timeline if _is_document(e, kind)]
    due = deadline.due_on.isoformat() if deadline else None
    status = deadline.status if deadline else None
    required = (
        status is not None
        and status is not DeadlineStatus.NOT_APPLICABLE
        and (status is not DeadlineStatus.OPEN)
    )
    on_time = None if not found or deadline is None else status is DeadlineStatus.DONE
    if found:
        late = deadline.days_late if deadline else None
        note = "" if deadline is None else "on time" if on_time else f"{late} days late"
    elif required:
        note = f"MISSING: was due {due}"
    else:
        note = "not yet due" if status is DeadlineStatus.OPEN else "not required"
    return DocumentCheck(name, dutch, required, bool(found), found, due, on_time, note)


def _is_document(event: ev.CaseEvent, kind: type[ev.CaseEvent]) -> bool:
    """A version-1 RIV was the WIA application too (``with_wia_application``)."""
    if kind is ev.WIAApplied and isinstance(event, ev.ReintegrationReportSubmitted):
        return event.with_wia_application
    return isinstance(event, kind)


def _adjustments(timeline: Sequence[ev.CaseEvent], on: date) -> DocumentCheck:
    """Every evaluation cycle that fell due must have its evaluation (s1: every 6 weeks);
    the adjustments among them are listed."""
    evaluations = [e for e in timeline if isinstance(e, ev.PlanEvaluated)]
    adjusted = [e for e in evaluations if e.adjustment is not ev.PlanAdjustment.NONE]
    overdue = [
        d for d in case_deadlines(timeline, on)
        if d.deadline == "plan_evaluation" and d.status is DeadlineStatus.OVERDUE
    ]  # fmt: skip
    note = f"{len(evaluations)} evaluation(s), {len(adjusted)} adjusting the plan"
    if overdue:
        note = f"MISSING: the evaluation due {overdue[0].due_on.isoformat()}; " + note
    return DocumentCheck(
        "evaluations_and_adjustments", "evaluaties en bijstellingen", bool(overdue) or bool(
            evaluations
        ), bool(evaluations) and not overdue, [e.occurred_on.isoformat() for e in evaluations],
        None, None, note,
    )  # fmt: skip


def _labour_expert(timeline: Sequence[ev.CaseEvent]) -> DocumentCheck:
    """Required where one was made (art. 6 Regeling procesgang): present when recorded."""
    found = [e.occurred_on.isoformat() for e in timeline
             if isinstance(e, ev.LabourExpertReportCompleted)]  # fmt: skip
    note = f"{len(found)} report(s)" if found else "none made (required only where one was made)"
    return DocumentCheck(
        "labour_expert_report", "arbeidsdeskundig rapport", bool(found), bool(found), found,
        None, None, note,
    )  # fmt: skip


def _current_opinion(
    timeline: Sequence[ev.CaseEvent], deadlines: dict[str, Deadline], on: date
) -> DocumentCheck:
    """The physician's current opinion (*actueel oordeel*) goes with the final evaluation and
    the RIV: required once either is due or done, and current when at most about three
    months older than the RIV (or than the day of the review, before there is one)."""
    reports = [e.occurred_on for e in timeline if isinstance(e, ev.ReintegrationReportSubmitted)]
    reference = min(reports) if reports else on
    opinions = [
        e.occurred_on
        for e in timeline
        if isinstance(e, ev.CurrentOpinionIssued) and e.occurred_on <= reference
    ]
    stand_in = not opinions and _opinion_stand_in(timeline, reference)
    if stand_in:
        opinions = [stand_in]
    latest = max(opinions, default=None)
    current = latest is not None and latest >= reference - timedelta(days=CURRENT_OPINION_DAYS)
    due = [deadlines.get(name) for name in ("final_evaluation", "reintegration_report")]
    required = bool(reports) or any(
        d is not None and d.status not in (DeadlineStatus.OPEN, DeadlineStatus.NOT_APPLICABLE)
        for d in due
    )
    note = (
        "none recorded (CurrentOpinionIssued)" if latest is None
        else f"last opinion {latest}, more than {CURRENT_OPINION_DAYS} days before {reference}"
        if not current
        else f"the physician's fact of {latest}, recorded before CurrentOpinionIssued existed"
        if stand_in
        else "current"
    )  # fmt: skip
    return DocumentCheck(
        "current_occupational_physician_opinion", "actueel oordeel bedrijfsarts", required,
        current, [d.isoformat() for d in opinions], None, None, note,
    )  # fmt: skip


# Each way of withholding wages and the warning it needs first (art. 7:629 lid 3 and 6 BW).
def _opinion_stand_in(timeline: Sequence[ev.CaseEvent], reference: date) -> date | None:
    """For a file whose RIV was recorded before ``CURRENT_OPINION_EVENT_SINCE``: the
    physician's last fact on or before the reference day, recorded before then too."""
    reports = [e for e in timeline if isinstance(e, ev.ReintegrationReportSubmitted)]
    if any(e.recorded_at >= CURRENT_OPINION_EVENT_SINCE for e in reports):
        return None
    before = [
        e.occurred_on
        for e in timeline
        if e.actor.role is ev.ActorRole.OCCUPATIONAL_PHYSICIAN
        and e.occurred_on <= reference
        and e.recorded_at < CURRENT_OPINION_EVENT_SINCE
    ]
    return max(before, default=None)


WAGE_MEASURES: dict[type[ev.CaseEvent], ev.WarningSubject] = {
    ev.WagePaymentSuspended: ev.WarningSubject.CONTROL_RULES,
    ev.WagePaymentStopped: ev.WarningSubject.OBSTRUCTION,
}


def _findings(timeline: Sequence[ev.CaseEvent]) -> list[str]:
    """What a reviewer should ask about: wages withheld without a written warning about
    that ground first (rules reference s3: by the employer, after a written warning)."""
    found: list[str] = []
    warned: set[ev.WarningSubject] = set()
    for event in timeline:
        if isinstance(event, ev.WrittenWarningIssued):
            warned.add(event.about)
        elif (needed := WAGE_MEASURES.get(type(event))) is not None:
            if needed not in warned:
                found.append(f"{event.type} on {event.occurred_on} without a written warning "
                             f"about {needed.value} before it (WrittenWarningIssued)")  # fmt: skip
            warned.discard(needed)  # each measure needs its own warning
    return found


SECOND_TRACK = (
    ev.FirstYearEvaluationCompleted,
    ev.SecondTrackStarted,
    ev.SecondTrackPlacement,
    ev.SecondTrackEnded,
)
EXPERT_OPINIONS = (ev.ExpertOpinionRequested, ev.ExpertOpinionIssued)
# (2) a satisfactory result? what work was resumed, recovery, how the case ended
RESULT = (
    ev.WorkPartiallyResumed,
    ev.RecoveryReported,
    ev.SicknessResumed,
    ev.EmploymentEnded,
    ev.WIADecided,
    ev.CaseClosed,
)
SANCTIONS = (
    ev.WrittenWarningIssued,
    ev.WagePaymentSuspended,
    ev.WagePaymentSuspensionLifted,
    ev.WagePaymentStopped,
    ev.WagePaymentResumed,
    ev.WageSanctionImposed,
    ev.WageSanctionShortened,
    ev.SanctionShorteningRequested,
    ev.SanctionShorteningDecided,
    ev.LateNotificationFined,
)
UWV_CORRESPONDENCE = (
    ev.UWVNotified,
    ev.RecoveryReportedToUWV,
    ev.EarlyIVAApplied,
    ev.WIAApplicationLetterSent,
)


def _facts(
    timeline: Sequence[ev.CaseEvent], kinds: tuple[type[ev.CaseEvent], ...]
) -> list[dict[str, Any]]:
    return [
        {
            "type": e.type,
            "occurred_on": e.occurred_on.isoformat(),
            "recorded_by": f"{e.actor.role.value}:{e.actor.id}",
            "data": e.payload(),
        }
        for e in timeline
        if isinstance(e, kinds)
    ]


def review(
    history: Sequence[ev.CaseEvent], timeline: Sequence[ev.CaseEvent], on: date
) -> dict[str, Any]:
    """The review as of ``on``: ``timeline`` is the effective one, ``history`` every
    recorded event (for the corrections)."""
    timeline = [e for e in timeline if e.occurred_on <= on]  # what the file held then
    history = [e for e in history if e.occurred_on <= on]
    deadlines = {d.deadline: d for d in case_deadlines(timeline, on)}
    documents = [
        _document(name, dutch, kind, deadlines.get(deadline) if deadline else None, timeline)
        for name, dutch, kind, deadline in DOCUMENTS
    ]
    documents.insert(2, _adjustments(timeline, on))
    documents.insert(4, _current_opinion(timeline, deadlines, on))
    documents.insert(6, _labour_expert(timeline))
    missing = [d.document for d in documents if d.required and not d.present]
    return {
        "on": on.isoformat(),
        "documents_complete": not missing,
        "missing_documents": missing,
        "documents": [asdict(d) for d in documents],
        "findings": _findings(timeline),
        "uwv": _facts(timeline, UWV_CORRESPONDENCE),
        "result": _facts(timeline, RESULT),
        "second_track": _facts(timeline, SECOND_TRACK),
        "expert_opinions": _facts(timeline, EXPERT_OPINIONS),
        "sanctions_and_suspensions": _facts(timeline, SANCTIONS),
        "corrections": _facts(history, ev.CORRECTION_TYPES),
    }
