"""Statistics through the API, the pages and the CLI; analysts see no small groups."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from services.application.importer import import_lines, numbered
from services.cli import main
from tests.api_support import ADMIN, api, auth, token
from tests.factories import jsonl, line, report
from tests.test_statistics import PANTEIA_COUNTS, panteia_population

ON = "2026-11-01"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    url = f"sqlite:///{tmp_path_factory.mktemp('stats') / 'ledger.db'}"
    with api(url) as opened:
        # as `ledger import` does: the population holds UWV's decisions, which an admin may
        # not post over HTTP (issue 17)
        lines = numbered(jsonl(panteia_population()).splitlines())
        ledger = opened.app.state.ctx.ledger  # type: ignore[attr-defined]
        assert import_lines(ledger, lines).appended
        yield opened


def test_second_track_report_over_http(client: TestClient) -> None:
    body = client.get("/stats/second-track", params={"on": ON}, headers=ADMIN).json()
    assert body["counts"] == {o.value: n for o, n in PANTEIA_COUNTS.items()}
    as_csv = client.get("/stats/second-track", params={"on": ON, "format": "csv"}, headers=ADMIN)
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.text.splitlines()[1].startswith("all=all,408,82,")


def test_analysts_never_see_small_groups(client: TestClient) -> None:
    analyst = auth("analyst", "an-1")
    rare = []
    for _ in range(3):  # a provider with three trajectories, started after ON
        c = str(uuid4())
        start = line(c, "SecondTrackStarted", date(2026, 11, 10), provider_id="prov-rare")
        rare += [report(c, date(2026, 9, 1)), start]
    assert client.post("/events:import", content=jsonl(rare), headers=ADMIN).status_code == 200
    params = {"on": "2026-11-30", "by": ["provider"]}  # a month's end: published (issue 19)
    admin_view = client.get("/stats/second-track", params=params, headers=ADMIN).json()
    analyst_view = client.get("/stats/second-track", params=params, headers=analyst).json()
    assert [g["n"] for g in admin_view["groups"] if g["by"]["provider"] == "prov-rare"] == [3]
    hidden = [g for g in analyst_view["groups"] if g["suppressed"]]
    assert {g["by"]["provider"] for g in hidden} >= {"prov-rare"}
    assert all(g["n"] is None and g["counts"] is None for g in hidden)
    shown = sum(g["n"] for g in analyst_view["groups"] if not g["suppressed"])
    assert analyst_view["n"] - shown >= 10  # the hidden groups cannot be worked out
    crossed = {"on": ON, "by": ["employer", "band"]}  # review finding: subtraction
    assert client.get("/stats/second-track", params=crossed, headers=analyst).status_code == 422
    assert client.get("/stats/second-track", params=crossed, headers=ADMIN).status_code == 200
    assert (
        client.get("/cases/00000000-0000-0000-0000-000000000000", headers=analyst).status_code
        == 403
    )


def test_employers_get_no_population_statistics(client: TestClient) -> None:
    employer = auth("employer", "er-0", ["ER0"])
    response = client.get("/stats/second-track", headers=employer)
    assert response.status_code == 403


def test_kpi_needs_a_headcount_and_hides_small_employers_from_analysts(client: TestClient) -> None:
    params = {"employer": "ER0", "period": "2024"}
    missing = client.get("/stats/kpi", params=params, headers=ADMIN)
    assert missing.status_code == 404
    assert "ledger headcount import" in missing.json()["detail"]
    staff = {"headcount": 8, "part_time_factor": 0.9}
    own = auth("employer", "er-0", ["ER0"])
    put = client.put("/employers/ER0/headcount/2024", json=staff, headers=own)
    assert put.status_code == 200, put.text
    bad = client.put("/employers/ER0/headcount/2024-Q9", json={"headcount": 8}, headers=ADMIN)
    assert bad.status_code == 422
    other = client.put("/employers/ER1/headcount/2024", json={"headcount": 8},
                       headers=auth("employer", "er-0", ["ER0"]))  # fmt: skip
    assert other.status_code == 403
    kpi = client.get("/stats/kpi", params=params, headers=ADMIN).json()
    assert kpi["suppressed"] is False
    assert kpi["report_frequency"] > 0
    hidden = client.get("/stats/kpi", params=params, headers=auth("analyst", "an-1")).json()
    assert hidden == {"employer_id": "ER0", "period": "2024", "headcount": 8.0, "suppressed": True}


def test_statistics_page_draws_the_charts(client: TestClient) -> None:
    client.cookies.set("ledger_token", token("analyst", "an-1"))
    page = client.get("/ui/statistics", params={"on": ON})
    client.cookies.clear()
    assert page.status_code == 200
    assert 'id="second-track-chart"' in page.text
    assert "Panteia 2016" in page.text
    assert "Groups of fewer than 10 cases are not shown" in page.text


def test_ledger_stats_cli(
    use_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "panteia.jsonl"
    source.write_text(jsonl(panteia_population()))
    assert main(["import", str(source), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["stats", "second-track", "--on", ON, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 408
    assert main(["stats", "second-track", "--on", ON, "--by", "band", "--csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("group,n,placed_second_track,")
    assert len(lines) == 2 + 5
    assert main(["stats", "second-track", "--on", ON]) == 0
    assert "reference: Panteia 2016" in capsys.readouterr().out
    assert main(["stats", "kpi", "--employer", "ER0"]) == 2
    assert "needs an employer and a period" in capsys.readouterr().err
    headcount = tmp_path / "headcount.csv"
    headcount.write_text("employer_id,period,headcount,part_time_factor\nER0,2024,50,0.8\n")
    assert main(["headcount", "import", str(headcount)]) == 0
    capsys.readouterr()
    assert main(["stats", "kpi", "--employer", "ER0", "--period", "2024-Q1", "--json"]) == 0
    kpi = json.loads(capsys.readouterr().out)
    assert kpi["headcount"] == 50.0
    reports = sum(
        1
        for item in json.loads("[" + ",".join(source.read_text().splitlines()) + "]")
        if item["type"] == "SicknessReported" and item["data"]["employer_id"] == "ER0"
    )  # every case of the population falls ill on 2024-01-08
    assert kpi["report_frequency"] == pytest.approx(reports / 50 * 4, abs=0.001)


@pytest.mark.parametrize("kind", ["second-track", "deadlines"])
def test_analysts_cannot_subtract_one_day_from_the_next(client: TestClient, kind: str) -> None:
    """Issue 19, hole 6: the same statistic asked for two consecutive days gave, per
    dimension, one person's record by subtraction. Analysts now get the figures published
    at the end of each month (``PUBLICATION_PERIOD``), whatever day they ask for."""
    analyst = auth("analyst", "an-1")
    params = {"by": ["provider"]} if kind == "second-track" else {}

    def seen(on: date, headers: dict[str, str]) -> object:
        answer = client.get(f"/stats/{kind}", params={**params, "on": on.isoformat()},
                            headers=headers)  # fmt: skip
        assert answer.status_code == 200, answer.text
        return answer.json()

    days = [date(2026, 11, d) for d in range(1, 30)]
    as_admin = [seen(day, ADMIN) for day in days]
    assert len({json.dumps(v, sort_keys=True) for v in as_admin}) > 1, "the figures move daily"
    published = seen(date(2026, 10, 31), analyst)
    assert all(seen(day, analyst) == published for day in days)
    assert seen(date(2026, 11, 30), analyst) != published, "the month's end publishes anew"


def test_the_publication_period_is_data(monkeypatch: pytest.MonkeyPatch) -> None:
    from domain import access
    from domain.access import Principal, Role, published_as_of

    analyst, admin = Principal("an-1", Role.ANALYST), Principal("ad-1", Role.ADMIN)
    assert published_as_of(analyst, date(2026, 11, 17)) == date(2026, 10, 31)
    assert published_as_of(analyst, date(2026, 11, 30)) == date(2026, 11, 30)
    assert published_as_of(admin, date(2026, 11, 17)) == date(2026, 11, 17)
    monkeypatch.setattr(access, "PUBLICATION_PERIOD", "week")
    assert published_as_of(analyst, date(2026, 11, 17)) == date(2026, 11, 15)  # a Tuesday
    assert published_as_of(analyst, date(2026, 11, 15)) == date(2026, 11, 15)  # a Sunday
