"""One case: what the file says, its timeline, its deadlines, who read it, its review
pack. Every read is checked and recorded by the application layer."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response
from fastapi.responses import HTMLResponse, JSONResponse

from services.api.models import AccessRecord, CaseView, DeadlineRow, OwnFiles, TimelineEntry
from services.api.routes.deps import PROBLEMS, Caller, Context
from services.application import queries
from services.application.case_views import case_view, timeline_view
from services.application.review_pack import render_html, review_pack_for

router = APIRouter(tags=["cases"], responses=PROBLEMS)


@router.get("/me/cases", response_model=OwnFiles)
def read_own_files(ctx: Context, caller: Caller) -> OwnFiles:
    """An employee's own files at the employer of their token (`ledger token --role
    employee --employer ER --subject EMPLOYEE_ID`); medical notes stay withheld."""
    return OwnFiles(case_ids=queries.own_files(ctx, caller))


@router.get("/cases/{case_id}", response_model=CaseView)
def read_case(
    case_id: UUID,
    ctx: Context,
    caller: Caller,
    response: Response,
    as_of: date | None = None,
    known_at: datetime | None = None,
) -> dict[str, Any]:
    """What the file says: the state on ``as_of`` as known at ``known_at``."""
    case = queries.readable_case(ctx, caller, case_id, "read case")
    known = queries.aware(known_at)
    response.headers["ETag"] = f'"{case.version}"'
    return case_view(case, as_of or date.today(), known, queries.medical_for(ctx, caller, case))


@router.get("/cases/{case_id}/timeline", response_model=list[TimelineEntry])
def read_timeline(
    case_id: UUID, ctx: Context, caller: Caller, known_at: datetime | None = None
) -> list[dict[str, Any]]:
    """Every recorded event in business order, marked effective, corrected or retracted."""
    case = queries.readable_case(ctx, caller, case_id, "read timeline")
    return timeline_view(case, queries.aware(known_at), queries.medical_for(ctx, caller, case))


@router.get("/cases/{case_id}/deadlines", response_model=list[DeadlineRow])
def read_case_deadlines(
    case_id: UUID,
    ctx: Context,
    caller: Caller,
    on: date | None = None,
    known_at: datetime | None = None,
) -> list[dict[str, Any]]:
    """The Poortwachter deadlines of a case on a day (default today)."""
    return queries.case_deadlines_of(ctx, caller, case_id, on or date.today(), known_at)


@router.get("/cases/{case_id}/access-log", response_model=list[AccessRecord])
def read_access_log(case_id: UUID, ctx: Context, caller: Caller) -> list[dict[str, Any]]:
    """Who read this case and when (UWV reviewers and admins)."""
    return queries.access_log_of(ctx, caller, case_id)


@router.get(
    "/cases/{case_id}/review-pack",
    responses={200: {"content": {"application/json": {}, "text/html": {}}}},
)
def read_review_pack(
    case_id: UUID,
    ctx: Context,
    caller: Caller,
    on: date | None = None,
    format: Annotated[str, Query(pattern="^(json|html)$")] = "json",
) -> Response:
    """The reviewer's pack (RIV review, rules reference s4), with its proof bundle."""
    pack = review_pack_for(ctx, caller, case_id, on or date.today())
    if format == "html":
        return HTMLResponse(render_html(pack))
    return JSONResponse(pack)
