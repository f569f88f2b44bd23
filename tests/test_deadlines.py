"""Worked cases of the deadline engine (issue 3), each citing its rule in poortwachter.md."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta
from typing import Any
from uuid import uuid4

import pytest

from domain.case import Case, record_fact
from domain.deadlines import (
    POORTWACHTER_2002,
    Deadline,
    DeadlineRule,
    DeadlineStatus,
    RuleSet,
    case_deadlines,
)
from domain.events import CATALOGUE
from domain.interchange import event_fields, parse_line
from domain.rules import RuleViolation
from tests.factories import line, report

D = date(2024, 1, 8)  # a Monday
DONE, LATE, OPEN, OVERDUE, NA = (
    DeadlineStatus.DONE,
    DeadlineStatus.DONE_LATE,
    DeadlineStatus.OPEN,
    DeadlineStatus.OVERDUE,
    DeadlineStatus.NOT_APPLICABLE,
)


def day(n: int) -> date:
    """Sick day n (day 1 is the first sick day)."""
    return D + timedelta(days=n - 1)


def build(specs: list[tuple[str, date, dict[str, Any]]], first: date = D) -> Case:
    cid = uuid4()
    case: Case | None = None
    items = [report(cid, first)] + [line(cid, t, on, **data) for t, on, data in specs]
    for item in items:
        parsed = parse_line(json.dumps(item))
        case = record_fact(case, parsed.case_id, CATALOGUE[parsed.type], **event_fields(parsed))
    assert case is not None
    return case


def get(case: Case, name: str, on: date) -> Deadline:
    rows = [d for d in case_deadlines(case.timeline(), on) if d.deadline == name]
    return rows[-1]


def test_on_time_case() -> None:
    """s1: ziekmelding week 1, probleemanalyse week 6, plan van aanpak week 8."""
    case = build(
        [
            ("ReportedToOccupationalPhysician", day(3), {}),
            ("ProblemAnalysisCompleted", day(40), {}),
            ("PlanOfApproachAgreed", day(50), {"goal": "own_work"}),
        ]
    )
    on = day(60)
    assert get(case, "report_to_occupational_physician", on).status is DONE
    pa = get(case, "problem_analysis", on)
    assert (pa.status, pa.due_on, pa.done_on, pa.days_late) == (DONE, day(42), day(40), 0)
    assert get(case, "plan_of_approach", on).due_on == day(54)  # 2 weeks after the analysis
    assert get(case, "plan_of_approach", on).status is DONE
    evaluation = get(case, "plan_evaluation", on)
    assert (evaluation.status, evaluation.due_on) == (OPEN, day(50 + 42))
    assert get(case, "uwv_notification", on).status is OPEN


def test_late_problem_analysis() -> None:
    """s1: probleemanalyse by the end of week 6 (day 42); done on day 45 is 3 days late."""
    case = build([("ProblemAnalysisCompleted", day(45), {})])
    row = get(case, "problem_analysis", day(50))
    assert (row.status, row.days_late) == (LATE, 3)
    assert get(case, "problem_analysis", day(43)).status is OVERDUE


def test_uwv_notification_on_the_first_working_day_after_week_42() -> None:
    """s1: 42e-weeksmelding; first sick day Saturday 2024-01-06 ends week 42 on a Friday,
    so the notification is due on the Monday after."""
    saturday = date(2024, 1, 6)
    case = build([], first=saturday)
    row = get(case, "uwv_notification", saturday + timedelta(days=10))
    end_of_week_42 = saturday + timedelta(days=7 * 42 - 1)
    assert end_of_week_42.weekday() == 4  # Friday
    assert row.due_on == end_of_week_42 + timedelta(days=3)
    assert row.due_on.weekday() == 0


def test_relapse_after_ten_days_moves_later_dates_by_ten() -> None:
    """s2 samentelling (art. 7:629 lid 10 BW): the gap does not count."""
    plain = build([])
    relapsed = build([("RecoveryReported", day(20), {}), ("SicknessResumed", day(30), {})])
    on = day(31)
    for name in ("problem_analysis", "uwv_notification", "wia_application"):
        assert get(relapsed, name, on).due_on == get(plain, name, on).due_on + timedelta(days=10)
    assert get(relapsed, "report_to_occupational_physician", on).due_on == day(7)


def test_relapse_after_thirty_days_is_a_new_case_with_its_own_deadlines() -> None:
    """s2 (art. 7:629 lid 10 BW): sickness 28 days or more after recovery is not added up;
    the old case refuses it (rule relapse_within_28_days) and a new case counts from day 1."""
    old = build([("RecoveryReported", day(20), {})])
    with pytest.raises(RuleViolation) as refused:
        old.record(
            CATALOGUE["SicknessResumed"],
            event_id=uuid4(),
            occurred_on=day(50),
            actor={"role": "employer", "id": "ER1"},
        )
    assert refused.value.rule.name == "relapse_within_28_days"
    new = build([], first=day(50))
    on = day(51)
    assert get(new, "problem_analysis", on).due_on == day(50) + timedelta(days=6 * 7 - 1)
    assert get(new, "wia_application", on).due_on == day(50) + timedelta(days=93 * 7 - 1)
    assert get(old, "problem_analysis", on).status is NA  # recovered before it was due


def test_partial_resumption_keeps_the_clock_running() -> None:
    """s2: gedeeltelijke werkhervatting does not stop the clock."""
    plain, partial = (
        build([]),
        build([("WorkPartiallyResumed", day(20), {"incapacity_percent": 50})]),
    )
    assert (
        get(partial, "uwv_notification", day(30)).due_on
        == get(plain, "uwv_notification", day(30)).due_on
    )


def test_second_track_required_after_first_year_evaluation() -> None:
    """s1: start 2e spoor within 6 weeks after a first-year evaluation that requires it."""
    evaluated = day(7 * 50)
    case = build([("FirstYearEvaluationCompleted", evaluated, {"second_track_needed": True})])
    row = get(case, "second_track_start", evaluated + timedelta(days=1))
    assert (row.status, row.due_on) == (OPEN, evaluated + timedelta(weeks=6))
    no_need = build([("FirstYearEvaluationCompleted", evaluated, {"second_track_needed": False})])
    assert not [
        d
        for d in case_deadlines(no_need.timeline(), evaluated)
        if d.deadline == "second_track_start"
    ]


def test_sanction_of_26_weeks_then_shortened() -> None:
    """s3: loonsanctie sets the end of wage continuation; bekorting moves it back."""
    normal_end = day(7 * 104)
    case = build(
        [
            (
                "WageSanctionImposed",
                day(7 * 100),
                {"kind": "substantive", "ends_on": normal_end + timedelta(weeks=26)},
            )
        ]
    )
    assert get(case, "end_of_wage_continuation", day(7 * 100)).due_on == normal_end + timedelta(
        weeks=26
    )
    shortened = build(
        [
            (
                "WageSanctionImposed",
                day(7 * 100),
                {"kind": "substantive", "ends_on": normal_end + timedelta(weeks=26)},
            ),
            ("WageSanctionShortened", day(7 * 102), {"ends_on": normal_end + timedelta(weeks=8)}),
        ]
    )
    assert get(
        shortened, "end_of_wage_continuation", day(7 * 102)
    ).due_on == normal_end + timedelta(weeks=8)


def test_voluntary_extension_moves_the_wia_application_and_the_end() -> None:
    """s3 vrijwillige verlenging: waiting time and WIA application move by the weeks agreed."""
    plain = build([])
    extended = build([("WaitingTimeExtended", day(7 * 80), {"weeks": 10})])
    on = day(7 * 80)
    for name in ("wia_application", "end_of_wage_continuation"):
        assert get(extended, name, on).due_on == get(plain, name, on).due_on + timedelta(weeks=10)


def test_a_retracted_problem_analysis_makes_the_deadline_unmet_again() -> None:
    """Issue 3 item 3: corrections and retractions change the result."""
    case = build([("ProblemAnalysisCompleted", day(30), {})])
    analysis = case.history[-1]
    assert get(case, "problem_analysis", day(50)).status is DONE
    case.record(
        CATALOGUE["EventRetracted"],
        event_id=uuid4(),
        occurred_on=day(50),
        actor={"role": "occupational_physician", "id": "op-1"},
        retracts=analysis.event_id,
        reason="analysis was of another employee",
    )
    assert get(case, "problem_analysis", day(50)).status is OVERDUE


def test_deadlines_stop_applying_after_recovery() -> None:
    """Issue 3: a deadline stops applying when the case recovers before it is due; issue 17:
    one it left undone is missed, late by the days up to the file's last sick day, and stays
    so."""
    case = build(
        [("RecoveryReported", day(10), {}), ("CaseClosed", day(11), {"outcome": "recovered"})]
    )
    assert get(case, "problem_analysis", day(60)).status is NA
    for on in (day(11), day(60), day(600)):
        missed = get(case, "report_to_occupational_physician", on)
        assert (missed.status, missed.days_late) == (DeadlineStatus.MISSED, 2)  # days 8 and 9


def test_a_later_rule_set_changes_only_the_cases_it_applies_to() -> None:
    """s8: rules change; a one-year wage-continuation variant from 2027 (hypothetical)."""
    one_year = RuleSet(
        "one-year-2027",
        date(2027, 1, 1),
        tuple(
            replace(r, due=lambda s: s.clock.end_of_week(52))
            if r.name == "end_of_wage_continuation"
            else r
            for r in POORTWACHTER_2002.rules
        ),
    )
    sets: list[RuleSet] = [POORTWACHTER_2002, one_year]
    old_case = build([])
    rows_old = case_deadlines(old_case.timeline(), day(10), sets)
    assert {r.rule_set for r in rows_old} == {"poortwachter-2002"}
    assert rows_old == case_deadlines(old_case.timeline(), day(10))
    new_first = date(2027, 1, 4)
    new_case = build([], first=new_first)
    rows_new = case_deadlines(new_case.timeline(), new_first, sets)
    assert {r.rule_set for r in rows_new} == {"one-year-2027"}
    end = next(r for r in rows_new if r.deadline == "end_of_wage_continuation")
    assert end.due_on == new_first + timedelta(days=7 * 52 - 1)
    assert isinstance(one_year.rules[0], DeadlineRule)


def test_sickness_before_the_first_rule_set_has_no_poortwachter_deadlines() -> None:
    """s8: the Wet verbetering poortwachter applies to sickness from 1 April 2002 on."""
    old = build([], first=date(2002, 3, 31))
    assert case_deadlines(old.timeline(), date(2002, 6, 1)) == []
    first = build([], first=date(2002, 4, 1))
    assert get(first, "problem_analysis", date(2002, 4, 2)).due_on == date(2002, 5, 12)
