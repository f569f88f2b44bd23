"""For operators: liveness and readiness."""

from __future__ import annotations

import logging

from fastapi import APIRouter

from services.api.models import Health, Readiness
from services.api.problems import Problem
from services.api.routes.deps import Context
from services.application import queries
from services.application.errors import NotReady

router = APIRouter(tags=["operations"])
log = logging.getLogger("ledger.api")


@router.get("/health", response_model=Health)
def health() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get(
    "/ready",
    response_model=Readiness,
    responses={503: {"model": Problem, "content": {"application/problem+json": {}}}},
)
def ready(ctx: Context) -> Readiness:
    """Ready when the store answers and every read model is within the lag bound."""
    try:
        head, positions = ctx.runner.head(), ctx.runner.positions()
    except Exception as error:  # the store is what is not ready
        log.warning("not ready: %s", error)  # the reason goes to the log, not to the caller
        raise NotReady("The store does not answer", "the database does not answer; retry") from None
    found = queries.readiness(ctx, head, positions, ctx.settings.ready_max_lag)
    return Readiness(status="ready", head=found.head, behind=found.behind, feed=found.feed,
                     set_aside=found.set_aside)  # fmt: skip
