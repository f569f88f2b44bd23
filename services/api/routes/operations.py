"""For operators: liveness, readiness and metrics."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from domain.access import Role
from services.api.models import Health, Readiness
from services.api.problems import Problem
from services.api.routes.deps import Caller, Context, MaybeCaller
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
        head = ctx.runner.head()
    except Exception as error:  # the store is what is not ready
        log.warning("not ready: %s", error)  # the reason goes to the log, not to the caller
        raise NotReady("The store does not answer", "the database does not answer; retry") from None
    admin = caller is not None and caller.role is Role.ADMIN
    try:
        behind = queries.readiness(ctx, head, ctx.runner, ctx.settings.ready_max_lag)
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



@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}, 403: {"model": Problem}},
)
def metrics(ctx: Context, caller: Caller) -> Response:
    """Prometheus metrics (text format) for an admin's token: latency by route, commands
    by outcome, import progress, read-model and feed lag, events set aside."""
    queries.check_operator(caller)
    return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)
