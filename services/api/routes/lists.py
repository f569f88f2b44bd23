"""Across cases: the deadline lists and the export."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from domain.deadlines import DeadlineStatus
from services.api.models import DeadlineRow
from services.api.routes.deps import PROBLEMS, Caller, Context
from services.application import queries

router = APIRouter(tags=["views"], responses=PROBLEMS)


@router.get("/deadlines", response_model=list[DeadlineRow])
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
    wanted = queries.DeadlineList(
        on=on or date.today(), employer_id=employer, case_manager_id=case_manager,
        status=status, due_before=due_before, became_overdue=overdue_since_yesterday,
        limit=limit, history=history,
    )  # fmt: skip
    return [row.to_json() for row in queries.list_deadlines(ctx, caller, wanted)]


@router.get(
    "/export",
    responses={200: {"content": {"application/x-ndjson": {}}}},
    response_class=StreamingResponse,
)
def export(ctx: Context, caller: Caller) -> StreamingResponse:
    """Every stored event as interchange JSON Lines, in store order."""
    return StreamingResponse(queries.export_lines(ctx, caller), media_type="application/x-ndjson")
