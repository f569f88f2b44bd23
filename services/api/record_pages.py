"""Recording from the pages (issue 21): a case's events, and a new sickness report, each
through a form drawn from the event catalogue (``services.api.forms``) and stored by the
same application commands, rules and problem messages as the API."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlencode
from uuid import UUID, uuid4

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from domain import events as ev
from domain.access import Principal
from services.api.forms import Form, csrf_ok, csrf_token, data_of, form_for, recordable_types
from services.api.page_kit import REFUSALS, caller_of, context, login_page, page, refused_page
from services.api.problems import problem_for
from services.api.routes import COOKIE
from services.application import idempotency, queries, recording, sickness
from services.application.errors import (
    DuplicateEventError,
    RuleViolation,
)
from services.application.labels import words
from services.application.ledger import VersionConflictError

router = APIRouter(include_in_schema=False)
# what a form's command can be refused for, each answered with the API's problem
COMMAND_REFUSALS = (*REFUSALS, RuleViolation, DuplicateEventError)
MAX_FORM_BYTES = 16_384
REPORT_FIELDS = ("employee_id", "employer_id", "first_sick_day")


def _session(request: Request) -> str:
    return request.cookies.get(COOKIE, "")


def _events_of(case: Any) -> list[tuple[str, str]]:
    return [(str(e.event_id), f"{e.occurred_on.isoformat()} {words(e.type)}")
            for e in case.history]  # fmt: skip


@router.get("/ui/cases/{case_id}/record", response_class=HTMLResponse)
def record_form(case_id: UUID, request: Request, type: str = "",
                corrects: str = "", retracts: str = "") -> Response:  # fmt: skip
    caller = caller_of(request)
    if caller is None:
        return login_page(request, "sign in to record an event")
    try:
        case = queries.readable_case(context(request), caller, case_id, "open record form")
    except REFUSALS as refused:
        return refused_page(request, refused)
    if type not in ev.CATALOGUE or type == "SicknessReported":
        return _choose(request, caller, case_id)
    form = form_for(type, _events_of(case))
    form.values = {"occurred_on": date.today().isoformat(), "corrects": corrects,
                   "retracts": retracts}  # fmt: skip
    return _form_page(request, case_id, form, case.version, str(uuid4()))


def _choose(request: Request, caller: Principal, case_id: UUID) -> Response:
    return page(request, "record.html", case_id=case_id, choices=recordable_types(caller),
                 form=None)  # fmt: skip


def _form_page(request: Request, case_id: UUID | None, form: Form, version: int, key: str,
               status: int = 200, **extra: Any) -> HTMLResponse:  # fmt: skip
    return page(request, "record.html", status, case_id=case_id, form=form, version=version,
                 idempotency_key=key, csrf=csrf_token(context(request).jwt_key, _session(request)),
                 choices=[], **extra)  # fmt: skip


async def _submitted(request: Request) -> dict[str, str] | None:
    """The form's fields, if it came from a page of this session (its CSRF token)."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return None
    fields = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    key = context(request).jwt_key
    return fields if csrf_ok(key, _session(request), fields.get("csrf", "")) else None


def _not_ours() -> HTMLResponse:
    return HTMLResponse("<p>This form did not come from your session: open it again.</p>",
                        status_code=403)  # fmt: skip


@router.post("/ui/cases/{case_id}/record", response_class=HTMLResponse)
async def record_submit(case_id: UUID, request: Request) -> Response:
    caller = caller_of(request)
    if caller is None:
        return login_page(request, "sign in to record an event")
    submitted = await _submitted(request)
    if submitted is None:
        return _not_ours()
    ctx = context(request)
    try:
        case = queries.readable_case(ctx, caller, case_id, "record from page")
    except REFUSALS as refused:
        return refused_page(request, refused)
    event_type = submitted.get("type", "")
    if event_type not in ev.CATALOGUE or event_type == "SicknessReported":
        return _choose(request, caller, case_id)
    form = form_for(event_type, _events_of(case))
    form.values = submitted
    version, key = _version(submitted), submitted.get("idempotency_key") or None
    if version is None:
        return HTMLResponse("<p>This form is damaged (its version): open it again.</p>",
                            status_code=400)  # fmt: skip
    try:
        done = _record(ctx, caller, case_id, form, submitted, version, key)
    except VersionConflictError:
        return _stale(request, case_id, form, version)
    except (*COMMAND_REFUSALS, FormValueError) as refused:
        _problems(form, refused)
        return _form_page(request, case_id, form, version, key or str(uuid4()), status=422)
    note = "already recorded" if done.replayed else f"recorded {words(event_type)}"
    return RedirectResponse(f"/ui/cases/{case_id}?{urlencode({'recorded': note})}", 303)


class FormValueError(ValueError):
    """A field of a form that is not what its kind takes ("FIELD: why")."""


def _version(submitted: dict[str, str]) -> int | None:
    text = submitted.get("version", "0") or "0"
    return int(text) if text.isdigit() else None


def _record(ctx: Any, caller: Principal, case_id: UUID, form: Form, submitted: dict[str, str],
            version: int, key: str | None) -> Any:  # fmt: skip
    occurred, data = data_of(form, submitted)
    request = ("POST events", str(case_id), form.event_type, occurred, data, version)

    def run() -> tuple[int, dict[str, Any]]:
        command = recording.AppendEvent(
            case_id=case_id, type=form.event_type, occurred_on=_day(occurred),
            event_id=idempotency.derived_id(caller, key, "event"), data=data,
            expected_version=version,
        )  # fmt: skip
        appended = recording.append_event(ctx, caller, command)
        return 201, {"version": appended.event.originator_version}

    return _keyed(ctx, caller, key, request, run)


def _keyed(ctx: Any, caller: Principal, key: str | None, request: tuple[Any, ...],
           run: Any) -> Any:  # fmt: skip
    """The command once per the form's idempotency key, as the API runs it."""
    waited = ctx.settings.idempotency_abandoned_seconds
    return idempotency.once_per_request(ctx, caller, key, request, run, abandoned_after=waited)


def _day(text: str, name: str = "occurred_on") -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise FormValueError(f"{name}: {text!r} is not a date (use the date picker)") from None


def _problems(form: Form, error: Exception) -> None:
    """The problem of a refusal, each message beside its field (the API's own words)."""
    if isinstance(error, FormValueError):
        name, _, message = str(error).partition(": ")
        form.problems[name] = message
        return
    problem, _ = problem_for(error)
    names = {f.name for f in form.fields}
    for item in problem.errors:
        name = item.field.removeprefix("data.")
        said = f"{item.message} [rule {item.rule}]" if item.rule else item.message
        form.problems[name if name in names else "_"] = said
    if not problem.errors or "_" in form.problems:
        form.problems["_"] = problem.detail


def _stale(request: Request, case_id: UUID, form: Form, version: int) -> Response:
    """The form was drawn before someone else wrote: say what changed; the form is drawn
    again on the current version, with what was typed, to send once more or leave."""
    case = context(request).ledger.get_case(case_id)
    newer = [{"on": e.occurred_on.isoformat(), "what": words(e.type),
              "by": f"{words(e.actor.role.value)} {e.actor.id}"}
             for e in case.history if e.originator_version > version]  # fmt: skip
    form.problems["_"] = ("Someone else changed this case since you opened the form. "
                          "Check what changed, then send again.")  # fmt: skip
    return _form_page(request, case_id, form, case.version, str(uuid4()), status=409,
                      changed=newer)  # fmt: skip


@router.get("/ui/report", response_class=HTMLResponse)
def report_form(request: Request) -> Response:
    caller = caller_of(request)
    if caller is None:
        return login_page(request, "sign in to report sickness")
    form = _report_form()
    employers = sorted(caller.employers or [])
    form.values = {"first_sick_day": date.today().isoformat(),
                   "employer_id": employers[0] if len(employers) == 1 else ""}  # fmt: skip
    return _form_page(request, None, form, 0, str(uuid4()))


def _report_form() -> Form:
    form = form_for("SicknessReported", [])
    form.fields = [f for f in form.fields if f.name != "occurred_on"]
    form.fields.sort(key=lambda f: REPORT_FIELDS.index(f.name) if f.name in REPORT_FIELDS else 9)
    form.title = "Report sickness"
    return form


@router.post("/ui/report", response_class=HTMLResponse)
async def report_submit(request: Request) -> Response:
    caller = caller_of(request)
    if caller is None:
        return login_page(request, "sign in to report sickness")
    submitted = await _submitted(request)
    if submitted is None:
        return _not_ours()
    ctx = context(request)
    form = _report_form()
    form.values = submitted
    key = submitted.get("idempotency_key") or None
    try:
        case_id = _report(ctx, caller, form, submitted, key)
    except (*COMMAND_REFUSALS, FormValueError) as refused:
        _problems(form, refused)
        return _form_page(request, None, form, 0, key or str(uuid4()), status=422)
    return RedirectResponse(f"/ui/cases/{case_id}?{urlencode({'recorded': 'sickness reported'})}",
                            303)  # fmt: skip


def _report(ctx: Any, caller: Principal, form: Form, submitted: dict[str, str],
            key: str | None) -> str:  # fmt: skip
    _, data = data_of(form, {**submitted, "occurred_on": ""})
    fixed = {name: data.pop(name, "") for name in REPORT_FIELDS}

    def run() -> tuple[int, dict[str, Any]]:
        command = sickness.ReportSickness(
            employee_id=str(fixed["employee_id"]), employer_id=str(fixed["employer_id"]),
            first_sick_day=_day(str(fixed["first_sick_day"]).strip(), "first_sick_day"),
            event_id=idempotency.derived_id(caller, key, "event"), case_id=None,
            new_case_id=idempotency.derived_id(caller, key, "case"), data=data,
        )  # fmt: skip
        result = sickness.report_sickness(ctx, caller, command)
        return 201, {"case_id": str(result.case_id), "version": result.version}

    done = _keyed(ctx, caller, key, ("POST /cases", fixed, data), run)
    return str(done.body["case_id"])
