"""Server-rendered pages: the deadline dashboard, a case page, statistics.

They use the same authorization as the API; the token lives in a cookie set by
``/ui/login?token=...`` (the link ``ledger serve`` prints).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any
from urllib.parse import parse_qs
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from domain import events as ev
from domain.access import (
    READS_CASES,
    RECORDS,
    Principal,
    Role,
    default_employer,
)
from domain.deadlines import Deadline, DeadlineStatus, case_deadlines
from domain.state import CaseState
from services.api.auth import TokenError, issue_token
from services.api.page_kit import REFUSALS, caller_of, context, login_page, page, refused_page
from services.api.routes import COOKIE
from services.application import queries
from services.application.case_views import computable, computing, timeline_view
from services.application.errors import (
    Forbidden,
    NotYetBegunError,
)

router = APIRouter(include_in_schema=False)

DEADLINE_TERMS = {
    "report_to_occupational_physician": "ziekmelding bij de bedrijfsarts",
    "problem_analysis": "probleemanalyse",
    "plan_of_approach": "plan van aanpak",
    "plan_evaluation": "evaluatie plan van aanpak",
    "uwv_notification": "42e-weeksmelding",
    "first_year_evaluation": "eerstejaarsevaluatie",
    "second_track_start": "start 2e spoor",
    "final_evaluation": "eindevaluatie",
    "wia_application": "WIA-aanvraag",
    "reintegration_report": "re-integratieverslag (RIV)",
    "end_of_wage_continuation": "einde loondoorbetaling",
}
STATUS_ORDER = ["overdue", "open", "missed", "done_late", "done", "not_applicable"]


def event_term(event_type: str) -> str:
    """The Dutch term from the event class's docstring (``*term*``)."""
    doc = ev.CATALOGUE[event_type].__doc__ or ""
    found = re.search(r"\*([^*]+)\*", doc)
    return found.group(1) if found else ""


PAGE_SESSION_HOURS = 12.0
MAX_FORM_BYTES = 8192  # a token is about 300 bytes


@router.get("/ui/login")
def login(
    request: Request, code: str | None = None, token: str | None = None
) -> Response:
    """The sign-in page, or the one-time link of ``ledger serve`` (``code``). A token in
    the URL is refused: it would stay in logs and the browser's history."""
    if token is not None:
        return login_page(request, "a token is not taken from the URL: paste it below")
    if code is None:
        return login_page(request, "sign in with the link `ledger serve` printed, or a token")
    ctx = context(request)
    try:
        principal = ctx.sign_in_codes.redeem(code)
    except TokenError as error:
        return login_page(request, str(error))
    return _signed_in(issue_token(principal, ctx.jwt_key, hours=PAGE_SESSION_HOURS))


@router.post("/ui/login")
async def login_with_token(request: Request) -> Response:
    """The sign-in form: a token (``ledger token --role ROLE``) in the request body."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return login_page(request, "that is not a token: it is far too long")
    token = parse_qs(body.decode("utf-8", "replace")).get("token", [""])[0].strip()
    ctx = context(request)
    try:
        claims = ctx.claims(token)
    except TokenError as error:
        return login_page(request, str(error))
    # The page session gets a token of its own, so that signing out revokes it and not
    # the token pasted in; it ends when that one does, or after PAGE_SESSION_HOURS.
    hours = min(PAGE_SESSION_HOURS, (claims.expires_at - time.time()) / 3600)
    return _signed_in(issue_token(claims.principal, ctx.jwt_key, hours=hours))


def _signed_in(token: str) -> Response:
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
    return response


@router.get("/ui/logout")
def logout(request: Request) -> Response:
    """Sign out: the session's token is revoked, so a copy of the cookie opens nothing."""
    token = request.cookies.get(COOKIE)
    ctx = context(request)
    try:
        claims = ctx.claims(token) if token else None
    except TokenError:
        claims = None  # expired, revoked or forged already: nothing to revoke
    if claims is not None and claims.token_id is not None:
        ctx.runtime.revocations.revoke_token(
            claims.token_id, by=claims.principal.subject, reason="signed out of the pages"
        )
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/", response_class=HTMLResponse)
def dashboard(
    request: Request,
    employer: Annotated[str | None, Query(max_length=64)] = None,
    case_manager: Annotated[str | None, Query(max_length=64)] = None,
    status: str | None = None,
    due_before: date | None = None,
    on: date | None = None,
    history: bool = False,
) -> HTMLResponse:
    """The deadlines of running files; ``history`` adds those of ended ones."""
    caller = caller_of(request)
    if caller is None:
        return login_page(request, "sign in with the link `ledger serve` printed, or a token")
    if caller.role is Role.EMPLOYEE:
        return _own_files_page(request, caller)
    if caller.role not in READS_CASES:
        return RedirectResponse("/ui/statistics", status_code=303)  # type: ignore[return-value]
    day = on or date.today()
    employer = default_employer(caller, employer)
    if employer is None and case_manager is None:
        ctx = context(request)
        ctx.catch_up()
        try:
            found = queries.overview(ctx, caller, day)
        except Forbidden as refused:
            return refused_page(request, refused)
        return page(request, "dashboard.html", overview=found, day=day, rows=[], counts={},
                     filters={})  # fmt: skip
    wanted = DeadlineStatus(status) if status in STATUS_ORDER else None
    rows = _deadline_rows(request, caller, employer, case_manager, day, due_before, history)
    counts = {s: sum(1 for r in rows if r.deadline.status.value == s) for s in STATUS_ORDER}
    wanted_statuses = {wanted} if wanted else {DeadlineStatus.OVERDUE, DeadlineStatus.OPEN}
    shown = [r for r in rows if r.deadline.status in wanted_statuses]
    shown.sort(key=lambda r: (STATUS_ORDER.index(r.deadline.status.value), r.deadline.due_on))
    filters = {"employer": employer, "case_manager": case_manager, "status": status,
               "due_before": due_before, "on": on, "history": history}  # fmt: skip
    return page(request, "dashboard.html", rows=shown, counts=counts, day=day, filters=filters,
                 terms=DEADLINE_TERMS, overview=None)  # fmt: skip


def _own_files_page(request: Request, caller: Principal) -> HTMLResponse:
    """An employee's first page: their own files at their employer (AVG art. 15)."""
    ctx = context(request)
    cases = [queries.readable_case(ctx, caller, case_id, "list own files")
             for case_id in queries.own_files(ctx, caller)]  # fmt: skip
    cases.sort(key=lambda case: case.current.first_sick_day, reverse=True)
    files = [{"case_id": case.id, "first_sick_day": case.current.first_sick_day,
              "status": case.current.status.value, "closed_on": case.current.closed_on}
             for case in cases]  # fmt: skip
    (employer,) = caller.employers or ("",)
    return page(request, "own_files.html", files=files, employer=employer)


def _deadline_rows(
    request: Request,
    caller: Principal,
    employer: str | None,
    case_manager: str | None,
    day: date,
    due_before: date | None,
    history: bool,
) -> list[Any]:
    wanted = queries.DeadlineList(on=day, employer_id=employer, case_manager_id=case_manager,
                                  due_before=due_before, history=history)  # fmt: skip
    return queries.list_deadlines(context(request), caller, wanted)


@dataclass(frozen=True)
class Marker:
    label: str
    term: str
    left: float  # percent of the bar
    status: str
    due_on: date


@dataclass(frozen=True)
class WeekBar:
    """The 104 weeks of a case drawn as a bar: where it stands and its deadlines."""

    elapsed: float
    markers: list[Marker]
    sanction_left: float | None
    sanction_width: float | None
    ticks: list[tuple[float, str]]


def week_bar(state: CaseState, deadlines: list[Deadline], day: date) -> WeekBar:
    first, end = state.first_sick_day, state.end_of_wage_continuation
    span = max((end - first).days + 1, 1)

    def left(when: date) -> float:
        return round(min(max((when - first).days / span, 0.0), 1.0) * 100, 2)

    stands = state.closed_on or state.recovered_on or day
    sanction_left = sanction_width = None
    if state.sanction is not None and state.sanction.ends_on > state.end_of_waiting_time:
        sanction_left = left(state.end_of_waiting_time)
        sanction_width = round(100 - sanction_left, 2)
    markers = [
        Marker(d.deadline, DEADLINE_TERMS.get(d.deadline, ""), left(d.due_on), d.status.value,
               d.due_on)
        for d in deadlines
    ]  # fmt: skip
    ticks = [(left(state.clock.end_of_week(w)), f"wk {w}") for w in (8, 42, 52, 91, 104)]
    return WeekBar(left(stands), markers, sanction_left, sanction_width, ticks)


@router.get("/ui/cases/{case_id}", response_class=HTMLResponse)
def case_page(case_id: UUID, request: Request, on: date | None = None,
              recorded: str = "") -> HTMLResponse:  # fmt: skip
    caller = caller_of(request)
    if caller is None:
        return login_page(request, "sign in to see a case")
    day = on or date.today()
    try:
        found = queries.readable_case(context(request), caller, case_id, "view case page")
        case = computable(found)
        if case.current.first_sick_day > day:
            raise NotYetBegunError(case_id, day)
        with computing(case_id):
            state = case.state(as_of=day)
            deadlines = case_deadlines(case.timeline(), day)
            bar = week_bar(state, deadlines, day)
    except REFUSALS as refused:
        return refused_page(request, refused)
    timeline = timeline_view(case, None, queries.medical_for(context(request), caller, case))
    for row in timeline:
        row["term"] = event_term(row["type"])
    return page(request, "case.html", case_id=case_id, state=state, view=state.to_json(day),
                 deadlines=deadlines, bar=bar, timeline=timeline, terms=DEADLINE_TERMS,
                 day=day, recorded=recorded[:80],
                 may_record=bool(RECORDS[caller.role]))  # fmt: skip



