"""The HTTP API through its HTTP layer: every endpoint, retries, conflicts, problems."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from domain.access import UWV_DECISIONS, Principal, Role
from domain.events import CurrentOpinionIssued, MedicalNoteRecorded, SafetyNetPeriodEstablished
from services.api.auth import issue_token
from tests.api_support import ADMIN, KEY, api, event, report
from tests.factories import every_event_type, jsonl

NOT_BY_ADMIN = {cls.__name__ for cls in UWV_DECISIONS} | {
    MedicalNoteRecorded.__name__,
    SafetyNetPeriodEstablished.__name__,
    CurrentOpinionIssued.__name__,
    "SanctionShorteningRequested",
}  # a request needs the sanction UWV imposed


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with api(database_url) as opened:
        yield opened


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}, "issue 19: no counts, no broker for everyone"
    detailed = client.get("/ready", headers=ADMIN).json()
    assert set(detailed["behind"]) == {"case_state", "deadlines", "event_index", "statistics"}


def test_report_read_and_append(client: TestClient) -> None:
    created = report(client)
    assert created.status_code == 201, created.text
    case_id = created.json()["case_id"]
    assert created.json()["continued"] is False
    assert created.headers["ETag"] == '"1"'

    appended = event(client, case_id, "ReportedToOccupationalPhysician", "2026-09-08")
    assert appended.status_code == 201, appended.text
    assert appended.json()["version"] == 2

    read = client.get(f"/cases/{case_id}", params={"as_of": "2026-09-30"}, headers=ADMIN)
    assert read.status_code == 200
    assert read.headers["ETag"] == '"2"'
    view = read.json()
    assert view["state"]["status"] == "open"
    assert [e["type"] for e in view["events"]] == [
        "SicknessReported",
        "ReportedToOccupationalPhysician",
    ]
    assert view["events"][1]["actor"] == {"role": "system", "id": "admin"}

    timeline = client.get(f"/cases/{case_id}/timeline", headers=ADMIN).json()
    assert [row["status"] for row in timeline] == ["effective", "effective"]
    deadlines = client.get(
        f"/cases/{case_id}/deadlines", params={"on": "2026-10-19"}, headers=ADMIN
    ).json()
    analysis = next(d for d in deadlines if d["deadline"] == "problem_analysis")
    assert (analysis["status"], analysis["days_late"]) == ("overdue", 1)

    listed = client.get(
        "/deadlines", params={"employer": "ER1", "status": "overdue", "on": "2026-10-19"},
        headers=ADMIN,
    ).json()  # fmt: skip
    assert {(r["case_id"], r["deadline"]) for r in listed} == {(case_id, "problem_analysis")}


def test_a_long_deadline_list_comes_a_page_at_a_time(client: TestClient) -> None:
    """GET /deadlines?limit=N: the first N of the whole list, by due date."""
    for n, day in enumerate(["2026-09-07", "2026-08-03", "2026-07-06"]):
        report(client, employee=f"EMP-PAGE{n}", day=day)
    params = {"employer": "ER1", "on": "2026-10-19"}
    whole = client.get("/deadlines", params=params, headers=ADMIN).json()
    page = client.get("/deadlines", params={**params, "limit": 4}, headers=ADMIN).json()
    assert len(whole) > 4
    assert page == whole[:4]
    assert [row["due_on"] for row in page] == sorted(row["due_on"] for row in page)
    assert _problem(client.get("/deadlines", params={**params, "limit": 0}, headers=ADMIN), 422)


@pytest.mark.parametrize("projected", [False, True], ids=["from the log", "from the view"])
def test_a_report_within_28_days_of_recovery_continues_the_case(
    client: TestClient, projected: bool
) -> None:
    """poortwachter.md s2 (art. 7:629 lid 10 BW): rule relapse_within_28_days."""
    first = report(client, employee="EMP7").json()["case_id"]
    assert event(client, first, "RecoveryReported", "2026-09-20").status_code == 201
    if projected:  # the earlier case reaches the case-state view first
        assert client.get("/deadlines", params={"employer": "ER1"}, headers=ADMIN).is_success
    again = report(client, employee="EMP7", day="2026-10-10")
    assert again.status_code == 200, again.text
    assert again.json()["continued"] is True
    assert again.json()["case_id"] == first
    assert "20 days after recovery on 2026-09-20" in again.json()["message"]

    assert event(client, first, "RecoveryReported", "2026-10-20").status_code == 201
    later = report(client, employee="EMP7", day="2026-11-20")  # 31 days: a new case
    assert later.status_code == 201
    assert later.json()["case_id"] != first
    assert later.json()["continued"] is False


def test_idempotent_retries_append_nothing(client: TestClient) -> None:
    key = {"Idempotency-Key": "report-2026-09-07-emp9", **ADMIN}
    first = report(client, employee="EMP9", headers=key)
    retry = report(client, employee="EMP9", headers=key)
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    case_id = first.json()["case_id"]

    other = report(client, employee="EMP10", headers=key)
    assert _problem(other, 422)["type"].endswith("idempotency-key-reused")

    event_id = str(uuid4())
    body = {"type": "UWVNotified", "occurred_on": "2026-09-10", "event_id": event_id}
    once = client.post(f"/cases/{case_id}/events", json=body, headers=ADMIN)
    twice = client.post(f"/cases/{case_id}/events", json=body, headers=ADMIN)
    assert (once.status_code, twice.status_code) == (201, 200)
    assert twice.json()["duplicate"] is True
    assert client.get(f"/cases/{case_id}", headers=ADMIN).json()["version"] == 2

    changed = dict(body, occurred_on="2026-09-11")
    assert _problem(client.post(f"/cases/{case_id}/events", json=changed, headers=ADMIN), 409)


def test_if_match_gives_409_with_the_current_version(client: TestClient) -> None:
    case_id = report(client).json()["case_id"]
    stale = {"If-Match": '"0"', **ADMIN}
    body = {"type": "UWVNotified", "occurred_on": "2026-09-10"}
    conflict = client.post(f"/cases/{case_id}/events", json=body, headers=stale)
    assert _problem(conflict, 409)["current_version"] == 1
    fresh = {"If-Match": '"1"', **ADMIN}
    assert client.post(f"/cases/{case_id}/events", json=body, headers=fresh).status_code == 201
    bad = client.post(f"/cases/{case_id}/events", json=body, headers={"If-Match": "x", **ADMIN})
    assert _problem(bad, 400)["errors"][0]["field"] == "If-Match"


def test_two_concurrent_writers_one_wins_one_gets_409(client: TestClient) -> None:
    case_id = report(client).json()["case_id"]
    results: list[int] = []

    for _ in range(5):  # repeat: each round both writers read version v and race
        results.clear()
        version = client.get(f"/cases/{case_id}", headers=ADMIN).json()["version"]
        barrier = threading.Barrier(2)

        def race(day: str, v: int = version, gate: threading.Barrier = barrier) -> None:
            gate.wait()
            body = {"type": "PlanEvaluated", "occurred_on": day}
            response = client.post(
                f"/cases/{case_id}/events", json=body, headers={"If-Match": f'"{v}"', **ADMIN}
            )
            results.append(response.status_code)

        threads = [threading.Thread(target=race, args=(d,)) for d in ("2026-10-01", "2026-10-02")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results) == [201, 409]
    assert client.get(f"/cases/{case_id}", headers=ADMIN).json()["version"] == 1 + 5


def test_without_if_match_concurrent_writers_both_land(client: TestClient) -> None:
    case_id = report(client).json()["case_id"]
    barrier = threading.Barrier(4)
    results: list[int] = []

    def write(n: int) -> None:
        barrier.wait()
        body = {"type": "PlanEvaluated", "occurred_on": f"2026-10-{n + 1:02d}"}
        results.append(
            client.post(f"/cases/{case_id}/events", json=body, headers=ADMIN).status_code
        )

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [201] * 4
    assert client.get(f"/cases/{case_id}", headers=ADMIN).json()["version"] == 5


def test_bad_input_is_a_problem_and_appends_nothing(client: TestClient) -> None:
    case_id = report(client).json()["case_id"]
    bad_date = client.post(
        "/cases", json={"employee_id": "E", "employer_id": "ER1", "first_sick_day": "2026-02-30"},
        headers=ADMIN,
    )  # fmt: skip
    assert _problem(bad_date, 422)["errors"][0]["field"] == "first_sick_day"

    free_text = report(client, employee="has spaces in it")
    assert _problem(free_text, 422)["errors"][0]["field"] == "employee_id"

    before = event(client, case_id, "UWVNotified", "2026-09-01")  # before the first sick day
    body = _problem(before, 422)
    assert body["errors"][0]["rule"] == "event_not_before_first_sick_day"

    unknown_type = event(client, case_id, "SicknessCelebrated", "2026-09-10")
    assert _problem(unknown_type, 422)["errors"][0]["field"] == "type"
    bad_data = event(client, case_id, "PlanOfApproachAgreed", "2026-09-10", goal="holiday")
    assert _problem(bad_data, 422)["errors"][0]["field"] == "data.goal"
    extra = event(client, case_id, "UWVNotified", "2026-09-10", diagnosis="flu")
    assert _problem(extra, 422)["errors"][0]["field"] == "data.diagnosis"
    not_json = client.post(
        f"/cases/{case_id}/events",
        content=b"{nope",
        headers={**ADMIN, "content-type": "application/json"},
    )
    assert not_json.status_code == 422

    unknown_case = event(client, str(uuid4()), "UWVNotified", "2026-09-10")
    assert _problem(unknown_case, 404)
    assert client.get(f"/cases/{case_id}", headers=ADMIN).json()["version"] == 1


def test_import_and_export(client: TestClient, tmp_path: Any) -> None:
    # an admin records no medical notes, by import neither (test_privacy.py), nor what only
    # the physician judges or UWV decides (issue 17)
    lines = [item for item in every_event_type() if item["type"] not in NOT_BY_ADMIN]
    imported = client.post(
        "/events:import",
        content=jsonl(lines),
        headers={**ADMIN, "content-type": "application/x-ndjson"},
    )
    assert imported.status_code == 200, imported.text
    assert imported.json()["appended"] == len(lines)

    broken = [dict(lines[0], event_id=str(uuid4()), case_id=str(uuid4()))]
    broken[0]["data"] = dict(broken[0]["data"], first_sick_day="not a date")
    refused = client.post("/events:import", content=jsonl(broken), headers=ADMIN)
    problem = _problem(refused, 422)
    assert problem["errors"][0]["line"] == 1
    assert problem["errors"][0]["field"] == "data.first_sick_day"

    exported = client.get("/export", headers=ADMIN)
    assert exported.headers["content-type"].startswith("application/x-ndjson")
    rows = [json.loads(text) for text in exported.text.splitlines()]
    assert [r["event_id"] for r in rows] == [line["event_id"] for line in lines]


def test_tokens_are_required_and_checked(client: TestClient) -> None:
    assert _problem(client.get("/deadlines?employer=ER1"), 401)
    forged = {"Authorization": "Bearer not.a.token"}
    assert (
        "not valid"
        in _problem(client.get("/deadlines?employer=ER1", headers=forged), 401)["detail"]
    )
    expired = issue_token(Principal("x", Role.ADMIN), KEY, hours=-1)
    response = client.get("/deadlines?employer=ER1", headers={"Authorization": f"Bearer {expired}"})
    assert "expired" in _problem(response, 401)["detail"]
    other_key = issue_token(Principal("x", Role.ADMIN), "another-key-entirely-long-enough-123")
    response = client.get(
        "/deadlines?employer=ER1", headers={"Authorization": f"Bearer {other_key}"}
    )
    assert _problem(response, 401)


def test_the_openapi_document_has_a_model_and_example_for_every_body(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if "requestBody" in operation:
                content = operation["requestBody"]["content"]
                assert content, (method, path)
            ok = operation["responses"].get("200") or operation["responses"].get("201")
            assert ok is not None, (method, path)
    components = schema["components"]["schemas"]
    models = ("ReportSickness", "CaseReported", "NewEvent", "EventAppended", "DeadlineRow",
              "Problem", "TimelineEntry", "CaseView", "AccessRecord", "ImportResult")  # fmt: skip
    for name in models:
        assert components[name].get("examples"), name


def test_not_ready_while_read_models_are_behind(database_url: str) -> None:
    from fastapi.testclient import TestClient as Client

    from services.api.app import create_app
    from services.api.context import Settings

    app = create_app(
        Settings(database_url=database_url, jwt_key=KEY, follow_seconds=0, ready_max_lag=0)
    )
    try:
        with Client(app) as client:
            report(client)
            behind = client.get("/ready", headers=ADMIN)
            assert _problem(behind, 503)["detail"].startswith("1 notifications behind")
            anonymous = client.get("/ready")
            assert _problem(anonymous, 503)["detail"] == "the read models are catching up; retry"
            app.state.ctx.catch_up()
            assert client.get("/ready").status_code == 200
    finally:
        app.state.ctx.close()


def test_ledger_token_issues_a_token_the_api_accepts(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from services.cli import main

    monkeypatch.setenv("LEDGER_JWT_KEY", KEY)
    assert main(["token", "--role", "employer", "--employer", "ER1", "--subject", "er-1"]) == 0
    issued = capsys.readouterr().out.strip()
    listed = client.get("/deadlines", headers={"Authorization": f"Bearer {issued}"})
    assert listed.status_code == 200
    assert main(["token", "--role", "employer"]) == 2
    assert "exactly one employer" in capsys.readouterr().err
    assert main(["token", "--role", "admin", "--subject", "has space"]) == 2


def test_a_repeated_report_never_opens_a_second_case(client: TestClient) -> None:
    """Review finding: the retry of a report that continued a recovered case found the
    case open again and opened a new one."""
    first = report(client, employee="EMP21").json()["case_id"]
    assert event(client, first, "RecoveryReported", "2026-09-20").status_code == 201
    body = {"employee_id": "EMP21", "employer_id": "ER1", "first_sick_day": "2026-10-01",
            "event_id": str(uuid4())}  # fmt: skip
    once = client.post("/cases", json=body, headers=ADMIN)
    again = client.post("/cases", json=body, headers=ADMIN)
    assert (once.status_code, again.status_code) == (200, 200)
    assert once.json()["case_id"] == again.json()["case_id"] == first
    assert again.json()["message"] == "this sickness report was stored already"


def test_concurrent_requests_with_one_key_append_once(client: TestClient) -> None:
    barrier = threading.Barrier(4)
    answers: list[Any] = []
    key = {"Idempotency-Key": f"race-{uuid4()}", **ADMIN}

    def send() -> None:
        barrier.wait()
        answers.append(report(client, employee="EMP22", headers=key))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cases = {a.json()["case_id"] for a in answers if a.status_code in (200, 201)}
    assert len(cases) == 1
    assert all(a.status_code in (200, 201, 409) for a in answers)
    listed = client.get("/deadlines", params={"employer": "ER1"}, headers=ADMIN).json()
    assert len({r["case_id"] for r in listed if r["case_id"] in cases}) == 1
