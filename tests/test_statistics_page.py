"""The statistics page for people (issue 21): labelled charts, this ledger beside Panteia
2016 and each deadline named; the absence KPIs of rules reference s7 for an employer,
an employer's token its own only; analysts told which groups are too small to show."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from domain.access import Principal, Role
from services.api.app import create_app
from services.bootstrap import Settings
from services.cli import main
from services.tools.showcase import EMPLOYER
from tests.api_support import KEY


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    monkeypatch.setenv("LEDGER_DATABASE_URL", url)
    assert main(["demo", "--cases", "60"]) == 0  # with the demo employer's headcounts
    app = create_app(Settings(database_url=url, jwt_key=KEY, follow_seconds=0))
    try:
        with TestClient(app) as test_client:
            yield test_client
    finally:
        app.state.ctx.close()


def page_as(client: TestClient, principal: Principal, query: str = "") -> str:
    client.cookies.clear()
    code = client.app.state.ctx.sign_in_codes.issue(principal)  # type: ignore[attr-defined]
    client.get(f"/ui/login?code={code}")
    answer = client.get(f"/ui/statistics{query}")
    assert answer.status_code == 200, answer.text
    text: str = answer.text
    return text


def svg_texts(page: str, chart: str) -> list[str]:
    found = re.search(rf'<svg id="{chart}".*?</svg>', page, flags=re.S)
    assert found is not None, f"no chart {chart}"
    return [t.strip() for t in re.findall(r"<text[^>]*>([^<]+)</text>", found.group(0))]


def test_the_charts_are_labelled(client: TestClient) -> None:
    page = page_as(client, Principal("admin", Role.ADMIN))
    second = svg_texts(page, "second-track-chart")
    assert "this ledger" in second
    assert "Panteia 2016" in second
    assert any(t.startswith("n = ") for t in second)
    deadlines = svg_texts(page, "deadline-chart")
    assert "problem analysis" in deadlines
    assert "plan of approach" in deadlines
    assert any(re.fullmatch(r"\d+%", t) for t in deadlines)
    assert "placed second track" in page  # the legend, in words


def test_an_employer_sees_its_own_absence_figures(client: TestClient) -> None:
    employer = Principal("er-1", Role.EMPLOYER, frozenset({EMPLOYER}))
    page = page_as(client, employer)
    for key in ("absence_percentage", "report_frequency", "zero_absence"):
        value = re.search(rf'id="kpi-{key}">\s*([^<]+)<', page)
        assert value is not None, key
        assert re.search(r"\d", value.group(1)), (key, value.group(1))
    assert "verzuimpercentage" in page
    assert 'id="second-track-chart"' not in page  # population figures are not scoped
    client.cookies.clear()
    code = client.app.state.ctx.sign_in_codes.issue(employer)  # type: ignore[attr-defined]
    client.get(f"/ui/login?code={code}")
    other = client.get("/ui/statistics?employer=ER00002")
    assert other.status_code == 403
    quarter = f"{date.today().year - 3}-Q1"
    missing = page_as(client, employer, f"?period={quarter}")
    assert f"no headcount for employer {EMPLOYER} in {quarter}" in missing


def test_an_analyst_is_told_what_is_too_small_to_show(client: TestClient) -> None:
    page = page_as(client, Principal("an-1", Role.ANALYST), f"?employer={EMPLOYER}")
    assert 'id="suppression"' in page
    assert "not shown" in page
    assert 'class="suppressed"' in page
    assert 'id="kpi-absence_percentage"' in page  # 120 employees: enough to show
