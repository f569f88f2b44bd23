"""The HTTP endpoints: thin, each one call into ``commands`` or the views."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError

from domain.access import (
    IMPORTS,
    READS_ACCESS_LOG,
    Principal,
    Role,
    default_employer,
    may_export,
    may_list_deadlines,
    may_read_access_log,
    may_read_statistics,
    suppress_below,
)
from domain.deadlines import DeadlineStatus, case_deadlines
from domain.interchange import dumps_line
from infra.headcount import HeadcountRow, store_headcount
from infra.service_tables import access_log, record_access
from projections.deadlines import DeadlineQuery, find_deadlines
from projections.reports import MissingHeadcount
from services.api import commands
from services.api.auth import TokenError
from services.api.context import ApiContext
from services.api.models import (
    AccessRecord,
    CaseReported,
    CaseView,
    DeadlineRow,
    EventAppended,
    HeadcountBody,
    Health,
    ImportResult,
    NewEvent,
    Readiness,
    ReportSickness,
    TimelineEntry,
)
from services.api.problems import FieldProblem, Problem, ProblemError, forbidden
from services.case_views import case_view, deadline_replay, timeline_view
from services.feed import feed_status
from services.importer import import_lines, numbered
from services.review_pack import render_html, review_pack
from services.stats_views import as_rows, report, to_csv

bearer = HTTPBearer(auto_error=False, description="a token from `ledger token --role ROLE`")
COOKIE = "ledger_token"
PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {"application/problem+json": {}}}
    for status in (400, 401, 403, 404, 409, 422)
}
log = logging.getLogger("ledger.api")
router = APIRouter()
S5 = "poortwachter.md s5"


def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    if ctx.ledger.keys is not None:  # an erasure or key rotation elsewhere counts at once
        ctx.ledger.keys.refresh()
    return ctx


Context = Annotated[ApiContext, Depends(context)]


def principal(
    request: Request,
    ctx: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    token = credentials.credentials if credentials else None  # the pages' cookie is not enough
    if not token:
        raise ProblemError(
            401, "unauthenticated", "A bearer token is required",
            "send Authorization: Bearer TOKEN; get a token with `ledger token --role ROLE`",
        )  # fmt: skip
    try:
        return ctx.principal(token)
    except TokenError as error:
        raise ProblemError(401, "unauthenticated", "The token was refused", str(error)) from None


Caller = Annotated[Principal, Depends(principal)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=200, description="retries return the first result"),
]


def _json(status: int, body: dict[str, Any], replayed: bool, etag: int | None) -> JSONResponse:
    headers = {"ETag": f'"{etag}"'} if etag is not None else {}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(body, status_code=status, headers=headers)


@router.post(
    "/cases",
    status_code=201,
    response_model=CaseReported,
    responses={200: {"model": CaseReported, "description": "continued or repeated"}, **PROBLEMS},
    tags=["commands"],
)
def report_sickness(
    body: ReportSickness, ctx: Context, caller: Caller, key: IdempotencyKey = None
) -> JSONResponse:
    """Report sickness (*ziekmelding*): opens a case, or continues the employee's case
    that recovered less than 28 days before (*samentelling*) and says so."""
    fingerprint = commands.request_hash(ctx, "POST /cases", body.model_dump(mode="json"))
    status, result, replayed = commands.once(
        ctx, caller, key, fingerprint, lambda: commands.report_sickness(ctx, caller, body, key)
    )
    return _json(status, result, replayed, result["version"])


@router.post(
    "/cases/{case_id}/events",
    status_code=201,
    response_model=EventAppended,
    responses={200: {"model": EventAppended, "description": "already stored"}, **PROBLEMS},
    tags=["commands"],
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
) -> JSONResponse:
    """Record any event of the catalogue for a case. ``If-Match`` with the case's version
    gives 409 if another writer came first; without it the server retries."""
    fingerprint = commands.request_hash(
        ctx, "POST events", str(case_id), body.model_dump(mode="json")
    )
    status, result, replayed = commands.once(
        ctx, caller, key, fingerprint,
        lambda: commands.append_event(ctx, caller, case_id, body, if_match, key),
    )  # fmt: skip
    return _json(status, result, replayed, result["version"])


@router.post(
    "/events:import",
    response_model=ImportResult,
    responses=PROBLEMS,
    tags=["commands"],
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
    line is checked first; on any problem nothing is stored."""
    if caller.role not in IMPORTS:
        raise forbidden("only an admin imports files", "poortwachter.md s5")
    lines = list(numbered((await request.body()).splitlines()))
    commands.allow_import(caller, lines)
    from starlette.concurrency import run_in_threadpool

    summary = await run_in_threadpool(import_lines, ctx.ledger, lines)
    return ImportResult(**summary.to_json())


@router.get("/cases/{case_id}", response_model=CaseView, responses=PROBLEMS, tags=["cases"])
def read_case(
    case_id: UUID,
    ctx: Context,
    caller: Caller,
    response: Response,
    as_of: date | None = None,
    known_at: datetime | None = None,
) -> dict[str, Any]:
    """What the file says: the state on ``as_of`` as known at ``known_at``."""
    case = commands.readable_case(ctx, caller, case_id, "read case")
    known = commands.parse_known_at(known_at)
    response.headers["ETag"] = f'"{case.version}"'
    medical = commands.medical_for(ctx, caller, case)
    return case_view(case, as_of or date.today(), known, medical)


@router.get(
    "/cases/{case_id}/timeline",
    response_model=list[TimelineEntry],
    responses=PROBLEMS,
    tags=["cases"],
)
def read_timeline(
    case_id: UUID, ctx: Context, caller: Caller, known_at: datetime | None = None
) -> list[dict[str, Any]]:
    """Every recorded event in business order, marked effective, corrected or retracted."""
    case = commands.readable_case(ctx, caller, case_id, "read timeline")
    medical = commands.medical_for(ctx, caller, case)
    return timeline_view(case, commands.parse_known_at(known_at), medical)


@router.get(
    "/cases/{case_id}/deadlines",
    response_model=list[DeadlineRow],
    responses=PROBLEMS,
    tags=["cases"],
)
def read_case_deadlines(
    case_id: UUID,
    ctx: Context,
    caller: Caller,
    on: date | None = None,
    known_at: datetime | None = None,
) -> list[dict[str, Any]]:
    """The Poortwachter deadlines of a case on a day (default today)."""
    case = commands.readable_case(ctx, caller, case_id, "read deadlines")
    timeline = case.timeline(known_at=commands.parse_known_at(known_at))
    return [
        {"case_id": str(case_id), **d.to_json()}
        for d in case_deadlines(timeline, on or date.today())
    ]


@router.get(
    "/cases/{case_id}/access-log",
    response_model=list[AccessRecord],
    responses=PROBLEMS,
    tags=["cases"],
)
def read_access_log(case_id: UUID, ctx: Context, caller: Caller) -> list[dict[str, Any]]:
    """Who read this case and when (UWV reviewers and admins)."""
    if caller.role not in READS_ACCESS_LOG:
        raise forbidden("the access log is for UWV reviewers and admins", S5)
    case = ctx.ledger.get_case(case_id)
    commands.allow(may_read_access_log(caller, case.current.employer_id))
    return access_log(ctx.store, case_id)


@router.get("/deadlines", response_model=list[DeadlineRow], responses=PROBLEMS, tags=["views"])
def list_deadlines(
    ctx: Context,
    caller: Caller,
    employer: Annotated[str | None, Query(max_length=64)] = None,
    case_manager: Annotated[str | None, Query(max_length=64)] = None,
    status: DeadlineStatus | None = None,
    due_before: date | None = None,
    on: date | None = None,
    overdue_since_yesterday: bool = False,
    limit: Annotated[int | None, Query(ge=1, le=10_000)] = None,
    history: bool = False,
) -> list[dict[str, Any]]:
    """Deadlines of an employer's or a case manager's running files, by due date; ``limit``
    gives the first page of a long list, ``history=true`` adds the files that ended."""
    query = DeadlineQuery(
        on=on or date.today(),
        employer_id=employer_scope(caller, employer, case_manager),
        case_manager_id=case_manager,
        status=status,
        due_before=due_before,
        became_overdue=overdue_since_yesterday,
        limit=limit,
        history=history,
    )
    ctx.refresh()

    return [row.to_json() for row in find_deadlines(ctx.store, query, deadline_replay(ctx.ledger))]


def employer_scope(caller: Principal, employer: str | None, case_manager: str | None) -> str | None:
    """The employer of a deadline list, if the caller may list it (rules in domain.access)."""
    employer = default_employer(caller, employer)
    commands.allow(may_list_deadlines(caller, employer))
    if employer is None and case_manager is None:
        raise ProblemError(
            422, "invalid-request", "Say whose deadlines",
            "pass employer= or case_manager= (or both)",
            [FieldProblem(field="employer", message="employer or case_manager is required")],
        )  # fmt: skip
    return employer


@router.get(
    "/export",
    responses={200: {"content": {"application/x-ndjson": {}}}, **PROBLEMS},
    response_class=StreamingResponse,
    tags=["views"],
)
def export(ctx: Context, caller: Caller) -> StreamingResponse:
    """Every stored event as interchange JSON Lines, in store order."""
    commands.allow(may_export(caller))
    record_access(ctx.store, caller.subject, caller.role.value, None, "export")

    def lines() -> Iterator[str]:
        for event in ctx.ledger.stored_events():
            yield dumps_line(event) + "\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@router.get("/health", response_model=Health, tags=["operations"])
def health() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get(
    "/ready",
    response_model=Readiness,
    responses={503: {"model": Problem, "content": {"application/problem+json": {}}}},
    tags=["operations"],
)
def ready(ctx: Context) -> Readiness:
    """Ready when the store answers and every read model is within the lag bound."""
    try:
        head = ctx.runner.head()
        positions = ctx.runner.positions()
    except Exception as error:  # the store is what is not ready
        log.warning("not ready: %s", error)  # the reason goes to the log, not to the caller
        raise ProblemError(
            503, "not-ready", "The store does not answer", "the database does not answer; retry"
        ) from None
    behind = {name: head - (pos or 0) for name, pos in positions.items()}
    worst = max(behind.values(), default=0)
    if worst > ctx.settings.ready_max_lag:
        raise ProblemError(
            503, "not-ready", "Read models are behind",
            f"{worst} notifications behind (bound {ctx.settings.ready_max_lag})",
        )  # fmt: skip
    # The feed is reported, never a reason to refuse traffic: Kafka must not block writes.
    return Readiness(status="ready", head=head, behind=behind, feed=feed_status(ctx.store))


__all__ = ["COOKIE", "Role", "principal", "router"]


@router.get(
    "/stats/{report_name}",
    responses={
        200: {
            "description": "the report as JSON, or CSV with format=csv",
            "content": {"application/json": {}, "text/csv": {}},
        },
        **PROBLEMS,
    },
    tags=["statistics"],
)
def statistics(
    report_name: Annotated[str, Path(pattern="^(second-track|sanctions|deadlines|kpi)$")],
    ctx: Context,
    caller: Caller,
    on: date | None = None,
    by: Annotated[list[str] | None, Query()] = None,
    employer: Annotated[str | None, Query(max_length=64)] = None,
    period: Annotated[str | None, Query(max_length=10)] = None,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
) -> Response:
    """Statistics as of ``on`` (default today). For analysts, groups smaller than
    ``SMALL_GROUP`` are suppressed so that no person can be singled out."""
    commands.allow(may_read_statistics(caller, employer if report_name == "kpi" else None))
    hide = suppress_below(caller)
    ctx.refresh()
    try:
        result = report(ctx.store, report_name, on or date.today(), by=by, employer_id=employer,
                        period=period, suppress_below=hide)  # fmt: skip
    except MissingHeadcount as missing:
        problem = FieldProblem(field="period", message=str(missing))
        raise ProblemError(
            404, "no-headcount", "No headcount for that period", str(missing), [problem]
        ) from None
    except ValueError as error:
        raise ProblemError(422, "invalid-request", "The request is not valid", str(error),
                           [FieldProblem(field="query", message=str(error))]) from None  # fmt: skip
    if format == "csv":
        return Response(to_csv(as_rows(report_name, result)), media_type="text/csv")
    return JSONResponse(result)


@router.put(
    "/employers/{employer_id}/headcount/{period}",
    response_model=HeadcountRow,
    responses=PROBLEMS,
    tags=["statistics"],
)
def put_headcount(
    employer_id: Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9._:@-]+$")],
    period: Annotated[str, Path(max_length=10)],
    body: HeadcountBody,
    ctx: Context,
    caller: Caller,
) -> HeadcountRow:
    """An employer's headcount and part-time factor for a period (for the absence KPIs)."""
    if caller.role not in (Role.ADMIN, Role.EMPLOYER) or not caller.serves(employer_id):
        raise forbidden("headcounts come from the employer itself or an admin", S5)
    try:
        row = HeadcountRow(employer_id=employer_id, period=period, **body.model_dump())
    except ValidationError as error:
        detail = error.errors(include_url=False)[0]
        problem = FieldProblem(field=str(detail["loc"][0]), message=detail["msg"])
        raise ProblemError(
            422, "invalid-request", "The headcount is not valid", detail["msg"], [problem]
        ) from None
    store_headcount(ctx.store, [row])
    return row


@router.get(
    "/cases/{case_id}/review-pack",
    responses={200: {"content": {"application/json": {}, "text/html": {}}}, **PROBLEMS},
    tags=["cases"],
)
def read_review_pack(
    case_id: UUID,
    ctx: Context,
    caller: Caller,
    on: date | None = None,
    format: Annotated[str, Query(pattern="^(json|html)$")] = "json",
) -> Response:
    """The reviewer's pack (RIV review, rules reference s4), with its proof bundle."""
    commands.readable_case(ctx, caller, case_id, "read review pack")
    pack = review_pack(ctx.ledger, ctx.store, case_id, on or date.today())
    if format == "html":
        return HTMLResponse(render_html(pack))
    return JSONResponse(pack)
