"""Recording facts: one event for a case (``append_event``), or a file of them through the
importer, each checked against who may record what (``domain.access``) and the case's
rules (``domain.rules``, raised by the aggregate)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from domain import events as ev
from domain.access import (
    IMPORTS,
    Principal,
    Role,
    actor_role,
    may_read_case,
    may_record,
    may_record_at_all,
    may_record_kind,
)
from domain.case import Case
from domain.interchange import LINE_ADAPTER, InterchangeLine
from services.application.context import Context
from services.application.errors import Forbidden, InvalidRequest, Issue
from services.application.importer import ImportSummary, Progress, import_lines
from services.application.ledger import Appended, UnknownCaseError

S5 = "poortwachter.md s5"


def actor_of(principal: Principal) -> dict[str, str]:
    """Who an event says recorded it: the caller, in the role of its token."""
    return {"role": actor_role(principal.role).value, "id": principal.subject}


def interchange_line(fields: dict[str, Any]) -> InterchangeLine:
    """The fields as an interchange line, or ``InvalidRequest`` naming every bad field."""
    try:
        return LINE_ADAPTER.validate_python(fields)
    except ValidationError as error:
        kind = fields.get("type")
        issues = [
            Issue(".".join(str(p) for p in e["loc"][1:] if p != kind) or "body", e["msg"])
            for e in error.errors(include_url=False)
        ]
        detail = "; ".join(f"{i.field}: {i.message}" for i in issues[:5])
        raise InvalidRequest(detail, issues, kind="invalid-event") from None


@dataclass(frozen=True)
class AppendEvent:
    """Record one event of the catalogue for an existing case. ``expected_version`` makes
    the command fail if someone else wrote first; without it the ledger retries."""

    case_id: UUID
    type: str
    occurred_on: date
    event_id: UUID
    data: dict[str, Any] = field(default_factory=dict)
    actor: dict[str, str] | None = None  # admin only: who recorded it (back-filling)
    recorded_at: datetime | None = None  # admin only
    expected_version: int | None = None


def append_event(ctx: Context, principal: Principal, command: AppendEvent) -> Appended:
    Forbidden.unless(may_record_at_all(principal, command.type))
    case = ctx.ledger.get_case(command.case_id)
    event_class = _recordable(command.type)
    authorize(principal, case, event_class, command.data)
    if (command.actor or command.recorded_at) and principal.role is not Role.ADMIN:
        raise Forbidden("only an admin may set actor or recorded_at", S5)
    fields: dict[str, Any] = {
        "event_id": command.event_id, "case_id": command.case_id, "type": command.type,
        "occurred_on": command.occurred_on, "actor": command.actor or actor_of(principal),
        "recorded_at": command.recorded_at, "data": command.data,
    }  # fmt: skip
    if event_class.class_version > 1:  # a command speaks the current shape; files may be older
        fields["class_version"] = event_class.class_version
    line = interchange_line(fields)
    if command.expected_version is None:
        return ctx.ledger.append_retrying(line, read=case)
    return ctx.ledger.append(line, command.expected_version, read=case)


def _recordable(kind: str) -> type[ev.CaseEvent]:
    event_class = ev.CATALOGUE.get(kind)
    if event_class is not None and event_class is not ev.SicknessReported:
        return event_class
    known = ", ".join(t for t in ev.CATALOGUE if t != "SicknessReported")
    reason = (
        "a case is opened with a sickness report (POST /cases, ledger report)"
        if event_class is ev.SicknessReported
        else f"unknown event type; known types: {known}"
    )
    raise InvalidRequest(reason, [Issue("type", reason)], kind="invalid-event")


def authorize(
    principal: Principal, case: Case, event_class: type[ev.CaseEvent], data: dict[str, Any]
) -> None:
    """Whether ``principal`` may record this event for ``case``; a correction is judged by
    the kind of event it corrects."""
    if may_read_case(principal, case.current.employer_id).hidden:
        raise UnknownCaseError(case.id)
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
    Forbidden.unless(may_record(principal, event_class, employer, data, target_class))


def allow_import(
    ctx: Context, principal: Principal, lines: Sequence[tuple[int, bytes | str]]
) -> None:
    """An import records each line's event as the caller: only types the caller may record
    (an admin imports no medical notes, no UWV decision, and no erasure), and corrections
    only of events the caller may record."""
    parsed = [(number, _json_object(text)) for number, text in lines]
    kinds = {str(item.get("event_id")): item.get("type") for _, item in parsed}
    for number, item in parsed:
        event_class = ev.CATALOGUE.get(item.get("type"))  # type: ignore[arg-type]
        if event_class is None:
            continue  # the importer reports the line
        if event_class in ev.CORRECTION_TYPES:
            event_class = _corrected_class(ctx, item, kinds) or event_class
        decision = may_record_kind(principal, event_class)
        if not decision:
            raise Forbidden(
                f"line {number}: {decision.reason}; a whole file (an export) is restored "
                "with `ledger import` at the database",
                decision.rule,
            )


def _json_object(text: bytes | str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _corrected_class(
    ctx: Context, item: dict[str, Any], kinds: dict[str, Any]
) -> type[ev.CaseEvent] | None:
    """The kind of event a correction line names: in the same file, or already stored."""
    data = item.get("data")
    data = data if isinstance(data, dict) else {}
    target = str(data.get("corrects") or data.get("retracts"))
    kind = kinds.get(target)
    if kind is None:
        try:
            case = ctx.ledger.find_case(UUID(str(item.get("case_id"))))
            stored = case.events_by_id.get(UUID(target)) if case is not None else None
        except ValueError:
            stored = None
        kind = stored.type if stored is not None else None
    return ev.CATALOGUE.get(kind) if isinstance(kind, str) else None


def check_importer(principal: Principal) -> None:
    """Only an admin imports files (checked before the file is read)."""
    if principal.role not in IMPORTS:
        raise Forbidden("only an admin imports files (and UWV its decisions)", S5)


def import_file(
    ctx: Context, principal: Principal, lines: Sequence[tuple[int, bytes | str]],
    progress: Progress | None = None,
) -> ImportSummary:
    """An import by a caller: every line checked first; on any problem nothing is stored."""
    check_importer(principal)
    allow_import(ctx, principal, lines)
    return import_lines(ctx.ledger, lines, progress=progress)
