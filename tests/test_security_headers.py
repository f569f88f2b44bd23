"""Issue 19, item 8: pages with health data had no ``Cache-Control: no-store``, no content
security policy and no frame protection. Every response now has them, the pages a policy
that loads nothing from elsewhere and runs no script."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api_support import ADMIN, api, auth
from tests.api_support import report as api_report


@pytest.fixture
def client(tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    with api(f"sqlite:///{tmp_path / 'l.db'}") as served:
        yield served, api_report(served).json()["case_id"]


def _assert_protected(answer: object, where: str) -> None:
    headers = answer.headers  # type: ignore[attr-defined]
    assert headers["cache-control"] == "no-store", where
    assert headers["x-frame-options"] == "DENY", where
    assert headers["x-content-type-options"] == "nosniff", where
    assert headers["referrer-policy"] == "no-referrer", where
    policy = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy, where


def test_every_page_and_every_api_answer_carries_the_headers(
    client: tuple[TestClient, str],
) -> None:
    served, case = client
    token = auth("case_manager", "cm-1")["Authorization"].split()[1]
    served.post("/ui/login", data={"token": token})
    for path in ("/", f"/ui/cases/{case}", "/ui/statistics", "/ui/nothing-here"):
        answer = served.get(path)
        _assert_protected(answer, path)
        assert "script-src" not in answer.headers["content-security-policy"], path
    for path in (f"/cases/{case}", f"/cases/{case}/timeline", "/health", "/ready",
                 "/openapi.json", "/no-such-route", "/docs"):  # fmt: skip
        _assert_protected(served.get(path, headers=ADMIN), path)
    too_big = served.post("/cases", content=b"x" * (2 << 20), headers={
        **ADMIN, "content-type": "application/json"})  # fmt: skip
    assert too_big.status_code == 413
    _assert_protected(too_big, "413")
