"""Finding and opening files (issue 21): a first screen with counts that open the lists
behind them, the case list by employer, case manager, status and short reference, each
role within what it may read, and dates as the reader's language writes them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from domain.access import Principal, Role
from services.api.app import create_app
from services.api.locale import date_format
from services.application.importer import import_lines, numbered
from services.bootstrap import Settings, bootstrap
from services.tools.showcase import EMPLOYER, showcase
from services.tools.simulate import simulate
from tests.api_support import KEY


@pytest.fixture
def client(tmp_path: Path) -> Iterator[tuple[TestClient, list[str]]]:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    lines = [*showcase(date.today()), *simulate(30, seed=5, employers=5)]
    with bootstrap(database_url=url) as rt:
        import_lines(rt.ledger, numbered([json.dumps(x) for x in lines]))
    ours = list(dict.fromkeys(x["case_id"] for x in lines if x["type"] == "SicknessReported"
                              and x["data"]["employer_id"] == EMPLOYER))  # fmt: skip
    app = create_app(Settings(database_url=url, jwt_key=KEY, follow_seconds=0))
    try:
        with TestClient(app) as test_client:
            yield test_client, ours
    finally:
        app.state.ctx.close()


def sign_in(client: TestClient, principal: Principal) -> None:
    client.cookies.clear()
    code = client.app.state.ctx.sign_in_codes.issue(principal)  # type: ignore[attr-defined]
    client.get(f"/ui/login?code={code}")


def listed(page: str) -> list[str]:
    return re.findall(r'<a href="/ui/cases/([0-9a-f-]{36})" title=', page)


def test_the_first_screen_counts_and_links(client: tuple[TestClient, list[str]]) -> None:
    test_client, _ = client
    sign_in(test_client, Principal("cm-1", Role.CASE_MANAGER))
    page = test_client.get("/").text
    assert 'href="/ui/cases?status=open"' in page
    assert f'href="/?employer={EMPLOYER}&amp;status=overdue"' in page
    opened = test_client.get("/ui/cases?status=open").text
    count = re.search(r'href="/ui/cases\?status=open"><span class="status">(\d+)', page)
    assert count is not None
    assert len(listed(opened)) == int(count.group(1))


def test_search_by_reference_opens_the_file(client: tuple[TestClient, list[str]]) -> None:
    test_client, ours = client
    sign_in(test_client, Principal("cm-1", Role.CASE_MANAGER))
    found = test_client.get(f"/ui/cases?reference={ours[3][:8]}", follow_redirects=False)
    assert found.status_code == 303
    assert found.headers["location"] == f"/ui/cases/{ours[3]}"
    case_page = test_client.get(found.headers["location"]).text
    assert f"Case {ours[3][:8]}" in case_page
    assert listed(test_client.get("/ui/cases?reference=zz-not-hex").text) == []


def test_an_employer_finds_only_its_own_files(client: tuple[TestClient, list[str]]) -> None:
    test_client, ours = client
    sign_in(test_client, Principal("er-1", Role.EMPLOYER, frozenset({EMPLOYER})))
    mine = listed(test_client.get("/ui/cases").text)
    assert sorted(mine) == sorted(ours)
    assert listed(test_client.get("/ui/cases?employer=ER00002").text) == []
    sign_in(test_client, Principal("an-1", Role.ANALYST))
    assert test_client.get("/", follow_redirects=False).headers["location"] == "/ui/statistics"
    assert test_client.get("/ui/cases").status_code == 403


def test_dates_as_the_reader_writes_them(client: tuple[TestClient, list[str]]) -> None:
    assert date_format("nl-NL,nl;q=0.9,en;q=0.8") == "%d-%m-%Y"
    assert date_format("en-US") == "%m/%d/%Y"
    assert date_format("en-GB,en;q=0.9") == "%d/%m/%Y"
    assert date_format("") == "%Y-%m-%d"
    test_client, ours = client
    sign_in(test_client, Principal("cm-1", Role.CASE_MANAGER))
    dutch = test_client.get(f"/ui/cases/{ours[0]}", headers={"Accept-Language": "nl"}).text
    today = date.today()
    assert f'<span class="day">{today:%d-%m-%Y}</span>' in dutch
    plain = test_client.get(f"/ui/cases/{ours[0]}").text
    assert f'<span class="day">{today:%Y-%m-%d}</span>' in plain
