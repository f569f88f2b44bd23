"""Reporting sickness (*ziekmelding*): a new case, or the employee's recovered case
continued when the sickness comes back within 28 days (*samentelling*, art. 7:629 lid 10
BW, rule ``relapse_within_28_days``). The API's ``POST /cases`` and ``ledger report``
both call ``report_sickness``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

from domain import events as ev
from domain.access import SOURCE, Principal, may_read_case, may_record
from domain.case import Case, continues_case
from projections.case_state import CaseStateProjection, cases_of_subject
from services.application.context import Context
from services.application.errors import Forbidden
from services.application.recording import actor_of, interchange_line

TAIL_LIMIT = 5_000  # beyond this lag, bring the read models up to date instead


@dataclass(frozen=True)
class ReportSickness:
    """The command: who fell sick at which employer, from which day, and the facts the
    employer may record with it (rules reference s5)."""

    employee_id: str
    employer_id: str
    first_sick_day: date
    event_id: UUID  # the same id for a retry, so that it appends nothing
    case_id: UUID | None = None  # chosen by the client; None: ``new_case_id``
    new_case_id: UUID | None = None
    data: dict[str, Any] = field(default_factory=dict)  # sector, safety_net, ... (JSON)


@dataclass(frozen=True)
class SicknessReport:
    case_id: UUID
    event_id: UUID
    version: int
    continued: bool  # the report continued a recovered case (samentelling)
    created: bool  # a new case was opened
    message: str


def report_sickness(ctx: Context, principal: Principal, command: ReportSickness) -> SicknessReport:
    data = {**command.data, "employee_id": command.employee_id,
            "employer_id": command.employer_id}  # fmt: skip
    Forbidden.unless(may_record(principal, ev.SicknessReported, command.employer_id, data))
    repeated = _already_reported(ctx, command)
    if repeated is not None:
        return repeated
    continued = _case_to_continue(ctx, command)
    if continued is not None:
        return _continue(ctx, principal, command, continued)
    return _open(ctx, principal, command, data)


def _continue(
    ctx: Context, principal: Principal, command: ReportSickness, case: Case
) -> SicknessReport:
    resumed = {k: v for k, v in command.data.items() if k == "incapacity_percent"}
    line = interchange_line({
        "event_id": command.event_id, "case_id": case.id, "type": "SicknessResumed",
        "occurred_on": command.first_sick_day, "actor": actor_of(principal), "data": resumed,
    })  # fmt: skip
    appended = ctx.ledger.append_retrying(line)
    recovered = case.current.recovered_on
    days = (command.first_sick_day - recovered).days if recovered else 0
    message = (
        f"continues case {case.id}: sick again {days} days after recovery on {recovered} "
        "(samentelling, art. 7:629 lid 10 BW)"
    )
    event = appended.event
    return SicknessReport(event.originator_id, event.event_id, event.originator_version,
                          continued=True, created=False, message=message)  # fmt: skip


def _open(
    ctx: Context, principal: Principal, command: ReportSickness, data: dict[str, Any]
) -> SicknessReport:
    case_id = command.case_id or command.new_case_id
    assert case_id is not None, "give case_id or new_case_id"
    existing = ctx.ledger.find_case(case_id) if command.case_id else None
    if existing is not None and not may_read_case(principal, existing.current.employer_id):
        # taken, but by a case the caller may not see: say no more than that
        raise Forbidden("this case_id is not free: leave it out, or choose another", SOURCE)
    line = interchange_line({
        "event_id": command.event_id, "case_id": case_id, "type": "SicknessReported",
        "occurred_on": command.first_sick_day, "actor": actor_of(principal),
        "data": {**data, "first_sick_day": command.first_sick_day.isoformat()},
    })  # fmt: skip
    appended = ctx.ledger.append_retrying(line)
    event = appended.event
    created = not appended.duplicate
    message = "new case opened" if created else "this sickness report was stored already"
    return SicknessReport(event.originator_id, event.event_id, event.originator_version,
                          continued=False, created=created, message=message)  # fmt: skip


def _already_reported(ctx: Context, command: ReportSickness) -> SicknessReport | None:
    """A report with this event id stored before (a retry): the answer it had."""
    for case_id, _ in employee_cases(ctx, command.employee_id, command.employer_id):
        stored = ctx.ledger.get_case(case_id).events_by_id.get(command.event_id)
        if stored is not None:
            return SicknessReport(
                case_id, command.event_id, stored.originator_version,
                continued=isinstance(stored, ev.SicknessResumed), created=False,
                message="this sickness report was stored already",
            )  # fmt: skip
    return None


def _case_to_continue(ctx: Context, command: ReportSickness) -> Case | None:
    """The employee's most recent case at this employer, if this sickness continues it."""
    found = employee_cases(ctx, command.employee_id, command.employer_id)
    if not found:
        return None
    latest = max(found, key=lambda pair: pair[1])[0]
    case = ctx.ledger.get_case(latest)
    return case if continues_case(case.current, command.first_sick_day) else None


def employee_cases(ctx: Context, employee_id: str, employer_id: str) -> list[tuple[UUID, date]]:
    """(case id, first sick day) of every case of an employee at an employer.

    Exact without waiting for the read models: the case-state view up to its position,
    plus the sickness reports in the log after that position.
    """
    keys = ctx.ledger.keys
    subject = keys.find_subject(employee_id, employer_id) if keys is not None else None
    if subject is None:  # never reported (or erased): the employee has no cases here
        return []
    position = ctx.store.position(CaseStateProjection().tracking_name) or 0
    cases = cases_of_subject(ctx.store, subject, employer_id)
    reports = ctx.ledger.notifications.pages(position, topics=[ev.REPORT_TOPIC], limit=TAIL_LIMIT)
    tail = list(reports)
    if sum(len(page.events) for page in tail) >= TAIL_LIMIT:
        ctx.catch_up()
        return employee_cases(ctx, employee_id, employer_id)
    for page in tail:
        for report in page.events:
            assert isinstance(report, ev.SicknessReported)
            if report.subject_id == subject and report.employer_id == employer_id:
                cases[report.originator_id] = report.first_sick_day
    return list(cases.items())
