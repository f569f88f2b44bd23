"""Issue 19, item 8: there was no `employee` role, so an employee could not see their own
file (AVG art. 15, right of access). An employee's token names their employee id and
their employer; it reads that person's files there and nothing else: no colleague's
file, no list, no statistics, no medical note (poortwachter.md s5: medical data only
for the occupational physician), and it records nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api_support import ADMIN, api, auth, event, report

NOTE = "burn-out; sertraline 50 mg"
PHYSICIAN = auth("occupational_physician", "op-1")


@pytest.fixture
def files(database_url: str) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The employee E-SELF's file and a colleague's, at ER-S; E-SELF at ER-T is someone
    else (an employee id names someone only at its employer)."""
    with api(database_url) as client:
        own = report(client, "ER-S", "E-SELF", "2026-09-07").json()["case_id"]
        colleague = report(client, "ER-S", "E-COLLEAGUE", "2026-09-07").json()["case_id"]
        namesake = report(client, "ER-T", "E-SELF", "2026-09-07").json()["case_id"]
        noted = event(client, own, "MedicalNoteRecorded", "2026-09-10", headers=PHYSICIAN,
                      note=NOTE)  # fmt: skip
        assert noted.status_code == 201, noted.text
        yield client, {"own": own, "colleague": colleague, "namesake": namesake}


def _me(employer: str = "ER-S") -> dict[str, str]:
    return auth("employee", "E-SELF", [employer])


def test_an_employee_reads_their_own_file_without_the_medical_note(
    files: tuple[TestClient, dict[str, str]],
) -> None:
    client, ids = files
    listed = client.get("/me/cases", headers=_me())
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"case_ids": [ids["own"]]}
    for path in ("", "/timeline", "/deadlines"):
        answer = client.get(f"/cases/{ids['own']}{path}", headers=_me())
        assert answer.status_code == 200, (path, answer.text)
        assert NOTE not in answer.text
    timeline = client.get(f"/cases/{ids['own']}/timeline", headers=_me()).json()
    notes = [e for e in timeline if e["type"] == "MedicalNoteRecorded"]
    assert notes
    assert all("withheld" in str(e["data"]) for e in notes)


def test_an_employee_sees_no_colleague_no_namesake_and_no_list(
    files: tuple[TestClient, dict[str, str]],
) -> None:
    client, ids = files
    for other in ("colleague", "namesake"):
        answer = client.get(f"/cases/{ids[other]}", headers=_me())
        assert answer.status_code == 404, (other, answer.text)  # as if it did not exist
    at_t = client.get("/me/cases", headers=_me("ER-T")).json()
    assert at_t == {"case_ids": [ids["namesake"]]}  # the namesake is E-SELF *at ER-T*
    refused: list[tuple[str, dict[str, Any]]] = [
        ("/deadlines", {"employer": "ER-S"}),
        ("/stats/second-track", {}),
        ("/stats/kpi", {"employer": "ER-S", "year": 2026}),
        (f"/cases/{ids['own']}/access-log", {}),
        ("/events:export", {}),
    ]
    for path, params in refused:
        answer = client.get(path, params=params, headers=_me())
        assert answer.status_code in (403, 404, 405), (path, answer.status_code, answer.text)
        assert answer.status_code != 200
    recorded = event(client, ids["own"], "RecoveryReported", "2026-09-20", headers=_me())
    assert recorded.status_code == 403, recorded.text
    assert client.get("/me/cases", headers=ADMIN).status_code == 403


def test_an_employee_token_names_exactly_one_employer() -> None:
    from domain.access import Principal, Role
    from services.api.auth import TokenError, issue_token

    with pytest.raises(TokenError, match="exactly one employer"):
        issue_token(Principal("E-SELF", Role.EMPLOYEE, None), "k" * 40)


def test_an_employee_signs_in_to_a_page_of_their_own_files(
    files: tuple[TestClient, dict[str, str]],
) -> None:
    """Item 8, in the browser: the first page after an employee signs in lists their own
    files and opens each one, without the physician's note; nobody else's file opens."""
    client, ids = files
    token = _me()["Authorization"].split()[1]
    assert client.post("/ui/login", data={"token": token}, follow_redirects=False).is_redirect
    home = client.get("/", follow_redirects=False)
    assert home.status_code == 200, home.text
    assert f'href="/ui/cases/{ids["own"]}"' in home.text
    assert "2026-09-07" in home.text  # the first sick day says which file it is
    assert ids["colleague"] not in home.text
    assert ids["namesake"] not in home.text
    page = client.get(f"/ui/cases/{ids['own']}")
    assert page.status_code == 200, page.text
    assert NOTE not in page.text
    assert "withheld" in page.text
    assert client.get(f"/ui/cases/{ids['colleague']}").status_code == 404
    assert client.get(f"/ui/cases/{ids['namesake']}").status_code == 404
    assert client.get("/ui/statistics").status_code == 403
