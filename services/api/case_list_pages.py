"""Finding a file: the case list, by employer, case manager, status and short reference,
soonest next deadline first (issue 21), for the roles that read cases."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.api.page_kit import caller_of, context, login_page, page, refused_page
from services.api.pages import DEADLINE_TERMS
from services.application import queries
from services.application.errors import Forbidden

router = APIRouter(include_in_schema=False)
REFERENCE = re.compile(r"^[0-9a-fA-F-]{1,36}$")
Text = Annotated[str | None, Query(max_length=64)]


@router.get("/ui/cases", response_class=HTMLResponse)
def case_list(request: Request, employer: Text = None, case_manager: Text = None,
              status: Text = None, reference: Text = None) -> Response:  # fmt: skip
    caller = caller_of(request)
    if caller is None:
        return login_page(request, "sign in to find a file")
    reference = (reference or "").strip() or None
    if reference is not None and not REFERENCE.match(reference):
        reference = "-"  # matches nothing: a reference is hexadecimal
    wanted = queries.CaseFilter(employer or None, case_manager or None, status or None,
                                reference)  # fmt: skip
    ctx = context(request)
    ctx.catch_up()
    try:
        rows = queries.list_cases(ctx, caller, wanted)
    except Forbidden as refused:
        return refused_page(request, refused)
    if reference and len(rows) == 1:  # a whole reference found its file: open it
        return RedirectResponse(f"/ui/cases/{rows[0]['case_id']}", status_code=303)
    return page(request, "cases.html", rows=rows, wanted=wanted, terms=DEADLINE_TERMS)
