"""The FastAPI application: the API, the pages, and the error mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.api import (
    case_list_pages,
    docs,
    pages,
    problems,
    record_pages,
    review_pages,
    routes,
    statistics_pages,
)
from services.api.context import ApiContext
from services.api.headers import SecurityHeaders
from services.api.limits import BodyLimit
from services.api.observe import RequestLog
from services.bootstrap import Settings

DESCRIPTION = """\
The re-integration ledger: every fact of a Dutch sickness-absence case under the
*Wet verbetering poortwachter*, as immutable events.

Authenticate with `Authorization: Bearer TOKEN` (`ledger token --role ROLE`).
Errors are `application/problem+json` (RFC 9457) naming the field and the rule.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    ctx = ApiContext(settings or Settings())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Only the background runner follows the server's life; the store stays open
        # until whoever created the app calls ``app.state.ctx.close()``, since test
        # clients start and stop the lifespan once per request.
        ctx.start()
        try:
            yield
        finally:
            ctx.stop()

    app = FastAPI(
        title="Re-integration ledger",
        version="1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served with local assets (services/api/docs.py)
        redoc_url=None,
    )
    app.state.ctx = ctx
    app.add_middleware(
        BodyLimit, max_body=ctx.settings.max_body_bytes, max_import=ctx.settings.max_import_bytes
    )
    app.add_middleware(SecurityHeaders)  # outside the limit, so a 413 gets them too
    app.add_middleware(RequestLog, metrics=ctx.metrics)  # outermost: every answer is timed
    problems.install(app)
    app.include_router(routes.router)
    app.include_router(pages.router)
    app.include_router(review_pages.router)
    app.include_router(record_pages.router)
    app.include_router(case_list_pages.router)
    app.include_router(statistics_pages.router)
    docs.install(app)
    return app
