"""`make run`'s demo shows the product: files whose present is today, at every phase,
with deadlines due this week and overdue, a second track, a sanction, a dispute with a
correction; and a sign-in page with a link per role (issue 22)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from domain.access import Role
from services.api.app import create_app
from services.bootstrap import Settings
from services.cli import main
from services.tools.showcase import EMPLOYER, STORIES, demo_principals
from tests.api_support import KEY


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    monkeypatch.setenv("LEDGER_DATABASE_URL", url)
    return url


@pytest.mark.parametrize("today", [date.today(), date(2025, 2, 28), date(2026, 7, 1)])
def test_the_demo_files_are_as_of_today(
    store: str, today: date, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--cases", "20", "--today", today.isoformat()]) == 0
    overview = capsys.readouterr().out
    assert all(story.title in overview for story in STORIES)
    assert main(["deadlines", "--employer", EMPLOYER, "--on", today.isoformat(), "--json"]) == 0
    deadlines = json.loads(capsys.readouterr().out)
    this_week = [d for d in deadlines if d["status"] == "open"
                 and today.isoformat() <= d["due_on"] <= (today + timedelta(days=6)).isoformat()]
    named = {d["deadline"] for d in this_week}
    assert {"problem_analysis", "plan_of_approach", "uwv_notification",
            "final_evaluation"} <= named  # fmt: skip
    overdue = {d["deadline"] for d in deadlines if d["status"] == "overdue"}
    assert {"plan_of_approach", "uwv_notification"} <= overdue

    case_ids = [line.split()[0] for line in overview.splitlines() if "  week " in line]
    assert len(case_ids) == len(STORIES)
    weeks = [int(line.split("week")[1].split()[0]) for line in overview.splitlines()
             if "  week " in line]  # fmt: skip
    assert weeks == sorted(weeks)
    assert weeks[0] == 1
    assert weeks[-1] > 93  # every phase, up to the end of the 104 weeks
    kinds = set()
    for case_id in case_ids:
        assert main(["case", case_id, "--as-of", today.isoformat(), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["state"]["status"] == "open", case_id
        assert main(["case", UUID(case_id).hex, "--timeline", "--json"]) == 0
        kinds |= {e["type"] for e in json.loads(capsys.readouterr().out)}
    assert {"SecondTrackStarted", "WageSanctionImposed", "ExpertOpinionIssued",
            "EventCorrected"} <= kinds  # fmt: skip


def test_a_demo_of_a_day_to_come_is_refused(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    assert main(["demo", "--today", tomorrow]) == 2
    assert "facts cannot be recorded in the future" in capsys.readouterr().err


def test_the_demo_loads_once_a_day(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--cases", "10"]) == 0
    assert "new events, 0 already there" in capsys.readouterr().out
    assert main(["demo", "--cases", "10"]) == 0
    assert "demo import: 0 new events" in capsys.readouterr().out


def test_the_demo_sign_in_page_offers_a_link_per_role(store: str) -> None:
    principals = tuple(demo_principals(date.today()))
    assert {p.role for p in principals} == set(Role)
    app = create_app(Settings(database_url=store, jwt_key=KEY, follow_seconds=0,
                              demo_sign_in=principals))  # fmt: skip
    try:
        with TestClient(app) as client:
            page = client.get("/ui/login").text
            links = [part.split('"')[0] for part in page.split('href="/ui/login?code=')[1:]]
            assert len(links) == len(principals)
            for code, principal in zip(links, principals, strict=True):
                client.cookies.clear()
                signed_in = client.get(f"/ui/login?code={code}", follow_redirects=False)
                assert signed_in.status_code == 303, principal
                claims = app.state.ctx.claims(signed_in.cookies["ledger_token"])
                assert claims.principal == principal
    finally:
        app.state.ctx.close()


def test_no_links_without_the_demo(store: str) -> None:
    app = create_app(Settings(database_url=store, jwt_key=KEY, follow_seconds=0))
    try:
        with TestClient(app) as client:
            assert "/ui/login?code=" not in client.get("/ui/login").text
    finally:
        app.state.ctx.close()


def test_the_demo_sign_in_only_on_loopback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--demo", "--host", "0.0.0.0"]) == 2
    assert "only on a loopback address" in capsys.readouterr().err
