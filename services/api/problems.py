"""Errors as ``application/problem+json`` (RFC 9457): what failed, which field, which rule.

Every error a request can cause is one row of ``ERRORS`` (exception, status, type,
title, and how to say the detail); one handler renders them all, so a request never
ends in a bare 500.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.persistence import DataError, IntegrityError, InterfaceError, OperationalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.application import errors as app

PROBLEM_TYPE = "https://ledger.example/problems/"

log = logging.getLogger(__name__)


class FieldProblem(BaseModel):
    field: str = Field(examples=["data.first_sick_day"])
    message: str = Field(examples=["Input should be a valid date"])
    rule: str | None = Field(default=None, examples=["event_not_before_first_sick_day"])
    line: int | None = Field(default=None, description="line of a JSONL import")


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": PROBLEM_TYPE + "rule-violated",
                    "title": "The event breaks a rule of the case",
                    "status": 422,
                    "detail": "relapse_within_28_days: sickness resumed 30 days after recovery",
                    "errors": [
                        {
                            "field": "occurred_on",
                            "message": "from 28 days on it is a new case",
                            "rule": "relapse_within_28_days",
                        }
                    ],
                }
            ]
        }
    )

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] = []
    current_version: int | None = Field(default=None, description="on 409: the case's version")


class ProblemError(Exception):
    """A problem an endpoint states itself (a missing token, say)."""

    def __init__(self, status: int, kind: str, title: str, detail: str,
                 errors: list[FieldProblem] | None = None) -> None:  # fmt: skip
        super().__init__(detail)
        self.problem = Problem(type=PROBLEM_TYPE + kind, title=title, status=status,
                               detail=detail, errors=errors or [])  # fmt: skip


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        problem.model_dump(exclude_none=True),
        status_code=problem.status,
        media_type="application/problem+json",
        headers=headers,
    )


def _fields(issues: list[app.Issue]) -> list[FieldProblem]:
    return [FieldProblem(field=i.field, message=i.message, rule=i.rule, line=i.line)
            for i in issues]  # fmt: skip


# What a row says of its error: the detail, the fields, and extra members of the problem.
Said = tuple[str, list[FieldProblem], dict[str, Any]]


def _plain(error: Exception) -> Said:
    issues = error.issues if isinstance(error, app.ApplicationError) else []
    return str(error), _fields(issues), {}


def _rule(error: Exception) -> Said:
    assert isinstance(error, app.RuleViolation)
    v = error.violation
    field_ = FieldProblem(field=v.field or "event", message=v.message, rule=v.rule.name)
    return f"{v.rule.name}: {v.message}", [field_], {}


def _version(error: Exception) -> Said:
    assert isinstance(error, app.VersionConflictError)
    detail = f'{error}; read the case again and retry with If-Match: "{error.current}"'
    return detail, [FieldProblem(field="If-Match", message=str(error))], {
        "current_version": error.current
    }


def _rejected(error: Exception) -> Said:
    assert isinstance(error, app.ImportRejectedError)
    problems = [FieldProblem(line=p.line, field=p.field, message=p.message, rule=p.rule)
                for p in error.problems]  # fmt: skip
    return f"{error.total} problem(s); nothing was imported", problems, {}


def _invalid(error: Exception) -> Said:
    assert isinstance(error, RequestValidationError)
    fields = [
        FieldProblem(field=".".join(str(p) for p in e["loc"] if p != "body") or "body",
                     message=e["msg"])
        for e in error.errors()
    ]  # fmt: skip
    return "; ".join(f"{e.field}: {e.message}" for e in fields[:5]), fields, {}


def _database(error: Exception) -> Said:
    """The database refused or is gone: a 503 the client may retry; nothing was stored
    unless the answer said so."""
    log.warning("database unavailable: %s: %s", type(error).__name__, error)
    if app.is_lock_timeout(error):
        return (
            "a database lock was held longer than the lock timeout. Retry with the same "
            "Idempotency-Key; if it persists, look for a stuck transaction (LEDGER_DATABASE_URL "
            "lock_timeout sets the wait)", [], {},
        )  # fmt: skip
    return (
        "the database is not reachable right now. A command may or may not have been "
        "stored: retry with the same Idempotency-Key, which applies it at most once", [], {},
    )  # fmt: skip


def _about(name: str) -> Callable[[Exception], Said]:
    def say(error: Exception) -> Said:
        return str(error), [FieldProblem(field=name, message=str(error))], {}

    return say


def _fixed(detail: str, *, log_it: bool = False) -> Callable[[Exception], Said]:
    def say(error: Exception) -> Said:
        if log_it:
            log.error("%s: %s", type(error).__name__, error)
        return detail, [], {}

    return say


@dataclass(frozen=True)
class ErrorRow:
    error: type[BaseException]
    status: int
    kind: str
    title: str
    say: Callable[[Exception], Said] = _plain
    headers: dict[str, str] = field(default_factory=dict)


ERRORS: tuple[ErrorRow, ...] = (
    ErrorRow(RequestValidationError, 422, "invalid-request", "The request is not valid", _invalid),
    ErrorRow(app.RuleViolation, 422, "rule-violated", "The event breaks a rule of the case",
             _rule),
    ErrorRow(app.Forbidden, 403, "forbidden", "Not allowed for your role"),
    ErrorRow(app.UnknownCaseError, 404, "unknown-case", "No such case"),
    ErrorRow(app.MissingHeadcount, 404, "no-headcount", "No headcount for that period"),
    ErrorRow(app.VersionConflictError, 409, "version-conflict",
             "The case changed since you read it", _version),
    ErrorRow(app.DuplicateEventError, 409, "event-id-reused",
             "The event_id is already used for other content", _about("event_id")),
    ErrorRow(app.IdempotencyKeyReused, 422, "idempotency-key-reused",
             "Idempotency-Key used for another request"),
    ErrorRow(app.RequestInProgress, 409, "request-in-progress",
             "The first request with this key is still running"),
    ErrorRow(app.UnreadableFileError, 409, "case-set-aside",
             "The file holds an event the ledger cannot apply"),
    ErrorRow(app.CaseOwnerError, 409, "conflict", "Another writer opened this case"),
    ErrorRow(app.FileAlreadyOpenError, 409, "file-already-open",
             "The employee has an open file at this employer already"),
    ErrorRow(IntegrityError, 409, "conflict", "Another writer changed these cases first",
             _fixed("a case changed while this request was written; events already stored "
                    "stay stored. Send it again: stored events are recognised by their "
                    "event_id and skipped"), {"Retry-After": "1"}),
    ErrorRow(app.ImportRejectedError, 422, "import-rejected",
             "The import was refused; nothing was stored", _rejected),
    ErrorRow(app.InvalidRequest, 422, "invalid-request", "The request is not valid"),
    ErrorRow(DataError, 422, "invalid-request", "The request is not valid",
             _fixed("a value is out of range or holds a character the store refuses (such as "
                    "NUL); check dates and identifiers")),
    ErrorRow(OverflowError, 422, "invalid-request", "The request is not valid",
             _fixed("a value is out of range or holds a character the store refuses (such as "
                    "NUL); check dates and identifiers")),
    ErrorRow(RecursionError, 400, "invalid-request", "The request is not valid",
             _fixed("the JSON body is nested too deeply")),
    ErrorRow(app.NotReady, 503, "not-ready", "The store does not answer"),
    ErrorRow(app.AccessLogBusyError, 503, "busy", "Too busy to record this read",
             headers={"Retry-After": "1"}),
    ErrorRow(app.MissingKeyError, 503, "key-unavailable", "A key this request needs is missing",
             _fixed("the server cannot open the keys it needs; an operator must configure the "
                    "master key (LEDGER_MASTER_KEY or LEDGER_MASTER_KEY_FILE)", log_it=True),
             {"Retry-After": "30"}),
    ErrorRow(OperationalError, 503, "database-unavailable", "The database is unavailable",
             _database, {"Retry-After": "2"}),
    ErrorRow(InterfaceError, 503, "database-unavailable", "The database is unavailable",
             _database, {"Retry-After": "2"}),
)  # fmt: skip
HTTP_PROBLEMS = {
    400: ("invalid-request", "The request is not valid"),
    404: ("not-found", "No such resource"),
    405: ("method-not-allowed", "This method is not allowed here"),
    413: ("too-large", "The request is too large"),
}


def row_for(error: BaseException) -> ErrorRow | None:
    """The row of the most specific class ``error`` is an instance of."""
    for cls in type(error).__mro__:
        for row in ERRORS:
            if row.error is cls:
                return row
    return None


def problem_for(error: Exception) -> tuple[Problem, dict[str, str]]:
    """The problem document and headers of an error (``ProblemError``, an HTTP error the
    framework raised, or a row of ``ERRORS``)."""
    if isinstance(error, ProblemError):
        headers = {"WWW-Authenticate": "Bearer"} if error.problem.status == 401 else {}
        return error.problem, headers
    if isinstance(error, StarletteHTTPException):  # an unreadable body, too large, 404, 405
        kind, title = HTTP_PROBLEMS.get(error.status_code, ("http-error", "The request failed"))
        detail = str(error.detail)
        if detail == "There was an error parsing the body":
            detail = "the body is not valid JSON in UTF-8 (or is nested too deeply)"
        problem = Problem(type=PROBLEM_TYPE + kind, title=title, status=error.status_code,
                          detail=detail)  # fmt: skip
        return problem, dict(error.headers or {})
    row = row_for(error)
    assert row is not None, f"{type(error).__name__} has no row in ERRORS"
    detail, fields, extra = row.say(error)
    title = error.title if isinstance(error, app.NotReady) else row.title
    kind = error.kind if isinstance(error, app.InvalidRequest) else row.kind
    problem = Problem(type=PROBLEM_TYPE + kind, title=title, status=row.status, detail=detail,
                      errors=fields, **extra)  # fmt: skip
    return problem, dict(row.headers)


async def _handle(_: Request, error: Exception) -> Response:
    problem, headers = problem_for(error)
    return problem_response(problem, headers or None)


def install(app_: FastAPI) -> None:
    """Render every error a request can cause as a problem document (never a bare 500)."""
    for error in (ProblemError, StarletteHTTPException, *(row.error for row in ERRORS)):
        app_.add_exception_handler(error, _handle)
