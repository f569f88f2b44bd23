"""The UWV notification's shorter periods and pregnancy leave (issue 17 item 3).

Rules reference s1 (shorter notification periods: pregnancy, safety net, leaving
employment before week 42) and s2 (pregnancy leave does not count toward the 28-day gap of
samentelling, nor as sick time).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from domain.case import Case
from domain.deadlines import Deadline, case_deadlines
from domain.outcomes import sick_spells
from domain.rules import RuleViolation
from domain.workdays import first_working_day_after
from tests.api_support import api, auth, event
from tests.factories import build_case as build
from tests.factories import line, report

D = date(2025, 1, 6)  # a Monday
PHYSICIAN = ("occupational_physician", "op-1")


def day(n: int) -> date:
    return D + timedelta(days=n - 1)




def notification(case: Case, on: date | None = None) -> Deadline:
    when = on or case.current.last_event_on or D
    (row,) = [d for d in case_deadlines(case.timeline(), when) if d.deadline == "uwv_notification"]
    return row


STANDARD = first_working_day_after(day(7 * 42))


def test_without_a_shorter_ground_the_42_week_notification_applies() -> None:
    cid = uuid4()
    row = notification(build([report(cid, D)]))
    assert row.due_on == STANDARD
    assert "first working day after week 42" in row.rule
    assert row.rule_set == "poortwachter-2002"


def test_a_safety_net_case_is_notified_by_the_fourth_sick_day() -> None:
    """s1, s5: the ledger knows only *that* a safety-net provision applies, so it takes the
    earliest of the groups' periods: the 4th sick day."""
    cid = uuid4()
    row = notification(build([report(cid, D, safety_net=True)]))
    assert row.due_on == day(4)
    assert "safety-net provision applies" in row.rule


def test_a_safety_net_flag_recorded_later_by_correction_moves_the_due_date() -> None:
    cid = uuid4()
    opened = report(cid, D)
    correction = line(
        cid, "EventCorrected", day(2), corrects=opened["event_id"],
        reason="a provision applies", corrected_data={"safety_net": True},
    )  # fmt: skip
    case = build([opened, correction])
    assert case.current.safety_net is True
    assert notification(case).due_on == day(4)


@pytest.mark.parametrize(
    ("period", "established", "due", "source"),
    [
        # sick through pregnancy before the leave: within 6 weeks (uwv.nl)
        ("within_six_weeks", 10, day(42), "within 6 weeks"),
        ("within_six_weeks", 50, day(50), "within 6 weeks"),  # established after week 6: at once
        # in the flexibilisation period, or after the leave: the 4th sick day (rendement.nl)
        ("by_fourth_sick_day", 2, day(4), "4th sick day"),
        ("by_fourth_sick_day", 9, day(12), "4th sick day"),  # clear only on day 9: 4 days
    ],
)
def test_the_physician_s_safety_net_period_shortens_the_notification(
    period: str, established: int, due: date, source: str
) -> None:
    """s1, s5: the physician establishes the period of a safety-net case (pregnancy-related
    sickness, say) without saying which provision; the rule text names no ground."""
    cid = uuid4()
    finding = line(cid, "SafetyNetPeriodEstablished", day(established), actor=PHYSICIAN,
                   period=period)  # fmt: skip
    case = build([report(cid, D), finding])
    row = notification(case)
    assert row.due_on == due
    assert source in row.rule
    assert "pregnan" not in row.rule.lower()
    assert case.current.safety_net is True


def test_the_physician_s_period_replaces_the_employer_s_earliest_guess() -> None:
    """The employer's flag alone gives the 4th sick day; the physician's six weeks say more."""
    cid = uuid4()
    finding = line(cid, "SafetyNetPeriodEstablished", day(3), actor=PHYSICIAN,
                   period="within_six_weeks")  # fmt: skip
    assert notification(build([report(cid, D, safety_net=True), finding])).due_on == day(42)


def test_leaving_employment_before_week_42_is_notified_on_the_last_working_day() -> None:
    """s1 (uwv.nl, 'Ziek melden bij UWV'): the employment ends on Saturday day 97; the
    last working day is Friday day 96."""
    cid = uuid4()
    assert day(97).weekday() == 5
    case = build([report(cid, D), line(cid, "EmploymentEnded", day(97), reason="end_of_contract")])
    assert notification(case).due_on == day(96)
    later = build([report(cid, D), line(cid, "EmploymentEnded", day(320), reason="dismissal")])
    assert notification(later).due_on == STANDARD


def test_pregnancy_leave_during_sickness_does_not_count_as_sick_time() -> None:
    """s2: the periods before and after the leave add up; the leave itself does not count,
    so week 42 ends 112 days later."""
    cid = uuid4()
    leave = [report(cid, D), line(cid, "PregnancyLeaveStarted", day(100), expected_end_on=day(212))]
    under_way = build(leave)
    assert notification(under_way).due_on == first_working_day_after(day(7 * 42 + 112))
    ended = build([*leave, line(cid, "PregnancyLeaveEnded", day(200))])  # back 12 days early
    assert notification(ended).due_on == first_working_day_after(day(7 * 42 + 100))
    assert ended.current.counted_sick_days(day(300)) == 300 - 100


def test_pregnancy_leave_does_not_count_toward_the_28_day_gap() -> None:
    """s2 (art. 7:629 lid 10 BW): recovered on day 50, on leave days 55-166, sick again on
    day 180: 18 days of gap besides the leave, so the same case continues."""
    cid = uuid4()
    recovered = [report(cid, D), line(cid, "RecoveryReported", day(50))]
    leave = [
        line(cid, "PregnancyLeaveStarted", day(55), expected_end_on=day(167)),
        line(cid, "PregnancyLeaveEnded", day(167)),
    ]
    case = build([*recovered, *leave, line(cid, "SicknessResumed", day(180))])
    assert case.current.status.value == "open"
    with pytest.raises(RuleViolation) as refused:
        build([*recovered, line(cid, "SicknessResumed", day(180))])
    assert refused.value.rule.name == "relapse_within_28_days"


def test_pregnancy_leave_is_no_absence_in_the_spells() -> None:
    """s7: pregnancy leave is excluded from the absence percentage."""
    cid = uuid4()
    case = build([report(cid, D), line(cid, "PregnancyLeaveStarted", day(30),
                                        expected_end_on=day(142)),
                  line(cid, "PregnancyLeaveEnded", day(142))])  # fmt: skip
    (spell,) = sick_spells(case.timeline())
    assert spell.segments == ((day(1), 100), (day(30), 0), (day(142), 100))


def test_leave_must_start_before_it_ends() -> None:
    cid = uuid4()
    with pytest.raises(RuleViolation) as refused:
        build([report(cid, D), line(cid, "PregnancyLeaveEnded", day(30))])
    assert refused.value.rule.name == "pregnancy_leave_started_then_ended"
    started = [report(cid, D), line(cid, "PregnancyLeaveStarted", day(30),
                                     expected_end_on=day(140))]  # fmt: skip
    with pytest.raises(RuleViolation):
        build([*started, line(cid, "PregnancyLeaveStarted", day(31), expected_end_on=day(141))])


def test_a_report_after_the_leave_continues_the_case_over_http(tmp_path: Any) -> None:
    """The sickness-report command (POST /cases) counts the gap without the leave."""
    employer = auth("employer", "er-1", ["ER1"])
    with api(f"sqlite:///{tmp_path / 'ledger.db'}") as client:
        client_report = _report(client, employer, "2026-01-05")
        case_id = client_report["case_id"]
        for type_, on, data in (
            ("RecoveryReported", "2026-02-02", {}),
            ("PregnancyLeaveStarted", "2026-02-09", {"expected_end_on": "2026-06-01"}),
            ("PregnancyLeaveEnded", "2026-06-01", {}),
        ):
            response = event(client, case_id, type_, on, headers=employer, **data)
            assert response.status_code == 201, response.text
        again = _report(client, employer, "2026-06-15")
        assert again["continued"] is True
        assert again["case_id"] == case_id


def _report(client: TestClient, headers: dict[str, str], day_text: str) -> dict[str, Any]:
    body = {"employee_id": "EMP-PREG", "employer_id": "ER1", "first_sick_day": day_text}
    response = client.post("/cases", json=body, headers=headers)
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result
