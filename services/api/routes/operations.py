"""For operators: liveness and readiness."""

from __future__ import annotations

import logging

from fastapi import APIRouter

from domain.access import Role
from services.api.models import Health, Readiness
from services.api.problems import Problem
from services.api.routes.deps import Context, MaybeCaller
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
    response_model_exclude_unset=True,
    responses={503: {"model": Problem, "content": {"application/problem+json": {}}}},
)
def ready(ctx: Context, caller: MaybeCaller) -> Readiness:
    """Ready when the store answers and every read model is within the lag bound. Anyone
    (a load balancer) gets the status; an admin's token also gets the positions, the
    feed and the set-aside events (counts and addresses are not for everyone)."""
    try:
        head, positions = ctx.runner.head(), ctx.runner.positions()
    except Exception as error:  # the store is what is not ready
        log.warning("not ready: %s", error)  # the reason goes to the log, not to the caller
        raise NotReady("The store does not answer", "the database does not answer; retry") from None
    admin = caller is not None and caller.role is Role.ADMIN
    try:
        behind = queries.readiness(ctx, head, positions, ctx.settings.ready_max_lag)
    except NotReady as lagging:
        if admin:
            raise
        log.warning("not ready: %s", lagging.detail)
        raise NotReady(lagging.title, "the read models are catching up; retry") from None
    if not admin:
        return Readiness(status="ready")
    found = queries.readiness_details(ctx, ctx.runner, head, behind)
    return Readiness(status="ready", head=found.head, behind=found.behind, feed=found.feed,
                     set_aside=found.set_aside)  # fmt: skip

