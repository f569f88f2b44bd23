"""What every page needs: the server's context, the signed-in caller (the page session's
cookie), a page drawn with what its header shows, the sign-in page, and the page of a
refusal (the API's own problem). Shared by every module of pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from domain import events as ev
from domain.access import RECORDS, Principal, may_list_cases
from services.api.auth import TokenError
from services.api.context import ApiContext
from services.api.locale import day_formatter
from services.api.problems import problem_for
from services.api.routes import COOKIE
from services.application.errors import ApplicationError, UnknownCaseError, UnreadableFileError
from services.application.labels import short_reference

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
# what a page answers with the page of a refusal (the API answers them with a problem)
REFUSALS = (ApplicationError, UnknownCaseError, UnreadableFileError)


def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


def caller_of(request: Request) -> Principal | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    try:
        return context(request).principal(token)
    except TokenError:
        return None


def page(request: Request, name: str, status: int = 200, **values: Any) -> HTMLResponse:
    caller = values.setdefault("caller", caller_of(request))
    values["may_report"] = caller is not None and ev.SicknessReported in RECORDS[caller.role]
    values["may_list"] = caller is not None and bool(may_list_cases(caller))
    values["fmt"] = day_formatter(request.headers.get("accept-language", ""))
    values["ref"] = short_reference
    return templates.TemplateResponse(request, name, values, status_code=status)


def login_page(request: Request, reason: str) -> HTMLResponse:
    return page(request, "login.html", 401, reason=reason, demo=_demo_links(request))


def _demo_links(request: Request) -> list[dict[str, str]]:
    """``ledger serve --demo``: a one-time link per demo principal, made for this page."""
    ctx = context(request)
    return [{"role": p.role.value.replace("_", " "), "subject": p.subject,
             "href": f"/ui/login?code={ctx.sign_in_codes.issue(p)}"}
            for p in ctx.settings.demo_sign_in]  # fmt: skip


def refused_page(request: Request, error: Exception) -> HTMLResponse:
    """The page of an error, with the same problem as the API would answer."""
    problem, _ = problem_for(error)
    return page(request, "refused.html", problem.status, problem=problem)
