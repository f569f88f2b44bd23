"""What every endpoint depends on: the context of the server, the caller from its bearer
token, the Idempotency-Key header, and the answers with their headers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from domain.access import Principal
from services.api.auth import TokenError
from services.api.context import ApiContext
from services.api.problems import Problem, ProblemError

bearer = HTTPBearer(auto_error=False, description="a token from `ledger token --role ROLE`")
COOKIE = "ledger_token"
PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {"application/problem+json": {}}}
    for status in (400, 401, 403, 404, 409, 422)
}


def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    if ctx.ledger.keys is not None:  # an erasure or key rotation elsewhere counts at once
        ctx.ledger.keys.refresh()
    return ctx


Context = Annotated[ApiContext, Depends(context)]


def principal(
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


def maybe_principal(
    ctx: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal | None:
    """The caller when a valid token came with the request, else None (public routes that
    tell more to some callers)."""
    if not credentials or not credentials.credentials:
        return None
    try:
        return ctx.principal(credentials.credentials)
    except TokenError:
        return None


MaybeCaller = Annotated[Principal | None, Depends(maybe_principal)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=200, description="retries return the first result"),
]


def answer(status: int, body: dict[str, Any], *, replayed: bool = False,
           etag: int | None = None) -> JSONResponse:  # fmt: skip
    headers = {"ETag": f'"{etag}"'} if etag is not None else {}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(body, status_code=status, headers=headers)
