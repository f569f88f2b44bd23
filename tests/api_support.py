"""Helpers for tests through the HTTP layer: an app on the test's store, tokens."""

from __future__ import annotations

import socket
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient

from domain.access import Principal, Role
from services.api.app import create_app
from services.api.auth import issue_token
from services.api.context import Settings

KEY = "test-signing-key-that-is-long-enough-for-hs256"


@contextmanager
def api(database_url: str) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=database_url, jwt_key=KEY, follow_seconds=0))
    try:
        with TestClient(app) as client:
            yield client
    finally:
        app.state.ctx.close()


def token(role: str, subject: str | None = None, employers: list[str] | None = None) -> str:
    principal = Principal(subject or role, Role(role), frozenset(employers) if employers else None)
    return issue_token(principal, KEY)


def auth(
    role: str, subject: str | None = None, employers: list[str] | None = None
) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(role, subject, employers)}"}


ADMIN = auth("admin")


def report(
    client: TestClient, employer: str = "ER1", employee: str = "EMP1", day: str = "2026-09-07",
    headers: dict[str, str] | None = None, **extra: Any,
) -> Any:  # fmt: skip
    body = {"employee_id": employee, "employer_id": employer, "first_sick_day": day, **extra}
    return client.post("/cases", json=body, headers=headers or ADMIN)


def event(
    client: TestClient, case_id: str, type_: str, on: str,
    headers: dict[str, str] | None = None, **data: Any,
) -> Any:  # fmt: skip
    body = {"type": type_, "occurred_on": on, "data": data}
    return client.post(f"/cases/{case_id}/events", json=body, headers=headers or ADMIN)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_ready(base: str) -> None:
    """Wait until a served API answers ``/health``."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the server did not answer /health within 30 s")
