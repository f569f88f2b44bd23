"""Every Poortwachter document as an event (issue 17 item 4): who records it, the rules it
keeps, the review pack that reads it, and each new type through HTTP, export, import and
replay. Rules reference s1 (timeline), s3 (sanctions, bekorting), s4 (what the reviewer
checks) and s5 (who records what)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic
from fastapi.testclient import TestClient

from domain import events as ev
from domain.deadlines import DeadlineStatus, case_deadlines
from domain.interchange import parse_line, to_line
from domain.rules import RuleViolation
from domain.sicktime import SickClock
from services.application.ledger import Ledger
from services.cli import main
from tests.api_support import api, auth
from tests.factories import FIRST_DAY, import_via_cli, jsonl, line, report
from tests.factories import build_case as build

CLOCK = SickClock(FIRST_DAY, ())
PHYSICIAN = ("occupational_physician", "op-1")
MANAGER = ("case_manager", "cm-1")
UWV = ("uwv", "uwv")
NEW_TYPES = {
    "CurrentOpinionIssued", "LabourExpertReportCompleted", "WIAApplied",
    "WIAApplicationLetterSent", "SanctionShorteningRequested", "SanctionShorteningDecided",
    "EarlyIVAApplied", "LateNotificationFined", "WrittenWarningIssued", "RecoveryReportedToUWV",
    "SafetyNetPeriodEstablished", "PregnancyLeaveStarted", "PregnancyLeaveEnded",
}  # fmt: skip


def week(n: int) -> date:
    return CLOCK.end_of_week(n)


def first_year(case_id: str) -> list[dict[str, Any]]:
    """A file's first year done on time: report, analysis, plan, notification, evaluation."""
    return [
        report(case_id, FIRST_DAY),
        line(case_id, "ReportedToOccupationalPhysician", FIRST_DAY + timedelta(days=2)),
        line(case_id, "ProblemAnalysisCompleted", week(5), actor=PHYSICIAN),
        line(case_id, "PlanOfApproachAgreed", week(6), goal="own_work", case_manager_id="cm-1"),
        line(case_id, "UWVNotified", week(41)),
        line(case_id, "FirstYearEvaluationCompleted", week(50), actor=MANAGER,
             second_track_needed=False, no_second_track_reason="structural_return_within_3_months"),
    ]  # fmt: skip


def complete_file(case_id: str, on: date, *, leave_out: str | None = None) -> list[dict[str, Any]]:
    """A file that did everything s1 and s4 ask, up to the RIV with the WIA application."""
    lines = [
        *first_year(case_id),
        line(case_id, "LabourExpertReportCompleted", week(70), labour_expert_id="ad-1"),
        line(case_id, "WIAApplicationLetterSent", week(88), actor=UWV),
        line(case_id, "CurrentOpinionIssued", week(89), actor=PHYSICIAN, prognosis="unclear"),
        line(case_id, "FinalEvaluationCompleted", week(90), actor=MANAGER),
        line(case_id, "WIAApplied", week(92)),
        # the current shape: the report alone (a line without class_version is version 1)
        {**line(case_id, "ReintegrationReportSubmitted", week(92)), "class_version": 2},
    ]  # fmt: skip
    evaluated = week(6) + timedelta(days=40)
    while evaluated <= on:  # s1: evaluated at least every six weeks
        lines.append(line(case_id, "PlanEvaluated", evaluated, actor=MANAGER))
        evaluated += timedelta(days=40)
    lines.sort(key=lambda item: item["occurred_on"])
    return [item for item in lines if item["type"] != leave_out]


def _pack(tmp_path: Path, lines: list[dict[str, Any]], case_id: str, on: date) -> dict[str, Any]:
    assert import_via_cli(tmp_path, lines) == 0
    assert main(["checkpoint"]) == 0
    out = tmp_path / f"pack-{uuid4().hex[:6]}"
    assert main(["review-pack", "--case", case_id, "--out", str(out), "--on", on.isoformat()]) == 0
    pack: dict[str, Any] = json.loads((out / "review-pack.json").read_text())
    assert ("All required documents are present." in (out / "review-pack.html").read_text()) is (
        pack["review"]["documents_complete"]
    )
    return pack


def test_the_review_pack_of_a_complete_file_lists_nothing_as_missing(
    use_database: str, tmp_path: Path
) -> None:
    """Issue 17: the catalogue lacked documents the review checks, so a complete file read
    as incomplete. s4's documents, in the reviewer's order, each present."""
    case_id, on = str(uuid4()), week(100)
    review = _pack(tmp_path, complete_file(case_id, on), case_id, on)["review"]
    assert review["missing_documents"] == []
    assert review["documents_complete"] is True
    assert [d["document"] for d in review["documents"]] == [
        "problem_analysis", "plan_of_approach", "evaluations_and_adjustments",
        "first_year_evaluation", "current_occupational_physician_opinion", "final_evaluation",
        "labour_expert_report", "wia_application", "reintegration_report",
    ]  # fmt: skip
    assert all(d["present"] for d in review["documents"]), review["documents"]
    by_name = {d["document"]: d for d in review["documents"]}
    assert by_name["current_occupational_physician_opinion"]["note"] == "current"
    assert by_name["reintegration_report"]["on_time"] is True  # within 1 day of the WIA one
    assert review["findings"] == []
    assert [f["type"] for f in review["uwv"]] == ["UWVNotified", "WIAApplicationLetterSent"]


@pytest.mark.parametrize(
    ("left_out", "missing"),
    [
        ("CurrentOpinionIssued", "current_occupational_physician_opinion"),
        ("WIAApplied", "wia_application"),
        ("ReintegrationReportSubmitted", "reintegration_report"),
    ],
)
def test_a_file_without_one_document_names_exactly_that_one(
    use_database: str, tmp_path: Path, left_out: str, missing: str
) -> None:
    case_id, on = str(uuid4()), week(100)
    review = _pack(tmp_path, complete_file(case_id, on, leave_out=left_out), case_id, on)["review"]
    assert review["missing_documents"] == [missing]




def test_wages_withheld_without_a_written_warning_are_a_finding() -> None:
    """s3: suspension and stop of wages come after a written warning."""
    from domain.review import review

    cid = str(uuid4())
    case = build([
        report(cid, FIRST_DAY),
        line(cid, "WagePaymentSuspended", week(3), reason="missed appointments"),
        line(cid, "WagePaymentSuspensionLifted", week(4)),
        line(cid, "WrittenWarningIssued", week(5), about="obstruction"),
        line(cid, "WagePaymentStopped", week(6), reason="refuses_plan_cooperation"),
    ])  # fmt: skip
    findings = review(case.history, case.timeline(), week(7))["findings"]
    assert len(findings) == 1
    assert f"WagePaymentSuspended on {week(3)}" in findings[0]


def _sanctioned(cid: str) -> list[dict[str, Any]]:
    normal_end = CLOCK.end_of_waiting_time()
    return [
        report(cid, FIRST_DAY),
        line(cid, "WageSanctionImposed", week(95), actor=UWV, kind="substantive",
             ends_on=normal_end + timedelta(weeks=52)),
    ]  # fmt: skip


def test_a_positive_decision_on_a_shortening_request_ends_the_sanction_six_weeks_later() -> None:
    """s3 (art. 25 lid 12-15 WIA): after repair the employer asks; UWV decides; the
    sanction then ends 6 weeks after a positive decision."""
    cid = str(uuid4())
    decided = week(104) + timedelta(days=30)
    case = build([
        *_sanctioned(cid),
        line(cid, "SanctionShorteningRequested", week(104)),
        line(cid, "SanctionShorteningDecided", decided, actor=UWV, granted=True),
    ])  # fmt: skip
    assert case.current.sanction is not None
    assert case.current.sanction.ends_on == decided + timedelta(weeks=6)
    assert case.current.end_of_wage_continuation == decided + timedelta(weeks=6)
    no = line(cid, "SanctionShorteningDecided", decided, actor=UWV, granted=False)
    refused = build([*_sanctioned(cid), line(cid, "SanctionShorteningRequested", week(104)), no])
    unchanged = CLOCK.end_of_waiting_time() + timedelta(weeks=52)
    assert refused.current.end_of_wage_continuation == unchanged


@pytest.mark.parametrize(
    ("lines", "rule"),
    [
        ([line("{c}", "SanctionShorteningRequested", week(90))],
         "shortening_request_then_decision"),
        ([line("{c}", "SanctionShorteningDecided", week(90), actor=UWV, granted=True)],
         "shortening_request_then_decision"),
        ([line("{c}", "EarlyIVAApplied", week(2))], "early_iva_in_weeks_3_to_68"),
        ([line("{c}", "EarlyIVAApplied", week(68) + timedelta(days=1))],
         "early_iva_in_weeks_3_to_68"),
        ([line("{c}", "LateNotificationFined", week(44), actor=UWV, amount_eur=456)],
         "late_notification_fine_at_most_455"),
        ([line("{c}", "RecoveryReportedToUWV", week(44))],
         "recovery_report_to_uwv_requires_recovery"),
    ],
)  # fmt: skip
def test_rules_of_the_new_documents(lines: list[dict[str, Any]], rule: str) -> None:
    cid = str(uuid4())
    items = [report(cid, FIRST_DAY), *[{**x, "case_id": cid} for x in lines]]
    with pytest.raises(RuleViolation) as refused:
        build(items)
    assert refused.value.rule.name == rule


def test_early_iva_is_accepted_in_weeks_3_to_68() -> None:
    cid = str(uuid4())
    for when in (week(2) + timedelta(days=1), week(68)):
        build([report(cid, FIRST_DAY), line(cid, "EarlyIVAApplied", when)])


def test_a_late_notification_fine_is_no_wage_sanction() -> None:
    """s1: a late 42-week notification gives a fine (up to EUR 455), not a wage sanction."""
    cid = str(uuid4())
    plain = build([report(cid, FIRST_DAY)]).current
    fine = line(cid, "LateNotificationFined", week(47), actor=UWV, amount_eur=455)
    fined = build([report(cid, FIRST_DAY), line(cid, "UWVNotified", week(45)), fine])
    assert fined.current.sanction is None
    assert fined.current.end_of_wage_continuation == plain.end_of_wage_continuation


def _v1_riv_line(case_id: str) -> dict[str, Any]:
    item = line(case_id, "ReintegrationReportSubmitted", week(92))
    assert "class_version" not in item  # as a version-1 export wrote it
    return item


def test_a_version_1_riv_line_imports_as_the_wia_application_with_its_report() -> None:
    """The old shape meant both; upcast_v1_v2 says so (with_wia_application)."""
    cid = str(uuid4())
    case = build([report(cid, FIRST_DAY), _v1_riv_line(cid)])
    riv = case.history[-1]
    assert isinstance(riv, ev.ReintegrationReportSubmitted)
    assert riv.with_wia_application is True
    assert to_line(riv)["class_version"] == 2
    rows = {d.deadline: d for d in case_deadlines(case.timeline(), week(93))}
    assert rows["wia_application"].status is DeadlineStatus.DONE
    assert rows["reintegration_report"].status is DeadlineStatus.DONE


def test_a_stored_version_1_riv_loads_as_version_2(ledger: Ledger) -> None:
    cid = str(uuid4())
    ledger.append(parse_line(json.dumps(report(cid, FIRST_DAY))))
    case = ledger.get_case(UUID(cid))
    state = {
        "timestamp": "2025-10-10T10:00:00+00:00",
        "event_id": str(uuid4()),
        "occurred_on": week(92).isoformat(),
        "actor": {"role": "employer", "id": "ER1"},
    }
    old = StoredEvent(
        originator_id=case.id, originator_version=2,
        topic=get_topic(ev.ReintegrationReportSubmitted), state=json.dumps(state).encode(),
    )  # fmt: skip
    ledger.recorder.insert_events([old])
    loaded = ledger.get_case(case.id).history[-1]
    assert isinstance(loaded, ev.ReintegrationReportSubmitted)
    assert loaded.with_wia_application is True


# --- every new type through HTTP, export, import and replay ------------------

EMPLOYER = ("employer", "er-1", ["ER1"])
HTTP_FIRST = date(2024, 1, 8)


def day(n: int) -> str:
    return (HTTP_FIRST + timedelta(days=n - 1)).isoformat()


def _post(client: TestClient, case_id: str, who: tuple[Any, ...], type_: str, on: str,
          **data: Any) -> Any:  # fmt: skip
    body = {"type": type_, "occurred_on": on, "data": data}
    response = client.post(f"/cases/{case_id}/events", json=body, headers=auth(*who))
    assert response.status_code == 201, (type_, response.text)
    return response.json()


def test_each_new_document_through_http_export_import_and_replay(
    use_database: str, database_url: str, new_database_url: Any, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    physician, uwv = ("occupational_physician", "op-1", None), ("uwv", "uwv-1", None)
    with api(database_url) as client:
        first = HTTP_FIRST.isoformat()
        body = {"employee_id": "EMP-DOC", "employer_id": "ER1", "first_sick_day": first}
        opened = client.post("/cases", json=body, headers=auth(*EMPLOYER))
        assert opened.status_code == 201, opened.text
        cid = opened.json()["case_id"]
        steps: list[tuple[tuple[Any, ...], str, str, dict[str, Any]]] = [
            (physician, "SafetyNetPeriodEstablished", day(10), {"period": "within_six_weeks"}),
            (EMPLOYER, "EarlyIVAApplied", day(30), {}),
            (EMPLOYER, "WrittenWarningIssued", day(35), {"about": "control_rules"}),
            (EMPLOYER, "RecoveryReported", day(40), {}),
            (EMPLOYER, "RecoveryReportedToUWV", day(41), {}),
            (EMPLOYER, "SicknessResumed", day(45), {}),
            (EMPLOYER, "PregnancyLeaveStarted", day(60), {"expected_end_on": day(172)}),
            (EMPLOYER, "PregnancyLeaveEnded", day(172), {}),
            (uwv, "LateNotificationFined", day(200), {"amount_eur": 200}),
            (EMPLOYER, "LabourExpertReportCompleted", day(400), {}),
            (uwv, "WIAApplicationLetterSent", day(600), {}),
            (physician, "CurrentOpinionIssued", day(620), {"prognosis": "no_return"}),
            (EMPLOYER, "WIAApplied", day(640), {}),
            (EMPLOYER, "ReintegrationReportSubmitted", day(641), {}),
        ]
        for who, type_, on, data in steps:
            _post(client, cid, who, type_, on, **data)
        state = client.get(f"/cases/{cid}", headers=auth(*EMPLOYER)).json()["state"]
        normal_end = date.fromisoformat(state["end_of_wage_continuation"])
        ends_on = (normal_end + timedelta(weeks=26)).isoformat()
        _post(client, cid, uwv, "WageSanctionImposed", day(850), kind="substantive",
              ends_on=ends_on)  # fmt: skip
        _post(client, cid, EMPLOYER, "SanctionShorteningRequested", day(880))
        before_decision = datetime.now(UTC)
        _post(client, cid, uwv, "SanctionShorteningDecided", day(900), granted=True)

        # replay: the file on a day before the decision, and as known before it was recorded
        read = auth(*EMPLOYER)
        on_899 = client.get(f"/cases/{cid}", params={"as_of": day(899)}, headers=read).json()
        assert on_899["state"]["sanction"]["ends_on"] == ends_on
        now = client.get(f"/cases/{cid}", headers=read).json()
        shortened = (HTTP_FIRST + timedelta(days=899 + 42)).isoformat()
        assert now["state"]["sanction"]["ends_on"] == shortened
        known = client.get(f"/cases/{cid}", params={"known_at": before_decision.isoformat()},
                           headers=read).json()  # fmt: skip
        assert known["state"]["sanction"]["ends_on"] == ends_on
        assert {e["type"] for e in now["events"]} >= NEW_TYPES
        assert known["state"]["safety_net"] is True  # the physician's safety-net period

        exported = client.get("/export", headers=auth("admin")).text
    rows = [json.loads(row) for row in exported.splitlines()]
    assert {row["type"] for row in rows} >= NEW_TYPES
    (riv,) = [row for row in rows if row["type"] == "ReintegrationReportSubmitted"]
    assert riv["data"] == {"with_wia_application": False}  # posted in the current shape
    source = tmp_path / "export.jsonl"
    source.write_text(exported)
    monkeypatch.setenv("LEDGER_DATABASE_URL", new_database_url())
    assert main(["import", str(source)]) == 0
    capsys.readouterr()
    assert main(["export"]) == 0
    assert capsys.readouterr().out == exported


def test_the_fixture_of_every_type_holds_the_new_documents() -> None:
    from tests.factories import every_event_type

    assert {item["type"] for item in every_event_type()} >= NEW_TYPES
    assert jsonl(every_event_type())
