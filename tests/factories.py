"""Builders for interchange lines used across tests."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from domain.case import Case, record_fact
from domain.events import CATALOGUE
from domain.interchange import event_fields, parse_line
from domain.rules import RuleViolation
from domain.sicktime import Gap, SickClock

UTC = ZoneInfo("UTC")


def line(
    case_id: UUID | str,
    type_: str,
    on: date,
    *,
    actor: tuple[str, str] = ("employer", "ER1"),
    recorded_at: datetime | None = None,
    event_id: UUID | None = None,
    **data: Any,
) -> dict[str, Any]:
    recorded = recorded_at or datetime.combine(on, time(12, 0), UTC)
    return {
        "event_id": str(event_id or uuid4()),
        "case_id": str(case_id),
        "type": type_,
        "occurred_on": on.isoformat(),
        "recorded_at": recorded.isoformat(),
        "actor": {"role": actor[0], "id": actor[1]},
        "data": {k: (v.isoformat() if isinstance(v, date) else v) for k, v in data.items()},
    }


def report(
    case_id: UUID | str, first_sick_day: date, *, employee_id: str | None = None, **extra: Any
) -> dict[str, Any]:
    """A sickness report at employer ER1; each case its own employee unless one is given
    (an employee has one open file at an employer: rule one_open_file_per_employee)."""
    return line(
        case_id,
        "SicknessReported",
        first_sick_day,
        employee_id=employee_id or f"EMP-{str(case_id)[:8]}",
        employer_id="ER1",
        first_sick_day=first_sick_day,
        **extra,
    )


def build_case(items: list[dict[str, Any]], *, strict: bool = True) -> Case:
    """A case from interchange lines recorded in order, as an import checks them; with
    ``strict=False`` a line a rule refuses is left out (generated files)."""
    case: Case | None = None
    for item in items:
        parsed = parse_line(json.dumps(item))
        try:
            case = record_fact(case, parsed.case_id, CATALOGUE[parsed.type], **event_fields(parsed))
        except RuleViolation:
            if strict:
                raise
    assert case is not None
    return case


def jsonl(lines: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(item) + "\n" for item in lines)


FIRST_DAY = date(2024, 1, 8)
MEDICAL_NOTE = "Consultation: lumbar hernia L4-L5, physiotherapy twice a week"
# Recorded only by ``ledger erase``, which also destroys the keys; never imported.
IMPORTABLE = set(CATALOGUE) - {"PersonalDataErased"}


def every_event_type(
    case_id: UUID | str | None = None, employee_id: str = "EMP1"
) -> list[dict[str, Any]]:
    """One valid case in which every importable event type of the catalogue occurs."""
    cid = case_id or uuid4()
    d = FIRST_DAY

    def at(days: int) -> date:
        return d + timedelta(days=days)

    physician = ("occupational_physician", "op-1")
    manager = ("case_manager", "cm-1")
    uwv = ("uwv", "uwv")
    admin = ("system", "admin-1")
    analysis = line(cid, "ProblemAnalysisCompleted", at(35), actor=physician, prognosis="unclear")
    evaluation = line(
        cid, "PlanEvaluated", at(87), actor=manager, adjustment="goal", goal="adapted_own_work"
    )
    # a relapse bridged by samentelling, and a pregnancy leave: neither counts as sick time
    clock = SickClock(d, (Gap(at(120), at(130)), Gap(at(250), at(362))))
    normal_end = clock.end_of_waiting_time(extension_weeks=4)
    return [
        report(cid, d, employee_id=employee_id, sector="care", expected_duration_weeks=12),
        line(cid, "ReportedToOccupationalPhysician", at(2), occupational_physician_id="op-1"),
        line(cid, "SafetyNetPeriodEstablished", at(9), actor=physician,
             period="within_six_weeks"),
        line(cid, "CaseManagerAppointed", at(3), case_manager_id="cm-1"),
        analysis,
        line(cid, "PlanOfApproachAgreed", at(45), goal="own_work", case_manager_id="cm-1"),
        evaluation,
        line(cid, "EarlyIVAApplied", at(60)),
        line(cid, "WorkPartiallyResumed", at(100), incapacity_percent=50),
        line(cid, "RecoveryReported", at(120)),
        line(cid, "RecoveryReportedToUWV", at(121)),
        line(cid, "SicknessResumed", at(130), incapacity_percent=80),
        line(cid, "WrittenWarningIssued", at(135), about="control_rules"),
        line(cid, "WagePaymentSuspended", at(140), reason="missed two control appointments"),
        line(cid, "WagePaymentSuspensionLifted", at(150)),
        line(cid, "WagePaymentStopped", at(160), reason="refuses_plan_cooperation"),
        line(cid, "WagePaymentResumed", at(170)),
        line(
            cid,
            "ExpertOpinionRequested",
            at(180),
            requested_by="employer",
            question="suitable_work",
        ),
        line(
            cid,
            "ExpertOpinionIssued",
            at(200),
            actor=uwv,
            question="suitable_work",
            conclusion="requester_upheld",
        ),
        line(cid, "PregnancyLeaveStarted", at(250), expected_end_on=at(362)),
        line(cid, "PregnancyLeaveEnded", at(362)),
        line(cid, "UWVNotified", clock.end_of_week(42)),
        line(cid, "LateNotificationFined", clock.end_of_week(44), actor=uwv, amount_eur=300),
        line(
            cid,
            "FirstYearEvaluationCompleted",
            clock.end_of_week(50),
            actor=manager,
            second_track_needed=True,
        ),
        line(cid, "SecondTrackStarted", clock.end_of_week(53), provider_id="prov-alfa"),
        line(
            cid,
            "SecondTrackPlacement",
            clock.end_of_week(70),
            actor=("reintegration_provider", "prov-alfa"),
            new_employer_id="ER77",
            provider_id="prov-alfa",
        ),
        line(cid, "SecondTrackEnded", clock.end_of_week(71), reason="no_prospect"),
        line(cid, "LabourExpertReportCompleted", clock.end_of_week(75), labour_expert_id="ad-1"),
        line(cid, "WIAApplicationLetterSent", clock.end_of_week(88), actor=uwv),
        line(cid, "CurrentOpinionIssued", clock.end_of_week(89), actor=physician,
             prognosis="partial_return"),
        line(cid, "FinalEvaluationCompleted", clock.end_of_week(90), actor=manager),
        line(cid, "WIAApplied", clock.end_of_week(92)),
        line(cid, "ReintegrationReportSubmitted", clock.end_of_week(92)),
        line(cid, "WaitingTimeExtended", clock.end_of_week(93), weeks=4),
        line(
            cid,
            "WageSanctionImposed",
            clock.end_of_week(95),
            actor=uwv,
            kind="substantive",
            ends_on=normal_end + timedelta(weeks=26),
        ),
        line(
            cid,
            "WageSanctionShortened",
            clock.end_of_week(99),
            actor=uwv,
            ends_on=normal_end + timedelta(weeks=10),
        ),
        line(cid, "SanctionShorteningRequested", clock.end_of_week(99)),
        line(cid, "SanctionShorteningDecided", clock.end_of_week(100), actor=uwv, granted=False),
        line(cid, "WIADecided", clock.end_of_week(100), actor=uwv, outcome="wga"),
        line(cid, "MedicalNoteRecorded", at(36), actor=physician, note=MEDICAL_NOTE),
        line(cid, "LegalHoldPlaced", at(210), actor=admin, reason="objection 2024-117 pending"),
        line(cid, "LegalHoldLifted", at(230), actor=admin, reason="objection 2024-117 decided"),
        line(
            cid,
            "EventCorrected",
            clock.end_of_week(100),
            actor=physician,
            corrects=analysis["event_id"],
            reason="date typed wrongly",
            corrected_occurred_on=at(33),
        ),
        line(
            cid,
            "EventRetracted",
            clock.end_of_week(100),
            actor=manager,
            retracts=evaluation["event_id"],
            reason="belongs to another case",
        ),
        line(cid, "EmploymentEnded", clock.end_of_week(101), reason="sick_out_of_service"),
        line(cid, "CaseClosed", clock.end_of_week(101), actor=manager, outcome="employment_ended"),
    ]


def import_via_cli(folder: Path, lines: list[dict[str, Any]], *options: str) -> int:
    """Write ``lines`` to a file and run ``ledger import`` on it, as a user would."""
    from services.cli import main

    source = folder / f"import-{uuid4().hex[:8]}.jsonl"
    source.write_text(jsonl(lines))
    return main(["import", str(source), *options])
