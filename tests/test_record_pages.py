"""Recording from the pages over HTTP (issue 21): the forms' CSRF token, a form sent twice
stored once, a stale form refused with what changed, the API's rule messages beside the
fields, and the role rules of what is offered."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from domain.access import Principal, Role
from services.api.app import create_app
from services.bootstrap import Settings
from tests.api_support import KEY

FIRST = date.today() - timedelta(days=20)
EMPLOYER = Principal("er-1", Role.EMPLOYER, frozenset({"ER1"}))


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'l.db'}", jwt_key=KEY,
                              follow_seconds=0))  # fmt: skip
    try:
        with TestClient(app) as test_client:
            yield test_client
    finally:
        app.state.ctx.close()


def sign_in(client: TestClient, principal: Principal) -> None:
    client.cookies.clear()
    code = client.app.state.ctx.sign_in_codes.issue(principal)  # type: ignore[attr-defined]
    assert client.get(f"/ui/login?code={code}", follow_redirects=False).status_code == 303


def form_of(client: TestClient, case_id: str, event_type: str) -> dict[str, str]:
    return hidden(client.get(f"/ui/cases/{case_id}/record?type={event_type}").text)


def hidden(page: str) -> dict[str, str]:
    return dict(re.findall(r'type="hidden" name="([a-z_]+)" value="([^"]*)"', page))


def report(client: TestClient) -> str:
    sign_in(client, EMPLOYER)
    form = hidden(client.get("/ui/report").text)
    done = client.post("/ui/report", data={**form, "employee_id": "EMP-1", "employer_id": "ER1",
                                           "first_sick_day": FIRST.isoformat()},
                       follow_redirects=False)  # fmt: skip
    assert done.status_code == 303, done.text
    location: str = done.headers["location"]
    return location.split("/ui/cases/")[1].split("?")[0]


def versions(client: TestClient, case_id: str) -> int:
    events: str = client.get(f"/ui/cases/{case_id}").text
    return events.count('<tr class="effective">') + events.count('<tr class="corrected">')


def test_a_form_sent_twice_stores_once(client: TestClient) -> None:
    case_id = report(client)
    form = form_of(client, case_id, "ReportedToOccupationalPhysician")
    sent = {**form, "occurred_on": (FIRST + timedelta(days=1)).isoformat()}
    first = client.post(f"/ui/cases/{case_id}/record", data=sent, follow_redirects=False)
    again = client.post(f"/ui/cases/{case_id}/record", data=sent, follow_redirects=False)
    assert first.status_code == again.status_code == 303
    assert "already+recorded" in again.headers["location"]
    assert versions(client, case_id) == 2


def test_a_form_from_elsewhere_is_refused(client: TestClient) -> None:
    case_id = report(client)
    form = hidden(client.get(f"/ui/cases/{case_id}/record?type=RecoveryReported").text)
    forged = {**form, "csrf": "0" * 32, "occurred_on": date.today().isoformat()}
    assert client.post(f"/ui/cases/{case_id}/record", data=forged).status_code == 403
    assert versions(client, case_id) == 1


def test_the_rule_message_stands_beside_its_field(client: TestClient) -> None:
    case_id = report(client)
    form = form_of(client, case_id, "ReportedToOccupationalPhysician")
    early = (FIRST - timedelta(days=2)).isoformat()
    refused = client.post(f"/ui/cases/{case_id}/record", data={**form, "occurred_on": early})
    assert refused.status_code == 422
    beside = re.search(r'id="problem-occurred_on"[^>]*>([^<]+)', refused.text)
    assert beside is not None
    assert "before the first sick day" in beside.group(1)
    assert versions(client, case_id) == 1


def test_a_stale_form_says_what_changed(client: TestClient) -> None:
    case_id = report(client)
    one = form_of(client, case_id, "ReportedToOccupationalPhysician")
    two = hidden(client.get(f"/ui/cases/{case_id}/record?type=CaseManagerAppointed").text)
    day = (FIRST + timedelta(days=1)).isoformat()
    assert client.post(f"/ui/cases/{case_id}/record", data={**one, "occurred_on": day},
                       follow_redirects=False).status_code == 303  # fmt: skip
    stale = client.post(f"/ui/cases/{case_id}/record",
                        data={**two, "occurred_on": day, "case_manager_id": "cm-1"})  # fmt: skip
    assert stale.status_code == 409
    assert "Someone else changed this case" in stale.text
    assert "Reported to occupational physician" in re.sub(r"<[^>]+>", "", stale.text)
    again = hidden(stale.text)
    assert int(again["version"]) == int(two["version"]) + 1
    resent = client.post(f"/ui/cases/{case_id}/record",
                         data={**again, "occurred_on": day, "case_manager_id": "cm-1"},
                         follow_redirects=False)  # fmt: skip
    assert resent.status_code == 303


def test_each_role_is_offered_what_it_may_record(client: TestClient) -> None:
    case_id = report(client)
    offered = client.get(f"/ui/cases/{case_id}/record").text
    assert "type=PlanOfApproachAgreed" in offered
    assert "type=ProblemAnalysisCompleted" not in offered
    sign_in(client, Principal("op-1", Role.OCCUPATIONAL_PHYSICIAN))
    offered = client.get(f"/ui/cases/{case_id}/record").text
    assert "type=ProblemAnalysisCompleted" in offered
    sign_in(client, Principal("uwv-1", Role.UWV_REVIEWER))
    assert "records no events" in client.get(f"/ui/cases/{case_id}/record").text
    assert 'id="record"' not in client.get(f"/ui/cases/{case_id}").text
    sign_in(client, Principal("er-9", Role.EMPLOYER, frozenset({"ER9"})))
    assert client.get(f"/ui/cases/{case_id}/record?type=RecoveryReported").status_code == 404
