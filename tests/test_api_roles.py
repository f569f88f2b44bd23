"""What each role may read and record through the API (poortwachter.md s5), and
that it cannot do more: every row is one request with its expected status."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api_support import ADMIN, api, auth, event, report


@dataclass(frozen=True)
class Case:
    a: str  # a case of employer ER-A
    b: str  # a case of employer ER-B
    analysis: str  # the physician's ProblemAnalysisCompleted in case a


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Case]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('roles') / 'ledger.db'}"
    with api(url) as client:
        a = report(client, employer="ER-A", employee="EA1").json()["case_id"]
        b = report(client, employer="ER-B", employee="EB1").json()["case_id"]
        physician = auth("occupational_physician", "op-1")
        analysis = event(client, a, "ProblemAnalysisCompleted", "2026-09-20", headers=physician)
        yield client, Case(a, b, analysis.json()["event_id"])


EMPLOYER_A = ("employer", "er-a", ["ER-A"])
MANAGER_A = ("case_manager", "cm-1", ["ER-A"])
PHYSICIAN = ("occupational_physician", "op-1", None)
REVIEWER = ("uwv_reviewer", "uwv-1", None)
ANALYST = ("analyst", "an-1", None)
ADMINISTRATOR = ("admin", "root", None)
UWV = ("uwv", "uwv-decisions", None)


def _event(type_: str, on: str = "2026-09-25", **data: Any) -> dict[str, Any]:
    return {"type": type_, "occurred_on": on, "data": data}


# (who, method, path, body, status, reason in the problem)
MATRIX: list[tuple[tuple[str, str, list[str] | None], str, str, Any, int, str]] = [
    (EMPLOYER_A, "GET", "/cases/{a}", None, 200, ""),
    # issue 19: another employer's case is answered as an unknown one (no existence oracle)
    (EMPLOYER_A, "GET", "/cases/{b}", None, 404, "does not exist"),
    (EMPLOYER_A, "GET", "/cases/{b}/timeline", None, 404, "does not exist"),
    (EMPLOYER_A, "GET", "/deadlines", None, 200, ""),
    (EMPLOYER_A, "GET", "/deadlines?employer=ER-B", None, 403, "only of the employers it serves"),
    (EMPLOYER_A, "POST", "/cases/{a}/events", _event("PlanOfApproachAgreed", goal="own_work"), 201, ""),
    (EMPLOYER_A, "POST", "/cases/{a}/events", _event("ProblemAnalysisCompleted"), 403, "may not record ProblemAnalysisCompleted"),
    (EMPLOYER_A, "POST", "/cases/{a}/events", _event("WorkPartiallyResumed", incapacity_percent=50), 403, "may not record WorkPartiallyResumed"),
    (EMPLOYER_A, "POST", "/cases/{a}/events", _event("WageSanctionImposed", kind="substantive", ends_on="2029-01-01"), 403, "may not record WageSanctionImposed"),
    (EMPLOYER_A, "POST", "/cases/{a}/events", _event("EventRetracted", retracts="{analysis}", reason="wrong"), 403, "nor correct it"),
    (EMPLOYER_A, "POST", "/cases/{b}/events", _event("UWVNotified"), 404, "does not exist"),
    (EMPLOYER_A, "POST", "/cases", {"employee_id": "EA2", "employer_id": "ER-A", "first_sick_day": "2026-09-10"}, 201, ""),
    (EMPLOYER_A, "POST", "/cases", {"employee_id": "EB2", "employer_id": "ER-B", "first_sick_day": "2026-09-10"}, 403, "does not serve employer ER-B"),
    (EMPLOYER_A, "POST", "/cases", {"employee_id": "EA3", "employer_id": "ER-A", "first_sick_day": "2026-09-10", "incapacity_percent": 60}, 403, "only the occupational physician"),
    (EMPLOYER_A, "GET", "/export", None, 403, "UWV reviewers and admins"),
    (EMPLOYER_A, "GET", "/cases/{a}/access-log", None, 403, "UWV reviewers and admins"),
    (EMPLOYER_A, "POST", "/events:import", "", 403, "only an admin"),
    (MANAGER_A, "GET", "/cases/{a}", None, 200, ""),
    (MANAGER_A, "GET", "/cases/{b}", None, 404, "does not exist"),
    (MANAGER_A, "GET", "/deadlines?case_manager=cm-1&employer=ER-A", None, 200, ""),
    (MANAGER_A, "POST", "/cases/{a}/events", _event("CaseManagerAppointed", case_manager_id="cm-1"), 201, ""),
    (MANAGER_A, "POST", "/cases/{a}/events", _event("SicknessResumed", incapacity_percent=80), 403, "only the occupational physician"),
    (PHYSICIAN, "GET", "/cases/{b}", None, 200, ""),
    (PHYSICIAN, "POST", "/cases/{a}/events", _event("WorkPartiallyResumed", incapacity_percent=50), 201, ""),
    (PHYSICIAN, "POST", "/cases/{a}/events", _event("PlanOfApproachAgreed", goal="own_work"), 403, "may not record PlanOfApproachAgreed"),
    (PHYSICIAN, "POST", "/cases/{a}/events", _event("EventCorrected", corrects="{analysis}", reason="typo", corrected_occurred_on="2026-09-19"), 201, ""),
    (PHYSICIAN, "GET", "/deadlines", None, 422, "employer= or case_manager="),
    (REVIEWER, "GET", "/cases/{a}", None, 200, ""),
    (REVIEWER, "GET", "/cases/{b}/deadlines", None, 200, ""),
    (REVIEWER, "GET", "/export", None, 200, ""),
    (REVIEWER, "GET", "/cases/{a}/access-log", None, 200, ""),
    (REVIEWER, "POST", "/cases/{a}/events", _event("UWVNotified"), 403, "may not record UWVNotified"),
    (REVIEWER, "POST", "/cases", {"employee_id": "EA4", "employer_id": "ER-A", "first_sick_day": "2026-09-10"}, 403, "may not record SicknessReported"),
    (ANALYST, "GET", "/cases/{a}", None, 403, "statistics only"),
    (ANALYST, "GET", "/cases/00000000-0000-0000-0000-000000000000", None, 403, "statistics only"),
    (ANALYST, "GET", "/cases/{a}/timeline", None, 403, "statistics only"),
    (ANALYST, "GET", "/deadlines?employer=ER-A", None, 403, "statistics only"),
    (ANALYST, "GET", "/export", None, 403, "UWV reviewers and admins"),
    (ANALYST, "POST", "/cases/{a}/events", _event("UWVNotified"), 403, "may not record UWVNotified"),
    # issue 17: UWV's decisions are recorded in the uwv role, not by an administrator
    (ADMINISTRATOR, "POST", "/cases/{b}/events", _event("WageSanctionImposed", "2026-11-20", kind="substantive", ends_on="2028-11-01"), 403, "may not record WageSanctionImposed"),
    (UWV, "POST", "/cases/{b}/events", _event("WageSanctionImposed", "2026-11-20", kind="substantive", ends_on="2028-11-01"), 201, ""),
    (UWV, "POST", "/cases/{b}/events", _event("LateNotificationFined", "2026-11-20", amount_eur=455), 201, ""),
    (UWV, "POST", "/cases/{b}/events", _event("PlanOfApproachAgreed", goal="own_work"), 403, "may not record PlanOfApproachAgreed"),
    (EMPLOYER_A, "POST", "/cases/{a}/events", _event("LateNotificationFined", amount_eur=100), 403, "may not record LateNotificationFined"),
    (EMPLOYER_A, "POST", "/cases/{a}/events", _event("SafetyNetPeriodEstablished", period="within_six_weeks"), 403, "may not record SafetyNetPeriodEstablished"),
    (ADMINISTRATOR, "POST", "/cases/{a}/events", _event("SafetyNetPeriodEstablished", period="within_six_weeks"), 403, "may not record SafetyNetPeriodEstablished"),
    (PHYSICIAN, "POST", "/cases/{a}/events", _event("CurrentOpinionIssued", prognosis="unclear"), 201, ""),
    (MANAGER_A, "POST", "/cases/{a}/events", _event("LabourExpertReportCompleted"), 201, ""),
    (MANAGER_A, "POST", "/cases/{a}/events", _event("CurrentOpinionIssued"), 403, "may not record CurrentOpinionIssued"),
    (ADMINISTRATOR, "GET", "/cases/{b}/access-log", None, 200, ""),
]  # fmt: skip


@pytest.mark.parametrize(
    ("who", "method", "path", "body", "status", "reason"),
    MATRIX,
    ids=[f"{row[0][0]}-{row[1]}-{row[2]}-{row[4]}" for row in MATRIX],
)
def test_role_matrix(
    world: tuple[TestClient, Case],
    who: tuple[str, str, list[str] | None],
    method: str,
    path: str,
    body: Any,
    status: int,
    reason: str,
) -> None:
    client, case = world
    headers = auth(*who)
    url = path.format(a=case.a, b=case.b)
    if isinstance(body, dict) and "data" in body:
        data = {k: (v.format(analysis=case.analysis) if isinstance(v, str) else v)
                for k, v in body["data"].items()}  # fmt: skip
        body = dict(body, data=data)
    if method == "GET":
        response = client.get(url, headers=headers)
    elif isinstance(body, str):
        response = client.post(url, content=body, headers=headers)
    else:
        response = client.post(url, json=body, headers=headers)
    assert response.status_code == status, response.text
    if status >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert reason in response.json()["detail"]


def test_a_refused_write_appends_nothing(world: tuple[TestClient, Case]) -> None:
    client, case = world
    before = client.get(f"/cases/{case.a}", headers=ADMIN).json()["version"]
    refused = event(client, case.a, "ProblemAnalysisCompleted", "2026-09-25",
                    headers=auth(*EMPLOYER_A))  # fmt: skip
    assert refused.status_code == 403
    assert client.get(f"/cases/{case.a}", headers=ADMIN).json()["version"] == before


def test_events_record_the_caller_from_the_token(world: tuple[TestClient, Case]) -> None:
    client, case = world
    appended = event(client, case.a, "UWVNotified", "2026-09-26", headers=auth(*MANAGER_A))
    assert appended.status_code == 201
    events = client.get(f"/cases/{case.a}", headers=ADMIN).json()["events"]
    assert events[-1]["actor"] == {"role": "case_manager", "id": "cm-1"}
    spoof = {"type": "UWVNotified", "occurred_on": "2026-09-27",
             "actor": {"role": "uwv", "id": "uwv"}}  # fmt: skip
    refused = client.post(f"/cases/{case.a}/events", json=spoof, headers=auth(*MANAGER_A))
    assert refused.status_code == 403


def test_every_read_of_a_case_is_visible_to_the_reviewer(world: tuple[TestClient, Case]) -> None:
    client, case = world
    client.get(f"/cases/{case.b}", headers=auth("occupational_physician", "op-9"))
    client.get(f"/cases/{case.b}/timeline", headers=auth("uwv_reviewer", "uwv-7"))
    log = client.get(f"/cases/{case.b}/access-log", headers=auth(*REVIEWER)).json()
    reads = [(r["subject"], r["role"], r["action"]) for r in log]
    assert ("op-9", "occupational_physician", "read case") in reads
    assert ("uwv-7", "uwv_reviewer", "read timeline") in reads
    assert all(r["at"] for r in log)
    refused_reader = [r for r in log if r["subject"] == "er-a"]
    assert refused_reader == []  # a refused read shows nothing, so it reads nothing


def test_review_findings_on_access(world: tuple[TestClient, Case]) -> None:
    """A correction may not move a case to another employer; scoped tokens export
    nothing and see no other employer's access log; the pages' cookie does not
    authenticate the API; malformed input never gives a 500."""
    client, case = world
    employer_a = auth(*EMPLOYER_A)
    report_id = client.get(f"/cases/{case.a}", headers=ADMIN).json()["events"][0]["event_id"]
    move = {"type": "EventCorrected", "occurred_on": "2026-09-30",
            "data": {"corrects": report_id, "reason": "x", "corrected_data": {"employer_id": "ER-B"}}}  # fmt: skip
    refused = client.post(f"/cases/{case.a}/events", json=move, headers=employer_a)
    assert refused.status_code == 403
    assert "another employer or employee" in refused.json()["detail"]
    odd = dict(move, data={"corrects": report_id, "reason": "x", "corrected_data": 5})
    assert client.post(f"/cases/{case.a}/events", json=odd, headers=employer_a).status_code == 422

    scoped_reviewer = auth("uwv_reviewer", "uwv-a", ["ER-A"])
    assert client.get("/export", headers=scoped_reviewer).status_code == 403
    assert client.get(f"/cases/{case.b}/access-log", headers=scoped_reviewer).status_code == 403

    from tests.api_support import token

    client.cookies.set("ledger_token", token(*EMPLOYER_A))
    try:
        by_cookie = client.post(f"/cases/{case.a}/events", json=_event("UWVNotified"))
        assert by_cookie.status_code == 401
        page = client.get(f"/ui/cases/{case.a}", params={"on": "2000-01-01"})
        assert page.status_code == 404
    finally:
        client.cookies.clear()


def test_tokens_without_a_scope_are_refused(world: tuple[TestClient, Case]) -> None:
    import jwt

    from tests.api_support import KEY

    client, case = world
    now = 1_900_000_000
    choices: tuple[object, ...] = (None, "ER-A", 5, [])
    for employers in choices:
        claims: dict[str, Any] = {"iss": "reintegration-ledger", "sub": "x", "role": "employer",
                                  "iat": now - 10, "exp": now + 3600}  # fmt: skip
        if employers is not None:
            claims["employers"] = employers
        forged = jwt.encode(claims, KEY, algorithm="HS256")
        response = client.get(f"/cases/{case.a}", headers={"Authorization": f"Bearer {forged}"})
        assert response.status_code == 401, employers


def test_the_review_pack_over_http(world: tuple[TestClient, Case]) -> None:
    client, case = world
    pack = client.get(f"/cases/{case.a}/review-pack", headers=auth(*REVIEWER))
    assert pack.status_code == 200
    assert pack.json()["case_id"] == case.a
    assert "documents" in pack.json()["review"]
    page = client.get(f"/cases/{case.a}/review-pack", params={"format": "html"},
                      headers=auth(*REVIEWER))  # fmt: skip
    assert "Are all documents present?" in page.text
    assert client.get(f"/cases/{case.b}/review-pack", headers=auth(*EMPLOYER_A)).status_code == 404  # issue 19: no oracle
    assert client.get(f"/cases/{case.a}/review-pack", headers=auth(*ANALYST)).status_code == 403


@pytest.mark.parametrize("path", ["/cases/{id}", "/cases/{id}/timeline", "/cases/{id}/deadlines"])
def test_a_foreign_case_reads_exactly_like_one_that_does_not_exist(
    world: tuple[TestClient, Case], path: str
) -> None:
    """Issue 19, item 8: the 403 named the employer owning a foreign case, and told that it
    existed. Now a foreign case and a case id nobody used get the same answer."""
    client, case = world
    headers = auth(*EMPLOYER_A)
    nobody = "00000000-0000-4000-8000-000000000000"
    foreign = client.get(path.format(id=case.b), headers=headers)
    unknown = client.get(path.format(id=nobody), headers=headers)
    assert (foreign.status_code, unknown.status_code) == (404, 404)
    assert foreign.json() == {**unknown.json(), "detail": unknown.json()["detail"].replace(
        nobody, str(case.b))}  # fmt: skip
    assert "ER-B" not in foreign.text
    posted = client.post(f"/cases/{case.b}/events", json=_event("UWVNotified"), headers=headers)
    assert posted.status_code == 404
    assert "ER-B" not in posted.text
