"""Deadlines of files that ended (issue 17): nothing is open or overdue once a file closed
or recovered; what it left undone is missed, its lateness frozen at the end.

Rules reference s1 (the deadlines), s2 (recovery ends the period; a relapse within 28 days
continues it) and issue 17 item 2.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import UUID, uuid4

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.case import Case
from domain.deadlines import DeadlineStatus, case_deadlines, deadline_facts, next_due
from domain.state import SecondTrackStatus
from projections.deadlines import CaseDeadline, DeadlineQuery
from tests.factories import build_case as build
from tests.factories import line, report

D = date(2025, 1, 6)  # a Monday
MISSED, DONE, NA, OPEN, OVERDUE = (
    DeadlineStatus.MISSED,
    DeadlineStatus.DONE,
    DeadlineStatus.NOT_APPLICABLE,
    DeadlineStatus.OPEN,
    DeadlineStatus.OVERDUE,
)
MANAGER = ("case_manager", "cm-1")


def day(n: int) -> date:
    return D + timedelta(days=n - 1)




def deadlines(case: Case, on: date) -> dict[str, Any]:
    return {d.deadline: d for d in case_deadlines(case.timeline(), on)}


def test_a_closed_file_shows_nothing_overdue_and_its_plan_evaluation_missed() -> None:
    """Issue 17: a closed file showed a plan evaluation "overdue (283 days)"; the evaluation
    due 6 weeks after the plan, never held, is missed by the days up to the closing."""
    cid = uuid4()
    case = build([
        report(cid, D),
        line(cid, "ReportedToOccupationalPhysician", day(3)),
        line(cid, "ProblemAnalysisCompleted", day(30), actor=("occupational_physician", "op")),
        line(cid, "PlanOfApproachAgreed", day(40), goal="own_work"),
        line(cid, "EmploymentEnded", day(100), reason="end_of_contract"),
        line(cid, "CaseClosed", day(100), actor=MANAGER, outcome="employment_ended"),
    ])  # fmt: skip
    for on in (day(100), day(400), day(2000)):
        rows = deadlines(case, on)
        evaluation = rows["plan_evaluation"]
        assert (evaluation.status, evaluation.due_on) == (MISSED, day(82))
        assert evaluation.days_late == 18  # day 82 to the closing on day 100, whatever ``on``
        # leaving employment before week 42: UWV is told on the last working day, the
        # closing day itself (s1); missed, with no day of lateness
        notification = rows["uwv_notification"]
        assert (notification.status, notification.days_late) == (MISSED, 0)
        assert rows["first_year_evaluation"].status is NA  # due after the end
        assert rows["end_of_wage_continuation"].status is NA  # the file ended long before
        assert not {d.status for d in rows.values()} & {OPEN, OVERDUE}
        assert {d.file_ended_on for d in rows.values()} == {day(100)}  # closed while sick
    assert next_due(deadline_facts(case.current)) is None


def test_a_recovered_file_ends_at_the_recovery_and_a_relapse_reopens_it() -> None:
    """s2: recovery (hersteldmelding) ends the period; sick again within 28 days, the same
    case goes on and its deadlines with it."""
    cid = uuid4()
    recovered = [report(cid, D), line(cid, "RecoveryReported", day(50))]
    case = build(recovered)
    analysis = deadlines(case, day(300))["problem_analysis"]
    assert (analysis.status, analysis.days_late) == (MISSED, 49 - 42)  # due 42, last sick 49
    assert deadlines(case, day(300))["uwv_notification"].status is NA

    relapsed = build([*recovered, line(cid, "SicknessResumed", day(60))])
    rows = deadlines(relapsed, day(70))
    assert rows["problem_analysis"].status is OVERDUE
    assert rows["uwv_notification"].status is OPEN
    assert rows["uwv_notification"].file_ended_on is None


def test_a_trajectory_running_at_the_closing_is_ended_by_it() -> None:
    """Issue 17: a closed file whose second track was never ended showed it running."""
    cid = uuid4()
    case = build([
        report(cid, D),
        line(cid, "FirstYearEvaluationCompleted", day(350), actor=MANAGER,
             second_track_needed=True),
        line(cid, "SecondTrackStarted", day(360), provider_id="prov-1"),
        line(cid, "CaseClosed", day(400), actor=MANAGER, outcome="other"),
    ])  # fmt: skip
    assert case.current.second_track is SecondTrackStatus.ENDED
    assert case.state(as_of=day(399)).second_track is SecondTrackStatus.RUNNING


def test_the_week_of_a_file_never_passes_the_end_of_wage_continuation() -> None:
    """Issue 17: a case page said "week 110 of 104"."""
    cid = uuid4()
    case = build([report(cid, D)])
    state = case.current
    assert state.wage_continuation_weeks == 104
    assert state.sick_week(day(1)) == 1
    assert state.sick_week(day(8)) == 2
    assert state.sick_week(day(7 * 110)) == 104
    closed = build([report(cid, D), line(cid, "CaseClosed", day(30), actor=MANAGER,
                                          outcome="other")])  # fmt: skip
    assert closed.current.sick_week(day(900)) == 5  # ended in week 5


def test_a_task_done_after_the_end_counts_as_done() -> None:
    cid = uuid4()
    case = build([
        report(cid, D),
        line(cid, "RecoveryReported", day(20)),
        line(cid, "ReportedToOccupationalPhysician", day(25)),  # recorded after, for the file
    ])  # fmt: skip
    row = deadlines(case, day(40))["report_to_occupational_physician"]
    assert (row.status, row.days_late) == (DeadlineStatus.DONE_LATE, 25 - 7)


TASKS: list[tuple[str, dict[str, Any]]] = [
    ("ReportedToOccupationalPhysician", {}),
    ("ProblemAnalysisCompleted", {}),
    ("PlanOfApproachAgreed", {"goal": "own_work"}),
    ("PlanEvaluated", {}),
    ("UWVNotified", {}),
    ("FirstYearEvaluationCompleted", {"second_track_needed": True}),
    ("SecondTrackStarted", {}),
    ("FinalEvaluationCompleted", {}),
    ("WIAApplied", {}),
    ("ReintegrationReportSubmitted", {}),
    ("RecoveryReported", {}),
    ("SicknessResumed", {}),
    ("EmploymentEnded", {"reason": "dismissal"}),
]
ENDINGS = ["running", "recovered", "closed", "recovered_then_closed"]


@st.composite
def files(draw: st.DrawFn) -> Case:
    """A file of random facts in business order, ending (or not) in a random way."""
    cid = uuid4()
    facts = draw(st.lists(st.tuples(st.integers(0, len(TASKS) - 1), st.integers(1, 780)),
                          max_size=14))  # fmt: skip
    ending = draw(st.sampled_from(ENDINGS))
    end_day = draw(st.integers(2, 800))
    safety_net = draw(st.booleans())
    items = [(d, TASKS[i][0], TASKS[i][1]) for i, d in facts]
    if ending in ("recovered", "recovered_then_closed"):
        items.append((end_day, "RecoveryReported", {}))
    if ending in ("closed", "recovered_then_closed"):
        items.append((end_day + 3, "CaseClosed", {"outcome": "other"}))
    items.sort(key=lambda item: (item[0], item[1] == "CaseClosed"))
    lines = [report(cid, D, safety_net=safety_net)] + [
        line(cid, kind, day(n), actor=MANAGER, **data) for n, kind, data in items
    ]
    return build(lines, strict=False)


@settings(max_examples=300, deadline=None)
@given(case=files(), later=st.integers(0, 1200))
def test_no_deadline_of_an_ended_file_is_open_or_overdue_after_the_end(
    case: Case, later: int
) -> None:
    """Property (issue 17): on any day after a file ended, none of its deadlines is open
    or overdue, each missed one is late by the days up to the end, and a list of running
    files' work leaves the file out."""
    ended = case.current.ended_on  # the file's last day (a recovery's is the day before it)
    on = (case.current.last_event_on or D) + timedelta(days=later)  # every fact known by then
    rows = case_deadlines(case.timeline(), on)
    running_only = DeadlineQuery(on=on)
    if ended is None:
        assert all(d.file_ended_on is None for d in rows)
        assert {d.status for d in rows} <= set(DeadlineStatus) - {MISSED}
        return
    for row in rows:
        assert row.status not in (OPEN, OVERDUE), row
        assert row.file_ended_on == ended
        if row.status is MISSED:
            assert row.days_late == (ended - row.due_on).days >= 0
        if row.due_on > ended and row.done_on is None:
            assert row.status is NA
        assert not running_only.matches(CaseDeadline(UUID(int=1), row))
    assert next_due(deadline_facts(case.current)) is None
