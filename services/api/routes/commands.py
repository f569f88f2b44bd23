"""Commands: report sickness, record an event, import a file. Each path function turns
the request into a command, runs it once per Idempotency-Key, and answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Request
from starlette.concurrency import run_in_threadpool

from domain.access import Principal
from services.api.models import CaseReported, EventAppended, ImportResult, NewEvent, ReportSickness
from services.api.problems import FieldProblem, ProblemError
from services.api.routes.deps import PROBLEMS, Caller, Context, IdempotencyKey, answer
from services.application import idempotency, recording, sickness
from services.application.importer import numbered

router = APIRouter(tags=["commands"])


def _report(ctx: Context, caller: Principal, body: ReportSickness,
            key: str | None) -> tuple[int, dict[str, Any]]:  # fmt: skip
    data = body.model_dump(
        mode="json", exclude_none=True,
        exclude={"event_id", "case_id", "first_sick_day", "employee_id", "employer_id"},
    )  # fmt: skip
    command = sickness.ReportSickness(
        employee_id=body.employee_id,
        employer_id=body.employer_id,
        first_sick_day=body.first_sick_day,
        event_id=body.event_id or idempotency.derived_id(caller, key, "event"),
        case_id=body.case_id,
        new_case_id=idempotency.derived_id(caller, key, "case"),
        data=data,
    )
    result = sickness.report_sickness(ctx, caller, command)
    reported = CaseReported(case_id=result.case_id, event_id=result.event_id,
                            version=result.version, continued=result.continued,
                            message=result.message)  # fmt: skip
    return (201 if result.created else 200), reported.model_dump(mode="json")


@router.post(
    "/cases",
    status_code=201,
    response_model=CaseReported,
    responses={200: {"model": CaseReported, "description": "continued or repeated"}, **PROBLEMS},
)
def report_sickness(
    body: ReportSickness, ctx: Context, caller: Caller, key: IdempotencyKey = None
) -> Any:
    """Report sickness (*ziekmelding*): opens a case, or continues the employee's case
    that recovered less than 28 days before (*samentelling*) and says so."""
    return _once(ctx, caller, key, ("POST /cases", body.model_dump(mode="json")),
                 lambda: _report(ctx, caller, body, key))  # fmt: skip


def _once(ctx: Context, caller: Principal, key: str | None, request: tuple[Any, ...],
          run: Callable[[], tuple[int, dict[str, Any]]]) -> Any:  # fmt: skip
    """Run a command once per Idempotency-Key and answer with the case's version as ETag."""
    done = idempotency.once_per_request(
        ctx, caller, key, request, run, abandoned_after=ctx.settings.idempotency_abandoned_seconds
    )
    return answer(done.code, done.body, replayed=done.replayed, etag=done.body["version"])


def expected_version(if_match: str | None) -> int | None:
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


def _append(ctx: Context, caller: Principal, case_id: UUID, body: NewEvent, if_match: str | None,
            key: str | None) -> tuple[int, dict[str, Any]]:  # fmt: skip
    command = recording.AppendEvent(
        case_id=case_id,
        type=body.type,
        occurred_on=body.occurred_on,
        event_id=body.event_id or idempotency.derived_id(caller, key, "event"),
        data=body.data,
        actor=body.actor.model_dump() if body.actor else None,
        recorded_at=body.recorded_at,
        expected_version=expected_version(if_match),
    )
    appended = recording.append_event(ctx, caller, command)
    event = appended.event
    result = EventAppended(
        case_id=case_id, event_id=event.event_id, type=event.type,
        version=event.originator_version, duplicate=appended.duplicate,
    )  # fmt: skip
    return (200 if appended.duplicate else 201), result.model_dump(mode="json")


@router.post(
    "/cases/{case_id}/events",
    status_code=201,
    response_model=EventAppended,
    responses={200: {"model": EventAppended, "description": "already stored"}, **PROBLEMS},
)
def append_event(
    case_id: UUID,
    body: NewEvent,
    ctx: Context,
    caller: Caller,
    key: IdempotencyKey = None,
    if_match: Annotated[
        str | None, Header(alias="If-Match", description='the case version, e.g. "4"')
    ] = None,
) -> Any:
    """Record any event of the catalogue for a case. ``If-Match`` with the case's version
    gives 409 if another writer came first; without it the server retries."""
    request = ("POST events", str(case_id), body.model_dump(mode="json"))
    return _once(ctx, caller, key, request,
                 lambda: _append(ctx, caller, case_id, body, if_match, key))  # fmt: skip


@router.post(
    "/events:import",
    response_model=ImportResult,
    responses=PROBLEMS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-ndjson": {
                    "schema": {"type": "string"},
                    "example": '{"event_id": "...", "case_id": "...", "type": "SicknessReported"}',
                }
            },
        }
    },
)
async def import_events(request: Request, ctx: Context, caller: Caller) -> ImportResult:
    """Import interchange events (JSON Lines), with the rules of `ledger import`: every
    line is checked first; on any problem nothing is stored. Parsed off the event loop."""
    recording.check_importer(caller)
    body = await request.body()
    # splitting 100 MB into lines takes seconds: not on the loop that answers /health
    summary = await run_in_threadpool(
        lambda: recording.import_file(ctx, caller, list(numbered(body.splitlines())),
                                      progress=ctx.metrics.import_progress)
    )
    ctx.metrics.import_progress("done", summary.lines, 0)
    return ImportResult(**summary.to_json())
