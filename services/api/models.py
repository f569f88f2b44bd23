"""Request and response models of the HTTP API, each with an example."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from domain import events as ev

CASE_ID = "5b1c2a9e-8f0d-4c53-9b1e-0a6a3e2f41e2"
EVENT_ID = "7c4e9d1a-2b3f-4e5a-8c6d-9e0f1a2b3c4d"


def _example(example: dict[str, Any]) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": [example]})


class ReportSickness(BaseModel):
    """A sickness report (*ziekmelding*). For an employee whose last case recovered
    less than 28 days before, the report continues that case (*samentelling*)."""

    model_config = _example(
        {"employee_id": "EMP-1042", "employer_id": "ER00017", "first_sick_day": "2026-11-23"}
    )

    employee_id: ev.Reference
    employer_id: ev.Reference
    first_sick_day: date
    event_id: UUID | None = Field(default=None, description="makes a retry append nothing")
    case_id: UUID | None = Field(default=None, description="chosen by the client, or new")
    sector: ev.Reference | None = None
    expected_duration_weeks: int | None = Field(default=None, ge=0, le=104)
    safety_net: bool = False
    workplace_accident: bool = False
    liable_third_party: bool = False
    incapacity_percent: int | None = Field(
        default=None, ge=1, le=100, description="occupational physician only"
    )


class CaseReported(BaseModel):
    model_config = _example(
        {
            "case_id": CASE_ID,
            "event_id": EVENT_ID,
            "version": 1,
            "continued": False,
            "message": "new case opened",
        }
    )

    case_id: UUID
    event_id: UUID
    version: int
    continued: bool = Field(description="true: the report continued a recovered case")
    message: str


class NewEvent(BaseModel):
    """Any event of the catalogue for an existing case; ``data`` as in the interchange
    format (``ledger schema``). The actor is the caller, taken from the token."""

    model_config = _example(
        {"type": "ProblemAnalysisCompleted", "occurred_on": "2026-12-28", "data": {}}
    )

    type: str = Field(examples=["PlanOfApproachAgreed"])
    occurred_on: date
    event_id: UUID | None = Field(default=None, description="makes a retry append nothing")
    data: dict[str, Any] = {}
    actor: ev.Actor | None = Field(default=None, description="admin only: who recorded it")
    recorded_at: datetime | None = Field(default=None, description="admin only: back-filling")


class EventAppended(BaseModel):
    model_config = _example(
        {
            "case_id": CASE_ID,
            "event_id": EVENT_ID,
            "type": "ProblemAnalysisCompleted",
            "version": 4,
            "duplicate": False,
        }
    )

    case_id: UUID
    event_id: UUID
    type: str
    version: int = Field(description="the case's version after this event (the ETag)")
    duplicate: bool = Field(description="true: this event_id was stored already")


class Sanction(BaseModel):
    kind: str
    imposed_on: date
    ends_on: date


class CaseState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_id: UUID
    employee_id: str | ev.Withheld = Field(
        description="the employee's id; {'withheld': 'erased'} after crypto-shredding"
    )
    employer_id: str
    sector: str | None
    safety_net: bool = Field(
        description="a safety-net provision (vangnet) applies; never which (poortwachter.md s5)"
    )
    on_pregnancy_leave: bool = Field(description="pregnancy and maternity leave under way")
    pregnancy_leave_until: date | None = Field(
        None, description="its expected end: the leave counts as no sick time"
    )
    status: str = Field(examples=["open"])
    phase: str = Field(examples=["plan_of_approach"])
    first_sick_day: date
    incapacity_percent: int
    counted_sick_days: int
    recovered_on: date | None
    case_manager_id: str | None
    goal: str | None
    second_track: str
    wage_payment: str
    sanction: Sanction | None
    extension_weeks: int
    end_of_wage_continuation: date
    employment_ended: str | None
    wia_outcome: str | None
    closed_on: date | None
    outcome: str | None
    last_event_type: str | None
    last_event_on: date | None
    event_count: int


class RecordedEvent(BaseModel):
    event_id: UUID
    type: str
    occurred_on: date
    recorded_at: datetime
    actor: ev.Actor
    data: dict[str, Any]


class OwnFiles(BaseModel):
    """The files of the employee asking (AVG art. 15), each readable at /cases/{id}."""

    case_ids: list[UUID]


class CaseView(BaseModel):
    model_config = _example(
        {
            "as_of": "2026-03-01",
            "known_at": "2026-04-01T00:00:00+02:00",
            "version": 5,
            "state": {"case_id": CASE_ID, "status": "open", "phase": "problem_analysis"},
            "events": [],
        }
    )

    as_of: date
    known_at: datetime | None
    version: int
    state: CaseState
    events: list[RecordedEvent]


class TimelineEntry(RecordedEvent):
    model_config = _example(
        {
            "event_id": EVENT_ID,
            "type": "ProblemAnalysisCompleted",
            "occurred_on": "2026-02-13",
            "effective_on": "2026-02-27",
            "recorded_at": "2026-03-02T09:00:00+00:00",
            "actor": {"role": "occupational_physician", "id": "op-7"},
            "data": {},
            "version": 3,
            "status": "corrected",
            "corrected_by": ["1f0e9d8c-7b6a-4594-8372-615049382716"],
            "retracted_by": None,
        }
    )

    version: int
    effective_on: date
    status: str = Field(description="effective, corrected or retracted")
    corrected_by: list[UUID]
    retracted_by: UUID | None
    corrects: UUID | None = None
    retracts: UUID | None = None


class DeadlineRow(BaseModel):
    model_config = _example(
        {
            "case_id": CASE_ID,
            "deadline": "problem_analysis",
            "due_on": "2026-02-15",
            "status": "overdue",
            "done_on": None,
            "days_late": 5,
            "rule": "poortwachter.md s1: probleemanalyse, week 6 (Regeling procesgang)",
            "rule_set": "poortwachter-2002",
            "file_ended_on": None,
        }
    )

    case_id: UUID
    deadline: str
    due_on: date
    status: str = Field(description="open, overdue, done, done_late, missed (not met when "
                        "the file ended; asking for it lists ended files) or "
                        "not_applicable")  # fmt: skip
    done_on: date | None
    days_late: int | None = Field(description="for missed deadlines, frozen at the file's end")
    rule: str
    rule_set: str
    file_ended_on: date | None = Field(
        None,
        description="the file's last day once it ended (the last sick day before a "
        "recovery, or the closing day); null while it runs",
    )


class AccessRecord(BaseModel):
    model_config = _example(
        {"at": "2026-11-25T10:00:00.000000Z", "subject": "er-17", "role": "employer",
         "action": "read case"}
    )  # fmt: skip

    at: str
    subject: str
    role: str
    action: str


class ImportResult(BaseModel):
    model_config = _example(
        {"lines": 3, "appended": 3, "duplicates": 0, "cases_opened": 1, "cases_updated": 0}
    )

    lines: int
    appended: int
    duplicates: int
    cases_opened: int
    cases_updated: int
    batches: int = 0
    seconds: float = 0.0
    events_per_second: float = 0.0


class Health(BaseModel):
    model_config = _example({"status": "ok"})

    status: str


class Readiness(BaseModel):
    model_config = _example({"status": "ready", "head": 1134, "behind": {"case_state": 0}})

    status: str
    head: int | None = Field(default=None, description="admin only, as the rest below")
    behind: dict[str, int] = {}
    feed: list[dict[str, str]] = Field(
        default=[], description="the analytics feed: publishing, or retrying and why"
    )
    set_aside: dict[str, int] = Field(
        default={}, description="events a read model could not apply (ledger project --status)"
    )


class HeadcountBody(BaseModel):
    model_config = _example({"headcount": 40, "part_time_factor": 0.8})

    headcount: int = Field(gt=0, le=1_000_000)
    part_time_factor: float = Field(default=1.0, gt=0, le=1.5)
