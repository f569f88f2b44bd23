"""Regression tests for what the review of issue 17 found (each failed before its fix).

Rules reference s1 (deadlines, shorter notification periods), s2 (pregnancy leave),
s3 (written warning before withholding wages), s4 (the review) and s5 (who sees what).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from domain.deadlines import DeadlineStatus, case_deadlines
from domain.review import review
from domain.rules import RuleViolation
from domain.sicktime import SickClock
from projections.case_state import CaseSummary, case_state_row
from projections.reports import deadline_report
from services.application.importer import import_lines, numbered
from services.bootstrap import bootstrap
from tests.api_support import ADMIN, api, auth, event
from tests.api_support import report as report_over_http
from tests.factories import FIRST_DAY, build_case, jsonl, line, report
from tests.test_poortwachter_documents import first_year

D = date(2025, 1, 6)  # a Monday
MANAGER = ("case_manager", "cm-1")
PHYSICIAN = ("occupational_physician", "op-1")
CLOCK = SickClock(FIRST_DAY, ())  # as tests/test_poortwachter_documents.py


def day(n: int) -> date:
    return D + timedelta(days=n - 1)


def test_f1_a_deadline_met_on_time_on_a_short_file_counts_in_the_statistics(
    database_url: str,
) -> None:
    """Done on day 2, recovered on day 5, due day 7: it was met on time and counts."""
    cid = uuid4()
    lines = [report(cid, D), line(cid, "ReportedToOccupationalPhysician", day(2)),
             line(cid, "RecoveryReported", day(5))]  # fmt: skip
    with bootstrap(database_url=database_url) as rt:
        import_lines(rt.ledger, numbered([json.dumps(x) for x in lines]))
        rt.catch_up()
        rows = {r["deadline"]: r for r in deadline_report(rt.store, date(2025, 6, 1))}
    assert rows["report_to_occupational_physician"]["on_time"] == 1


def test_f2_the_case_list_does_not_count_an_ongoing_leave_as_sick_time() -> None:
    cid = uuid4()
    case = build_case([report(cid, D), line(cid, "PregnancyLeaveStarted", day(100),
                                             expected_end_on=day(212))])  # fmt: skip
    on = day(150)
    assert case.current.counted_sick_days(on) == 99
    assert CaseSummary(case_state_row(case), on).to_json()["counted_sick_days"] == 99
    after = day(230)  # the leave's expected end has passed: counting goes on from there
    expected = case.current.counted_sick_days(after)
    assert CaseSummary(case_state_row(case), after).to_json()["counted_sick_days"] == expected


def _uwv_file() -> list[dict[str, Any]]:
    cid = uuid4()
    return [
        report(cid, D),
        line(cid, "ExpertOpinionRequested", day(60), requested_by="employer",
             question="suitable_work"),
        line(cid, "ExpertOpinionIssued", day(80), actor=("uwv", "uwv"),
             question="suitable_work", conclusion="requester_upheld"),
    ]  # fmt: skip


def test_f3_uwv_imports_its_own_decisions_over_http(tmp_path: Path) -> None:
    """An admin may not record UWV's decisions, by import neither; UWV may, into the cases
    the employer side opened."""
    headers = {"content-type": "application/x-ndjson"}
    *employer_side, decision = _uwv_file()
    with api(f"sqlite:///{tmp_path / 'l.db'}") as client:
        refused = client.post("/events:import", content=jsonl([*employer_side, decision]),
                              headers={**ADMIN, **headers})  # fmt: skip
        assert refused.status_code == 403
        assert "ledger import" in refused.json()["detail"]  # says how to restore a file
        opened = client.post("/events:import", content=jsonl(employer_side),
                             headers={**ADMIN, **headers})  # fmt: skip
        assert opened.status_code == 200, opened.text
        done = client.post("/events:import", content=jsonl([decision]),
                           headers={**auth("uwv"), **headers})  # fmt: skip
        assert done.status_code == 200, done.text


def test_f4_an_admin_cannot_correct_a_uwv_decision_by_import(tmp_path: Path) -> None:
    with api(f"sqlite:///{tmp_path / 'l.db'}") as client:
        case_id = report_over_http(client, day="2024-01-08").json()["case_id"]
        imposed = event(client, case_id, "WageSanctionImposed", "2025-11-20",
                        headers=auth("uwv"), kind="substantive", ends_on="2026-09-01")  # fmt: skip
        assert imposed.status_code == 201, imposed.text
        data = {"corrects": imposed.json()["event_id"], "reason": "typo",
                "corrected_data": {"ends_on": "2026-02-01"}}  # fmt: skip
        assert event(client, case_id, "EventCorrected", "2025-11-21", **data).status_code == 403
        correction = {"event_id": str(uuid4()), "case_id": case_id, "type": "EventCorrected",
                      "occurred_on": "2025-11-21", "recorded_at": "2025-11-21T12:00:00+00:00",
                      "actor": {"role": "uwv", "id": "uwv"}, "data": data}  # fmt: skip
        imported = client.post("/events:import", content=jsonl([correction]), headers=ADMIN)
        assert imported.status_code == 403, imported.text
        assert "WageSanctionImposed" in imported.json()["detail"]


def test_f5_a_warning_about_control_rules_does_not_cover_a_stop_of_wages() -> None:
    cid = str(uuid4())
    case = build_case([
        report(cid, FIRST_DAY),
        line(cid, "WrittenWarningIssued", FIRST_DAY + timedelta(days=20), about="control_rules"),
        line(cid, "WagePaymentStopped", FIRST_DAY + timedelta(days=30),
             reason="refuses_plan_cooperation"),
    ])  # fmt: skip
    findings = review(case.history, case.timeline(), FIRST_DAY + timedelta(days=40))["findings"]
    assert len(findings) == 1
    assert "WagePaymentStopped" in findings[0]
    assert "obstruction" in findings[0]


def test_f6_the_reintegration_report_is_due_by_week_93_at_the_latest() -> None:
    cid = str(uuid4())
    late = CLOCK.end_of_week(97)
    case = build_case([
        report(cid, FIRST_DAY),
        line(cid, "WIAApplied", late),
        {**line(cid, "ReintegrationReportSubmitted", late), "class_version": 2},
    ])  # fmt: skip
    rows = {d.deadline: d for d in case_deadlines(case.timeline(), late + timedelta(days=1))}
    assert rows["reintegration_report"].due_on == CLOCK.end_of_week(93)
    assert rows["reintegration_report"].status is DeadlineStatus.DONE_LATE


@pytest.mark.parametrize(
    ("ends", "due", "days_late"),
    [(date(2025, 4, 30), date(2025, 4, 30), 0),  # Wednesday: due that day
     (date(2025, 5, 3), date(2025, 5, 2), 1)],  # Saturday: due Friday
)  # fmt: skip
def test_f7_a_deadline_due_on_the_closing_day_applies(
    ends: date, due: date, days_late: int
) -> None:
    """Issue 17: only a deadline due *after* the end does not apply; leaving employment
    before week 42 is notified on the last working day, usually the closing day."""
    cid = uuid4()
    case = build_case([
        report(cid, D),
        line(cid, "EmploymentEnded", ends, reason="end_of_contract"),
        line(cid, "CaseClosed", ends, actor=MANAGER, outcome="employment_ended"),
    ])  # fmt: skip
    rows = {d.deadline: d for d in case_deadlines(case.timeline(), date(2025, 12, 1))}
    notification = rows["uwv_notification"]
    assert (notification.due_on, notification.status) == (due, DeadlineStatus.MISSED)
    assert notification.days_late == days_late


EMPLOYER = auth("employer", "er-1", ["ER1"])
# What a view would carry if it said which safety-net provision applies (s5).
KINDS = ("pregnan", "zwanger", "bevalling", "no_risk", "no-risk", "organ", "orgaan",
         "fictitious", "fictief", "agency", "uitzend", "compensat", "flexibilis")  # fmt: skip


def test_f8_the_employer_sees_a_shorter_period_but_never_its_ground(tmp_path: Path) -> None:
    """The physician establishes a safety-net period (for pregnancy-related sickness, say);
    the employer's case, timeline and deadlines say a safety net applies, never which."""
    physician = auth("occupational_physician", "op-1")
    with api(f"sqlite:///{tmp_path / 'l.db'}") as client:
        case_id = report_over_http(client, day="2026-09-07", headers=EMPLOYER).json()["case_id"]
        found = event(client, case_id, "SafetyNetPeriodEstablished", "2026-09-10",
                      headers=physician, period="within_six_weeks")  # fmt: skip
        assert found.status_code == 201, found.text
        views = [client.get(f"/cases/{case_id}{part}", headers=EMPLOYER)
                 for part in ("", "/timeline", "/deadlines")]  # fmt: skip
        for view in views:
            assert view.status_code == 200
            # the leave is the employer's own fact (it applies for it); its flag may show
            lowered = view.text.lower().replace('"on_pregnancy_leave"', "").replace(
                '"pregnancy_leave_until"', ""
            )
            assert not [kind for kind in KINDS if kind in lowered], view.text[:500]
        assert views[0].json()["state"]["safety_net"] is True
        (due,) = [d for d in views[2].json() if d["deadline"] == "uwv_notification"]
        assert due["due_on"] == "2026-10-18"  # within 6 weeks of the first sick day


def test_f8_a_safety_net_report_s_deadline_names_no_group(tmp_path: Path) -> None:
    with api(f"sqlite:///{tmp_path / 'l.db'}") as client:
        case_id = report_over_http(client, day="2026-09-07", headers=EMPLOYER,
                                   safety_net=True).json()["case_id"]  # fmt: skip
        text = client.get(f"/cases/{case_id}/deadlines", headers=EMPLOYER).text.lower()
        assert not [kind for kind in KINDS if kind in text]


def test_f9_a_file_recorded_before_the_current_opinion_event_existed_stays_complete() -> None:
    """A dated transition (s8): before CurrentOpinionIssued existed, the physician's last
    fact before the RIV stood for the current opinion, as the review then checked it."""
    cid = str(uuid4())
    w = CLOCK.end_of_week
    before = datetime(2026, 6, 1, 12, tzinfo=UTC)
    items = [
        *first_year(cid),
        line(cid, "PlanEvaluated", w(89), actor=PHYSICIAN, recorded_at=before),
        line(cid, "FinalEvaluationCompleted", w(90), actor=PHYSICIAN, recorded_at=before),
        line(cid, "ReintegrationReportSubmitted", w(92), recorded_at=before),  # version 1
    ]  # fmt: skip
    evaluated = w(6) + timedelta(days=40)
    while evaluated < w(89):
        items.append(line(cid, "PlanEvaluated", evaluated, actor=MANAGER))
        evaluated += timedelta(days=40)
    items.sort(key=lambda i: i["occurred_on"])
    case = build_case(items)
    result = review(case.history, case.timeline(), w(93))
    assert result["missing_documents"] == []
    opinion = next(d for d in result["documents"]
                   if d["document"] == "current_occupational_physician_opinion")  # fmt: skip
    assert "recorded before" in opinion["note"]


def test_f10_a_recovered_then_closed_file_ended_in_the_week_of_its_recovery() -> None:
    cid = uuid4()
    recovered = [report(cid, D), line(cid, "RecoveryReported", day(50))]  # 49 sick days
    closed = build_case([*recovered, line(cid, "CaseClosed", day(121), actor=MANAGER,
                                          outcome="recovered")]).current  # fmt: skip
    assert closed.ended_on == day(49)  # the last day of the file: the last sick day
    assert closed.counted_sick_days(day(400)) == 49
    assert closed.sick_week(day(400)) == 7


def test_asking_for_missed_deadlines_gives_them_without_history() -> None:
    from projections.deadlines import CaseDeadline, DeadlineQuery

    cid = uuid4()
    case = build_case([report(cid, D), line(cid, "RecoveryReported", day(50))])
    missed = [d for d in case_deadlines(case.timeline(), day(60))
              if d.status is DeadlineStatus.MISSED]  # fmt: skip
    assert missed
    query = DeadlineQuery(on=day(60), status=DeadlineStatus.MISSED)
    assert all(query.matches(CaseDeadline(cid, d)) for d in missed)


def test_a_pregnancy_leave_expected_to_last_over_a_year_is_refused() -> None:
    cid = uuid4()
    over_a_year = day(30) + timedelta(days=400)
    with pytest.raises(RuleViolation) as refused:
        build_case([report(cid, D), line(cid, "PregnancyLeaveStarted", day(30),
                                          expected_end_on=over_a_year)])  # fmt: skip
    assert refused.value.rule.name == "pregnancy_leave_started_then_ended"
    with pytest.raises(RuleViolation) as far:  # issue 19: a date no file reaches, refused first
        build_case([report(cid, D), line(cid, "PregnancyLeaveStarted", day(30),
                                          expected_end_on=date(2205, 1, 1))])  # fmt: skip
    assert far.value.rule.name == "dates_plausible"


def test_an_admin_may_not_record_the_physician_s_current_opinion(tmp_path: Path) -> None:
    with api(f"sqlite:///{tmp_path / 'l.db'}") as client:
        case_id = report_over_http(client, day="2026-09-07").json()["case_id"]
        answer = event(client, case_id, "CurrentOpinionIssued", "2026-09-20")
        assert answer.status_code == 403
