"""Statistics for people and scripts, and the headcounts the absence KPIs need."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import JSONResponse

from services.api.models import HeadcountBody
from services.api.routes.deps import PROBLEMS, Caller, Context
from services.application.stats_views import (
    HeadcountRow,
    as_rows,
    record_headcount,
    statistics,
    to_csv,
)

router = APIRouter(tags=["statistics"], responses=PROBLEMS)


@router.get(
    "/stats/{report_name}",
    responses={
        200: {
            "description": "the report as JSON, or CSV with format=csv",
            "content": {"application/json": {}, "text/csv": {}},
        },
    },
)
def read_statistics(
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
    result = statistics(ctx, caller, report_name, on or date.today(), by=by,
                        employer_id=employer, period=period)  # fmt: skip
    if format == "csv":
        return Response(to_csv(as_rows(report_name, result)), media_type="text/csv")
    return JSONResponse(result)


@router.put("/employers/{employer_id}/headcount/{period}", response_model=HeadcountRow)
def put_headcount(
    employer_id: Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9._:@-]+$")],
    period: Annotated[str, Path(max_length=10)],
    body: HeadcountBody,
    ctx: Context,
    caller: Caller,
) -> HeadcountRow:
    """An employer's headcount and part-time factor for a period (for the absence KPIs)."""
    return record_headcount(ctx, caller, employer_id, period, body.model_dump())
