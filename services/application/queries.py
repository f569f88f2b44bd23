"""Reading the ledger for a caller: cases, their deadlines, lists across cases, the
export, the access log, readiness. Each function checks what the caller may see
(``domain.access``), records reads of a case for the reviewer, and returns plain values.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from domain.access import (
    READS_ACCESS_LOG,
    READS_CASES,
    Principal,
    Role,
    default_employer,
    may_export,
    may_list_cases,
    may_list_deadlines,
    may_read_access_log,
    may_read_case,
    may_read_medical,
    may_read_operations,
)
from domain.case import Case
from domain.deadlines import Deadline, DeadlineStatus, case_deadlines
from domain.interchange import dumps_line
from infra.kafka import feed_status
from infra.service_tables import access_log, record_access
from projections.case_state import employer_ids, search_cases, status_counts
from projections.deadlines import CaseDeadline, DeadlineQuery, find_deadlines, overdue_by_employer
from projections.runner import ReadModelRunner
from services.application import read_models
from services.application.case_views import Medical, computable, computing, deadline_replay
from services.application.context import Context
from services.application.errors import Forbidden, InvalidRequest, Issue, NotReady

S5 = "poortwachter.md s5"
# The local operator of the ``ledger`` command: it runs on the database itself.
OPERATOR = Principal("ledger-cli", Role.ADMIN)


def check_operator(principal: Principal) -> None:
    """Metrics are for admins (``domain.access.may_read_operations``)."""
    Forbidden.unless(may_read_operations(principal))


def readable_case(ctx: Context, principal: Principal, case_id: UUID, action: str) -> Case:
    """The case, if ``principal`` may read it; the read is recorded for the reviewer."""
    if principal.role not in READS_CASES | {Role.EMPLOYEE}:  # not even whether it exists
        raise Forbidden("analysts see statistics only, never a case", S5)
    case = ctx.ledger.get_case(case_id)
    own = principal.role is Role.EMPLOYEE and is_own_file(ctx, principal, case)
    Forbidden.unless_case(may_read_case(principal, case.current.employer_id, own_file=own),
                          case_id)  # fmt: skip
    record_access(ctx.store, principal.subject, principal.role.value, case_id, action)
    return case


def is_own_file(ctx: Context, principal: Principal, case: Case) -> bool:
    """Whether the case is about the caller: their employee id, at the case's employer,
    is the case's subject (the blind index; never a comparison of plain ids)."""
    keys, subject = ctx.ledger.keys, case.current.subject_id
    if keys is None or subject is None:
        return False
    return keys.find_subject(principal.subject, case.current.employer_id) == subject


def own_files(ctx: Context, principal: Principal) -> list[UUID]:
    """The files of the employee asking (AVG art. 15), at the employer of their token."""
    if principal.role is not Role.EMPLOYEE or principal.employers is None:
        raise Forbidden("this list is an employee's own files: sign in as the employee", S5)
    keys = ctx.ledger.keys
    (employer,) = principal.employers
    subject = keys.find_subject(principal.subject, employer) if keys is not None else None
    if keys is None or subject is None:
        return []
    files = [ctx.ledger.find_case(case_id) for case_id in keys.cases_of(subject)]
    return sorted(
        (case.id for case in files if case is not None and case.current.employer_id == employer),
        key=str,
    )


def medical_for(ctx: Context, principal: Principal, case: Case) -> Medical | None:
    """The case's medical fields opened, for the occupational physician only (s5)."""
    if not may_read_medical(principal):
        return None
    return ctx.ledger.medical_fields(case.id, principal)


def aware(value: datetime | None, name: str = "known_at") -> datetime | None:
    """A knowledge time must say its UTC offset, or it means different moments."""
    if value is not None and value.tzinfo is None:
        raise InvalidRequest(
            f"{name} needs a UTC offset, e.g. 2026-04-01T00:00:00+02:00",
            [Issue(name, "needs a UTC offset")],
        )
    return value


def case_deadlines_of(
    ctx: Context, principal: Principal, case_id: UUID, on: date, known_at: datetime | None
) -> list[dict[str, Any]]:
    case = computable(readable_case(ctx, principal, case_id, "read deadlines"))
    timeline = case.timeline(known_at=aware(known_at))
    with computing(case_id):
        return [{"case_id": str(case_id), **d.to_json()} for d in case_deadlines(timeline, on)]


def access_log_of(ctx: Context, principal: Principal, case_id: UUID) -> list[dict[str, Any]]:
    """Who read this case and when (UWV reviewers and admins)."""
    if principal.role not in READS_ACCESS_LOG:
        raise Forbidden("the access log is for UWV reviewers and admins", S5)
    case = ctx.ledger.get_case(case_id)
    Forbidden.unless(may_read_access_log(principal, case.current.employer_id))
    return access_log(ctx.store, case_id)


@dataclass(frozen=True)
class DeadlineList:
    """Which deadlines to list across cases, as of ``on``; ``history`` adds ended files."""

    on: date
    employer_id: str | None = None
    case_manager_id: str | None = None
    status: DeadlineStatus | None = None
    due_before: date | None = None
    became_overdue: bool = False
    limit: int | None = None
    history: bool = False


def deadline_scope(
    principal: Principal, employer: str | None, case_manager: str | None
) -> str | None:
    """The employer of a deadline list, if the caller may list it (rules in domain.access)."""
    employer = default_employer(principal, employer)
    Forbidden.unless(may_list_deadlines(principal, employer))
    if employer is None and case_manager is None:
        raise InvalidRequest(
            "pass employer= or case_manager= (or both)",
            [Issue("employer", "employer or case_manager is required")],
        )
    return employer


def list_deadlines(ctx: Context, principal: Principal, wanted: DeadlineList) -> list[CaseDeadline]:
    """The deadlines of the caller's running files (or all, with ``history``), by due
    date, from the deadline view brought up to the log first."""
    query = DeadlineQuery(
        on=wanted.on,
        employer_id=deadline_scope(principal, wanted.employer_id, wanted.case_manager_id),
        case_manager_id=wanted.case_manager_id,
        status=wanted.status,
        due_before=wanted.due_before,
        became_overdue=wanted.became_overdue,
        limit=wanted.limit,
        history=wanted.history,
    )
    ctx.catch_up()
    return find_deadlines(ctx.store, query, deadline_replay(ctx.ledger))


def matches(wanted: DeadlineList, deadline: Deadline) -> bool:
    """Whether one case's deadline belongs in the list (a single case: every deadline)."""
    query = DeadlineQuery(on=wanted.on, status=wanted.status, due_before=wanted.due_before,
                          became_overdue=wanted.became_overdue, history=True)  # fmt: skip
    return query.matches(CaseDeadline(UUID(int=0), deadline))


def employers_served(ctx: Context, principal: Principal, limit: int = 200) -> list[str]:
    """The employers with cases that the caller serves, for choosing one."""
    ctx.catch_up()
    return [e for e in employer_ids(ctx.store) if principal.serves(e)][:limit]


def export_lines(ctx: Context, principal: Principal) -> Iterator[str]:
    """Every stored event as an interchange line, in store order; the export is logged."""
    Forbidden.unless(may_export(principal))
    record_access(ctx.store, principal.subject, principal.role.value, None, "export")
    return (dumps_line(event) + "\n" for event in ctx.ledger.stored_events())


@dataclass(frozen=True)
class Readiness:
    head: int
    behind: dict[str, int]
    feed: list[dict[str, Any]]
    set_aside: dict[str, int]  # events each read model set aside, where there are any


def readiness(ctx: Context, head: int, runner: ReadModelRunner, max_lag: int) -> dict[str, int]:
    """Ready when every read model is within ``max_lag`` of the log's ``head`` (built from
    the log, or by Kafka workers): how far behind each is. The feed is never a reason to
    refuse traffic: Kafka must not block writes."""
    behind = read_models.behind(ctx.store, runner, head)
    worst = max(behind.values(), default=0)
    if worst > max_lag:
        raise NotReady("Read models are behind", f"{worst} notifications behind (bound {max_lag})")
    return behind


def readiness_details(
    ctx: Context, runner: ReadModelRunner, head: int, behind: dict[str, int]
) -> Readiness:
    """What an admin reads of readiness: the lag, the feed and what ``runner``'s read
    models set aside (named as ``ledger project --status`` names them)."""
    held = {name: len(rows) for name, rows in runner.set_aside().items() if rows}
    return Readiness(head, behind, feed_status(ctx.store), held)


@dataclass(frozen=True)
class CaseFilter:
    employer: str | None = None
    case_manager: str | None = None
    status: str | None = None
    reference: str | None = None


def list_cases(ctx: Context, principal: Principal, wanted: CaseFilter) -> list[dict[str, Any]]:
    """The files ``principal`` may read that match ``wanted`` (rules reference s5: an
    employer's token only its own; analysts none)."""
    Forbidden.unless(may_list_cases(principal))
    if wanted.employer is not None and not principal.serves(wanted.employer):
        return []  # as if there were none: no oracle of another employer's files
    return search_cases(ctx.store, employers=principal.employers, employer=wanted.employer,
                        case_manager=wanted.case_manager, status=wanted.status,
                        reference=wanted.reference)  # fmt: skip


def overview(ctx: Context, principal: Principal, on: date) -> dict[str, Any]:
    """A role's first screen: its files by status, and the employers with overdue work."""
    Forbidden.unless(may_list_cases(principal))
    return {"files": status_counts(ctx.store, principal.employers),
            "overdue": overdue_by_employer(ctx.store, on, principal.employers)}  # fmt: skip
