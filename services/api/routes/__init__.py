"""The HTTP endpoints, a router per resource; each path function translates HTTP to one
call of the application layer and back."""

from __future__ import annotations

from fastapi import APIRouter

from services.api.routes import cases, commands, lists, operations, statistics
from services.api.routes.deps import COOKIE

router = APIRouter()
for part in (commands, cases, lists, statistics, operations):
    router.include_router(part.router)

__all__ = ["COOKIE", "router"]
