"""Errors as ``application/problem+json`` (RFC 9457): what failed, which field, which rule."""

from __future__ import annotations

import logging
from typing import Any

from eventsourcing.persistence import DataError, IntegrityError, InterfaceError, OperationalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.rules import RuleViolation
from infra.keys import CaseOwnerError, MissingKeyError
from infra.pg_recorder import is_lock_timeout
from infra.service_tables import AccessLogBusyError
from services.importer import ImportRejectedError
from services.ledger import DuplicateEventError, UnknownCaseError

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
    """Raised by endpoints and services; rendered as a problem document."""

    def __init__(
        self,
        status: int,
        kind: str,
        title: str,
        detail: str,
        errors: list[FieldProblem] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.problem = Problem(
            type=PROBLEM_TYPE + kind,
            title=title,
            status=status,
            detail=detail,
            errors=errors or [],
            **extra,
        )


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        problem.model_dump(exclude_none=True),
        status_code=problem.status,
        media_type="application/problem+json",
        headers=headers,
    )


HTTP_PROBLEMS = {
    400: ("invalid-request", "The request is not valid"),
    404: ("not-found", "No such resource"),
    405: ("method-not-allowed", "This method is not allowed here"),
    413: ("too-large", "The request is too large"),
}


def database_problem(error: Exception) -> Problem:
    """The database refused or is gone: a 503 the client may retry; nothing was stored
    unless the answer said so."""
    if is_lock_timeout(error):
        detail = (
            "a database lock was held longer than the lock timeout. Retry with the same "
            "Idempotency-Key; if it persists, look for a stuck transaction (LEDGER_DATABASE_URL "
            "lock_timeout sets the wait)"
        )
    else:
        detail = (
            "the database is not reachable right now. A command may or may not have been "
            "stored: retry with the same Idempotency-Key, which applies it at most once"
        )
    log.warning("database unavailable: %s: %s", type(error).__name__, error)
    return Problem(
        type=PROBLEM_TYPE + "database-unavailable", title="The database is unavailable",
        status=503, detail=detail,
    )  # fmt: skip


def forbidden(reason: str, rule: str) -> ProblemError:
    return ProblemError(403, "forbidden", "Not allowed for your role", reason, [
        FieldProblem(field="authorization", message=reason, rule=rule)
    ])  # fmt: skip


def rule_problem(violation: RuleViolation) -> ProblemError:
    v = violation.violation
    return ProblemError(
        422,
        "rule-violated",
        "The event breaks a rule of the case",
        f"{v.rule.name}: {v.message}",
        [FieldProblem(field=v.field or "event", message=v.message, rule=v.rule.name)],
    )


def install(app: FastAPI) -> None:
    """Map every error a request can cause to a problem document (never a bare 500)."""

    @app.exception_handler(ProblemError)
    async def _problem(_: Request, error: ProblemError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if error.problem.status == 401 else None
        return problem_response(error.problem, headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            FieldProblem(
                field=".".join(str(p) for p in e["loc"] if p not in ("body",)) or "body",
                message=e["msg"],
            )
            for e in error.errors()
        ]
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
        problem = Problem(
            type=PROBLEM_TYPE + "invalid-request",
            title="The request is not valid",
            status=422,
            detail=detail,
            errors=errors,
        )
        return problem_response(problem)

    @app.exception_handler(RuleViolation)
    async def _rule(_: Request, error: RuleViolation) -> JSONResponse:
        return problem_response(rule_problem(error).problem)

    @app.exception_handler(UnknownCaseError)
    async def _unknown(_: Request, error: UnknownCaseError) -> JSONResponse:
        problem = Problem(
            type=PROBLEM_TYPE + "unknown-case", title="No such case", status=404, detail=str(error)
        )
        return problem_response(problem)

    @app.exception_handler(DuplicateEventError)
    async def _duplicate(_: Request, error: DuplicateEventError) -> JSONResponse:
        problem = Problem(
            type=PROBLEM_TYPE + "event-id-reused",
            title="The event_id is already used for other content",
            status=409,
            detail=str(error),
            errors=[FieldProblem(field="event_id", message=str(error))],
        )
        return problem_response(problem)

    @app.exception_handler(AccessLogBusyError)
    async def _busy(_: Request, error: AccessLogBusyError) -> JSONResponse:
        problem = Problem(
            type=PROBLEM_TYPE + "busy", title="Too busy to record this read", status=503,
            detail=str(error),
        )  # fmt: skip
        return problem_response(problem, {"Retry-After": "1"})

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, error: IntegrityError) -> JSONResponse:
        problem = Problem(
            type=PROBLEM_TYPE + "conflict", title="Another writer changed these cases first",
            status=409, detail="a case changed while this request was written; events "
            "already stored stay stored. Send it again: stored events are recognised by "
            "their event_id and skipped",
        )  # fmt: skip
        return problem_response(problem, {"Retry-After": "1"})

    @app.exception_handler(DataError)
    @app.exception_handler(OverflowError)
    async def _data(_: Request, error: Exception) -> JSONResponse:
        problem = Problem(
            type=PROBLEM_TYPE + "invalid-request", title="The request is not valid", status=422,
            detail="a value is out of range or holds a character the store refuses (such as "
            "NUL); check dates and identifiers",
        )  # fmt: skip
        return problem_response(problem)

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def _database(_: Request, error: Exception) -> JSONResponse:
        return problem_response(database_problem(error), {"Retry-After": "2"})

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, error: StarletteHTTPException) -> JSONResponse:
        """Errors the framework raises itself (an unreadable body, too large, 404, 405)."""
        kind, title = HTTP_PROBLEMS.get(error.status_code, ("http-error", "The request failed"))
        detail = str(error.detail)
        if detail == "There was an error parsing the body":
            detail = "the body is not valid JSON in UTF-8 (or is nested too deeply)"
        problem = Problem(type=PROBLEM_TYPE + kind, title=title, status=error.status_code,
                          detail=detail)  # fmt: skip
        return problem_response(problem, dict(error.headers or {}))

    @app.exception_handler(RecursionError)
    async def _deep(_: Request, error: RecursionError) -> JSONResponse:
        problem = Problem(
            type=PROBLEM_TYPE + "invalid-request", title="The request is not valid", status=400,
            detail="the JSON body is nested too deeply",
        )  # fmt: skip
        return problem_response(problem)

    @app.exception_handler(MissingKeyError)
    async def _no_key(_: Request, error: MissingKeyError) -> JSONResponse:
        log.error("master key problem: %s", error)
        problem = Problem(
            type=PROBLEM_TYPE + "key-unavailable", title="A key this request needs is missing",
            status=503, detail="the server cannot open the keys it needs; an operator must "
            "configure the master key (LEDGER_MASTER_KEY or LEDGER_MASTER_KEY_FILE)",
        )  # fmt: skip
        return problem_response(problem, {"Retry-After": "30"})

    @app.exception_handler(CaseOwnerError)
    async def _owner(_: Request, error: CaseOwnerError) -> JSONResponse:
        problem = Problem(
            type=PROBLEM_TYPE + "conflict", title="Another writer opened this case",
            status=409, detail=str(error),
        )  # fmt: skip
        return problem_response(problem)

    @app.exception_handler(ImportRejectedError)
    async def _rejected(_: Request, error: ImportRejectedError) -> JSONResponse:
        problem = Problem(
            type=PROBLEM_TYPE + "import-rejected",
            title="The import was refused; nothing was stored",
            status=422,
            detail=f"{error.total} problem(s); nothing was imported",
            errors=[
                FieldProblem(line=p.line, field=p.field, message=p.message, rule=p.rule)
                for p in error.problems
            ],
        )
        return problem_response(problem)
