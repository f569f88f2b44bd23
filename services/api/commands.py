"""What the endpoints do, as plain functions: authorize, build the interchange line,
append, answer. The rules themselves live in ``domain``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.utils import get_topic
from pydantic import ValidationError

from domain import events as ev
from domain.access import (
    READS_CASES,
    Principal,
    Role,
    actor_role,
    may_read_case,
    may_read_medical,
    may_record,
    may_record_kind,
)
from domain.case import Case, continues_case
from domain.interchange import LINE_ADAPTER, InterchangeLine
from infra.service_tables import (
    PENDING,
    reclaim,
    record_access,
    release,
    reserve,
    store_result,
    stored_result,
)
from projections.case_state import CaseStateProjection
from services.api.context import ApiContext
from services.api.models import CaseReported, EventAppended, NewEvent, ReportSickness
from services.api.problems import FieldProblem, ProblemError, forbidden
from services.case_views import Medical
from services.ledger import VersionConflictError

REPORT_TOPIC = get_topic(ev.SicknessReported)
IDEMPOTENCY_NAMESPACE = uuid5(NAMESPACE_URL, "https://ledger.example/idempotency")


def derived_id(principal: Principal, key: str | None, purpose: str) -> UUID:
    """The same id for every retry of one keyed request; a fresh one without a key."""
    if key is None:
        return uuid4()
    return uuid5(IDEMPOTENCY_NAMESPACE, f"{principal.subject}\n{key}\n{purpose}")


def request_hash(ctx: ApiContext, *parts: Any) -> str:
    """A keyed digest of a request: it tells a retry from another request, and, unlike a
    plain hash, nobody can test guesses of the body (an employee id, a note) against it."""
    text = json.dumps(parts, sort_keys=True, default=str)
    if ctx.ledger.keys is not None:
        return ctx.ledger.keys.blind(text)
    return hashlib.sha256(text.encode()).hexdigest()


def key_owner(principal: Principal) -> str:
    """Whose Idempotency-Keys these are: the whole identity (subject, role, employers), so
    that a token for other employers never replays another's result."""
    employers = "*" if principal.employers is None else ",".join(sorted(principal.employers))
    return f"{principal.subject}|{principal.role.value}|{employers}"


def once(
    ctx: ApiContext,
    principal: Principal,
    key: str | None,
    fingerprint: str,
    command: Callable[[], tuple[int, dict[str, Any]]],
) -> tuple[int, dict[str, Any], bool]:
    """Run ``command`` once per ``Idempotency-Key``: a retry gets the first result
    (status, body, replayed=True); the same key for another request is a 422."""
    if key is None:
        status, body = command()
        return status, body, False
    owner = key_owner(principal)
    if not reserve(ctx.store, owner, key, fingerprint):  # someone came first
        first = stored_result(ctx.store, owner, key)
        if first is None or first.request_hash != fingerprint:
            raise ProblemError(
                422, "idempotency-key-reused", "Idempotency-Key used for another request",
                f"the key {key!r} was first used with a different request; use a new key",
                [FieldProblem(field="Idempotency-Key", message="reused for another request")],
            )  # fmt: skip
        abandoned_after = ctx.settings.idempotency_abandoned_seconds
        if first.status == PENDING and reclaim(ctx.store, owner, key, fingerprint, abandoned_after):
            return _run_once(ctx, principal, key, fingerprint, command)
        if first.status == PENDING:
            raise ProblemError(
                409, "request-in-progress", "The first request with this key is still running",
                f"a request with Idempotency-Key {key!r} is in progress; retry shortly",
            )  # fmt: skip
        return first.status, first.body, True
    return _run_once(ctx, principal, key, fingerprint, command)


def _run_once(
    ctx: ApiContext,
    principal: Principal,
    key: str,
    fingerprint: str,
    command: Callable[[], tuple[int, dict[str, Any]]],
) -> tuple[int, dict[str, Any], bool]:
    try:
        status, body = command()
    except BaseException:
        release(ctx.store, key_owner(principal), key)  # a refused request may be sent again
        raise
    store_result(ctx.store, key_owner(principal), key, fingerprint, status, body)
    return status, body, False


def _line(fields: dict[str, Any]) -> InterchangeLine:
    try:
        return LINE_ADAPTER.validate_python(fields)
    except ValidationError as error:
        problems = [
            FieldProblem(
                field=".".join(str(p) for p in e["loc"][1:] if p != fields.get("type")) or "body",
                message=e["msg"],
            )
            for e in error.errors(include_url=False)
        ]
        detail = "; ".join(f"{p.field}: {p.message}" for p in problems[:5])
        raise ProblemError(
            422, "invalid-event", "The event is not valid", detail, problems
        ) from None


def _actor(principal: Principal) -> dict[str, str]:
    return {"role": actor_role(principal.role).value, "id": principal.subject}


def allow(decision: Any) -> None:
    """Raise a 403 naming the reason unless ``decision`` allows."""
    if not decision:
        raise forbidden(decision.reason, decision.rule)


def report_sickness(
    ctx: ApiContext, principal: Principal, body: ReportSickness, key: str | None
) -> tuple[int, dict[str, Any]]:
    data = body.model_dump(
        mode="json", exclude_none=True, exclude={"event_id", "case_id", "first_sick_day"}
    )
    allow(may_record(principal, ev.SicknessReported, body.employer_id, data))
    event_id = body.event_id or derived_id(principal, key, "event")
    repeated = _already_reported(ctx, body, event_id)
    if repeated is not None:
        return 200, repeated
    continued = _case_to_continue(ctx, body)
    if continued is not None:
        resumed: dict[str, Any] = {}
        if body.incapacity_percent is not None:
            resumed["incapacity_percent"] = body.incapacity_percent
        line = _line(
            {"event_id": event_id, "case_id": continued.id, "type": "SicknessResumed",
             "occurred_on": body.first_sick_day, "actor": _actor(principal), "data": resumed}
        )  # fmt: skip
        appended = ctx.ledger.append_retrying(line)
        recovered = continued.current.recovered_on
        message = (
            f"continues case {continued.id}: sick again "
            f"{(body.first_sick_day - recovered).days if recovered else 0} days after recovery "
            f"on {recovered} (samentelling, art. 7:629 lid 10 BW)"
        )
        status = 200
    else:
        case_id = body.case_id or derived_id(principal, key, "case")
        existing = ctx.ledger.find_case(case_id) if body.case_id else None
        if existing is not None:  # name no other employer's case, not even to learn it exists
            allow(may_read_case(principal, existing.current.employer_id))
        line = _line(
            {"event_id": event_id, "case_id": case_id, "type": "SicknessReported",
             "occurred_on": body.first_sick_day, "actor": _actor(principal),
             "data": {**data, "first_sick_day": body.first_sick_day.isoformat()}}
        )  # fmt: skip
        appended = ctx.ledger.append_retrying(line)
        message = (
            "this sickness report was stored already" if appended.duplicate else ("new case opened")
        )
        status = 200 if appended.duplicate else 201
    result = CaseReported(
        case_id=appended.event.originator_id,
        event_id=appended.event.event_id,
        version=appended.event.originator_version,
        continued=continued is not None,
        message=message,
    )
    return status, result.model_dump(mode="json")


def _already_reported(
    ctx: ApiContext, body: ReportSickness, event_id: UUID
) -> dict[str, Any] | None:
    """A report with this event id stored before (a retry): the answer it had."""
    for case_id, _ in employee_cases(ctx, body.employee_id, body.employer_id):
        stored = ctx.ledger.get_case(case_id).events_by_id.get(event_id)
        if stored is not None:
            result = CaseReported(
                case_id=case_id, event_id=event_id, version=stored.originator_version,
                continued=isinstance(stored, ev.SicknessResumed),
                message="this sickness report was stored already",
            )  # fmt: skip
            return result.model_dump(mode="json")
    return None


def _case_to_continue(ctx: ApiContext, body: ReportSickness) -> Case | None:
    """The employee's most recent case at this employer, if this sickness continues it.

    Exact without waiting for the read models: the case-state view up to its position,
    plus the sickness reports in the log after that position.
    """
    found = employee_cases(ctx, body.employee_id, body.employer_id)
    if not found:
        return None
    latest = max(found, key=lambda pair: pair[1])[0]
    case = ctx.ledger.get_case(latest)
    return case if continues_case(case.current, body.first_sick_day) else None


TAIL_LIMIT = 5_000  # beyond this lag, bring the read models up to date instead


def employee_cases(ctx: ApiContext, employee_id: str, employer_id: str) -> list[tuple[UUID, date]]:
    """(case id, first sick day) of every case of an employee at an employer."""
    keys = ctx.ledger.keys
    subject = keys.find_subject(employee_id) if keys is not None else None
    if subject is None:  # never reported (or erased): the employee has no cases here
        return []
    position = ctx.store.position(CaseStateProjection().tracking_name) or 0
    rows = ctx.store.query(
        "SELECT case_id, first_sick_day FROM {case_state} WHERE subject_id = ? AND employer_id = ?",
        [str(subject), employer_id],
    )
    cases = {UUID(r["case_id"]): date.fromisoformat(r["first_sick_day"]) for r in rows}
    tail = ctx.ledger.recorder.select_notifications(
        position, TAIL_LIMIT, inclusive_of_start=False, topics=[REPORT_TOPIC]
    )
    if len(tail) == TAIL_LIMIT:
        ctx.refresh()
        return employee_cases(ctx, employee_id, employer_id)
    for notification in tail:
        report = ctx.ledger.mapper.to_domain_event(notification)
        assert isinstance(report, ev.SicknessReported)
        if report.subject_id == subject and report.employer_id == employer_id:
            cases[report.originator_id] = report.first_sick_day
    return list(cases.items())


def append_event(
    ctx: ApiContext,
    principal: Principal,
    case_id: UUID,
    body: NewEvent,
    if_match: str | None,
    key: str | None,
) -> tuple[int, dict[str, Any]]:
    case = ctx.ledger.get_case(case_id)
    event_class = ev.CATALOGUE.get(body.type)
    if event_class is None or event_class is ev.SicknessReported:
        known = ", ".join(t for t in ev.CATALOGUE if t != "SicknessReported")
        reason = (
            "a case is opened with POST /cases"
            if event_class is ev.SicknessReported
            else f"unknown event type; known types: {known}"
        )
        raise ProblemError(422, "invalid-event", "The event is not valid", reason,
                           [FieldProblem(field="type", message=reason)])  # fmt: skip
    _authorize_record(principal, case, event_class, body.data)
    if (body.actor or body.recorded_at) and principal.role is not Role.ADMIN:
        raise forbidden("only an admin may set actor or recorded_at", "poortwachter.md s5")
    fields = {
        "event_id": body.event_id or derived_id(principal, key, "event"),
        "case_id": case_id,
        "type": body.type,
        "occurred_on": body.occurred_on,
        "actor": body.actor.model_dump() if body.actor else _actor(principal),
        "recorded_at": body.recorded_at,
        "data": body.data,
    }
    if event_class.class_version > 1:  # the API speaks the current shape; files may be older
        fields["class_version"] = event_class.class_version
    line = _line(fields)
    expected = _expected_version(if_match)
    try:
        if expected is None:
            appended = ctx.ledger.append_retrying(line)
        else:
            appended = ctx.ledger.append(line, expected)
    except VersionConflictError as conflict:
        raise ProblemError(
            409, "version-conflict", "The case changed since you read it",
            f"{conflict}; read the case again and retry with If-Match: \"{conflict.current}\"",
            [FieldProblem(field="If-Match", message=str(conflict))],
            current_version=conflict.current,
        ) from None  # fmt: skip
    result = EventAppended(
        case_id=case_id,
        event_id=appended.event.event_id,
        type=appended.event.type,
        version=appended.event.originator_version,
        duplicate=appended.duplicate,
    )
    return (200 if appended.duplicate else 201), result.model_dump(mode="json")


def _authorize_record(
    principal: Principal, case: Case, event_class: type[ev.CaseEvent], data: dict[str, Any]
) -> None:
    target_class: type[ev.CaseEvent] | None = None
    if event_class in ev.CORRECTION_TYPES:
        target_id = data.get("corrects") or data.get("retracts")
        try:
            target = case.events_by_id.get(UUID(str(target_id)))
        except ValueError:
            target = None
        if target is None:
            return  # the case's rules refuse a correction of an unknown event
        target_class = type(target)
    employer = case.current.employer_id
    allow(may_record(principal, event_class, employer, data, target_class))


def _expected_version(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    text = if_match.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise ProblemError(
            400, "invalid-if-match", "If-Match must be the case version",
            f"If-Match {if_match!r} is not a version; send the ETag of GET /cases/{{id}}, "
            'e.g. If-Match: "4"',
            [FieldProblem(field="If-Match", message="expected a case version such as \"4\"")],
        )  # fmt: skip
    return int(text)


def readable_case(ctx: ApiContext, principal: Principal, case_id: UUID, action: str) -> Case:
    """The case, if ``principal`` may read it; the read is recorded for the reviewer."""
    if principal.role not in READS_CASES:  # before looking: not even whether it exists
        raise forbidden("analysts see statistics only, never a case", "poortwachter.md s5")
    case = ctx.ledger.get_case(case_id)
    allow(may_read_case(principal, case.current.employer_id))
    record_access(ctx.store, principal.subject, principal.role.value, case_id, action)
    return case


def allow_import(principal: Principal, lines: Sequence[tuple[int, bytes | str]]) -> None:
    """An import records each line's event as the caller: only types the caller may record
    (an admin imports no medical notes, and no erasure)."""
    for number, text in lines:
        try:
            kind = json.loads(text).get("type")
        except (ValueError, AttributeError):
            continue  # the importer reports the line
        event_class = ev.CATALOGUE.get(kind) if isinstance(kind, str) else None
        decision = may_record_kind(principal, event_class) if event_class else None
        if decision is not None and not decision:
            raise forbidden(f"line {number}: {decision.reason}", decision.rule)


def medical_for(ctx: ApiContext, principal: Principal, case: Case) -> Medical | None:
    """The case's medical fields opened, for the occupational physician only (s5)."""
    if not may_read_medical(principal):
        return None
    return ctx.ledger.medical_fields(case.id, principal)


def parse_known_at(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ProblemError(
            422, "invalid-request", "The request is not valid",
            "known_at needs a UTC offset, e.g. 2026-04-01T00:00:00+02:00",
            [FieldProblem(field="known_at", message="needs a UTC offset")],
        )  # fmt: skip
    return value
