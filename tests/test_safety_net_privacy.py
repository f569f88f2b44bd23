"""The safety-net flag (issue 17 item 3; rules reference s5, AP "De zieke werknemer"): the
employer may record *that* a safety-net provision (*vangnet*) applies, never which. Every
view shows the flag and none can hold the kind, because the ledger cannot store it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from domain.interchange import to_line
from domain.privacy import feed_message
from infra.kafka import pseudonymizer
from tests.api_support import api, auth

EMPLOYER = auth("employer", "er-1", ["ER-S"])
MANAGER = auth("case_manager", "cm-1", ["ER-S"])
ANALYST = auth("analyst", "an-1")
# What a kind would look like if any view carried one (no-risk policy, organ donation,
# fictitious employment, agency work, the compensation scheme).
KINDS = ("no_risk", "no-risk", "noriskpolis", "organ", "orgaan", "fictitious", "fictief",
         "agency", "uitzend", "compensat")  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('vangnet') / 'ledger.db'}"
    with api(url) as client:
        body = {"employee_id": "EMP-VN", "employer_id": "ER-S", "first_sick_day": "2026-09-07",
                "safety_net": True}  # fmt: skip
        opened = client.post("/cases", json=body, headers=EMPLOYER)
        assert opened.status_code == 201, opened.text
        yield client, opened.json()["case_id"]


def _no_kind(text: str) -> None:
    lowered = text.lower()
    assert not [kind for kind in KINDS if kind in lowered]


@pytest.mark.parametrize("who", [EMPLOYER, MANAGER], ids=["employer", "case_manager"])
def test_the_employer_side_sees_the_flag_and_no_kind(
    world: tuple[TestClient, str], who: dict[str, str]
) -> None:
    client, case_id = world
    answer = client.get(f"/cases/{case_id}", headers=who)
    assert answer.status_code == 200
    state = answer.json()["state"]
    assert state["safety_net"] is True
    assert [k for k in state if "safety" in k or "vangnet" in k] == ["safety_net"]
    _no_kind(answer.text)
    deadlines = client.get(f"/cases/{case_id}/deadlines", headers=who).json()
    (notification,) = [d for d in deadlines if d["deadline"] == "uwv_notification"]
    assert notification["due_on"] == "2026-09-10"  # the 4th sick day (s1)
    client.cookies.clear()
    client.post("/ui/login", data={"token": who['Authorization'].split()[1]})
    page = client.get(f"/ui/cases/{case_id}")
    assert page.status_code == 200
    assert "A safety-net provision applies" in page.text
    _no_kind(page.text)


def test_the_analyst_sees_the_flag_in_the_feed_and_never_the_file(
    world: tuple[TestClient, str],
) -> None:
    client, case_id = world
    assert client.get(f"/cases/{case_id}", headers=ANALYST).status_code == 403
    ledger = client.app.state.ctx.ledger  # type: ignore[attr-defined]
    report = next(e for e in ledger.stored_events() if str(e.originator_id) == case_id)
    message = feed_message(to_line(report), pseudonymizer(b"k" * 32), str(report.subject_id))
    assert message["data"]["safety_net"] is True
    assert "EMP-VN" not in json.dumps(message)
    _no_kind(json.dumps(message))


@pytest.mark.parametrize(
    "body",
    [
        {"safety_net": "no_risk_policy"},
        {"safety_net": True, "safety_net_kind": "no_risk_policy"},
        {"safety_net": True, "vangnet": "orgaandonatie"},
    ],
)
def test_which_provision_applies_cannot_be_recorded(
    world: tuple[TestClient, str], body: dict[str, Any]
) -> None:
    client, _ = world
    full = {"employee_id": "EMP-VN2", "employer_id": "ER-S", "first_sick_day": "2026-09-08",
            **body}  # fmt: skip
    answer = client.post("/cases", json=full, headers=EMPLOYER)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_a_correction_cannot_add_the_kind_either(world: tuple[TestClient, str]) -> None:
    client, case_id = world
    timeline = client.get(f"/cases/{case_id}/timeline", headers=EMPLOYER).json()
    report_id = timeline[0]["event_id"]
    body = {"type": "EventCorrected", "occurred_on": "2026-09-08",
            "data": {"corrects": report_id, "reason": "which provision",
                     "corrected_data": {"safety_net_kind": "no_risk_policy"}}}  # fmt: skip
    answer = client.post(f"/cases/{case_id}/events", json=body, headers=EMPLOYER)
    assert answer.status_code == 422, answer.text
    assert "safety_net_kind" in answer.text
