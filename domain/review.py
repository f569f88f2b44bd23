"""What a UWV reviewer checks in a re-integration report (rules reference s4): the
required documents first, each with its date and whether it was on time; then the
second track, expert opinions, sanctions and suspensions, and every correction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

from domain import events as ev
from domain.deadlines import Deadline, DeadlineStatus, case_deadlines

CURRENT_OPINION_DAYS = 91  # an opinion older than about three months is not current


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
)  # fmt: skip


def _document(
    name: str, dutch: str, kind: type[ev.CaseEvent], deadline: Deadline | None,
    timeline: Sequence[ev.CaseEvent],
) -> DocumentCheck:  # fmt: skip
    found = [e.occurred_on.isoformat() for e in timeline if isinstance(e, kind)]
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


def _labour_expert() -> DocumentCheck:
    return DocumentCheck(
        "labour_expert_report", "arbeidsdeskundig rapport", False, False, [], None, None,
        "where one was made; this ledger does not record labour-expert reports",
    )  # fmt: skip


def _current_opinion(timeline: Sequence[ev.CaseEvent], on: date) -> DocumentCheck:
    by_physician = [e for e in timeline if e.actor.role is ev.ActorRole.OCCUPATIONAL_PHYSICIAN]
    latest = max((e.occurred_on for e in by_physician), default=None)
    current = latest is not None and latest >= on - timedelta(days=CURRENT_OPINION_DAYS)
    note = (
        "none recorded" if latest is None
        else "current" if current
        else f"last opinion {latest}, older than {CURRENT_OPINION_DAYS} days"
    )  # fmt: skip
    return DocumentCheck(
        "current_occupational_physician_opinion", "actueel oordeel bedrijfsarts", True,
        current, [latest.isoformat()] if latest else [], None, None, note,
    )  # fmt: skip


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
    ev.WagePaymentSuspended,
    ev.WagePaymentSuspensionLifted,
    ev.WagePaymentStopped,
    ev.WagePaymentResumed,
    ev.WageSanctionImposed,
    ev.WageSanctionShortened,
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
    documents.insert(4, _current_opinion(timeline, on))
    documents.append(_labour_expert())
    missing = [d.document for d in documents if d.required and not d.present]
    return {
        "on": on.isoformat(),
        "documents_complete": not missing,
        "missing_documents": missing,
        "documents": [asdict(d) for d in documents],
        "result": _facts(timeline, RESULT),
        "second_track": _facts(timeline, SECOND_TRACK),
        "expert_opinions": _facts(timeline, EXPERT_OPINIONS),
        "sanctions_and_suspensions": _facts(timeline, SANCTIONS),
        "corrections": _facts(history, ev.CORRECTION_TYPES),
    }
