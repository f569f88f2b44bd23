"""Issue 19, hole 1: one accepted line stopped every read model.

A ``SicknessReported`` dated 9999-12-30 was imported (exit 0) and every projection then
stalled one event behind it; years 1 and 272 and a NUL inside a reason were accepted
too. Now dates are bounded where they are recorded (rules ``dates_plausible`` and
``recorded_not_in_future``, poortwachter.md s8: the act applies from 2002), text holds no
control characters, and an event a projection cannot apply anyway (one stored by an
older ledger) is set aside with its reason while the rest goes on, until a correction
makes it applicable.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient

from domain.case import Case
from projections.catalogue import all_projections
from projections.runner import ReadModelRunner
from services.application.importer import import_lines, numbered
from services.application.ledger import Ledger
from services.cli import main
from services.schema import side_store
from tests.api_support import ADMIN, api, auth
from tests.api_support import report as api_report
from tests.factories import import_via_cli, line, report

FAR = date(9999, 12, 30)


def _report_at(first_sick_day: date, recorded: datetime | None = None) -> dict[str, Any]:
    """A report of ``first_sick_day``, made on that day or at ``recorded``."""
    recorded = recorded or datetime.combine(first_sick_day, datetime.min.time(), UTC)
    item = report(uuid4(), first_sick_day)
    item["occurred_on"] = min(first_sick_day, recorded.date()).isoformat()
    item["recorded_at"] = recorded.isoformat()
    return item


@pytest.mark.parametrize(
    ("item", "field"),
    [
        (_report_at(FAR), "recorded_at"),
        (_report_at(date(1, 1, 1)), "data.first_sick_day"),
        (_report_at(date(272, 3, 1)), "data.first_sick_day"),
        (_report_at(date(2001, 12, 31)), "data.first_sick_day"),
        (_report_at(date(2026, 6, 1), datetime(2026, 5, 1, 9, tzinfo=UTC)), "data.first_sick_day"),
    ],
    ids=["year-9999", "year-1", "year-272", "before-2002", "weeks-ahead"],
)
def test_implausible_dates_are_refused_naming_line_and_field(
    use_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    item: dict[str, Any], field: str,
) -> None:  # fmt: skip
    good = report(uuid4(), date(2026, 1, 5))
    assert import_via_cli(tmp_path, [good]) == 0
    capsys.readouterr()
    assert import_via_cli(tmp_path, [item]) == 1
    err = capsys.readouterr().err
    assert f"line 1: {field}:" in err, err
    with Ledger() as ledger:
        assert [e.event_id for e in ledger.stored_events()] == [UUID(good["event_id"])]


def test_a_data_date_far_from_the_file_is_refused(
    use_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = uuid4()
    start = report(case, date(2026, 1, 5))
    sanction = line(case, "WageSanctionImposed", date(2026, 3, 2), actor=("uwv", "UWV"),
                    ends_on=date(9999, 1, 1), kind="substantive")  # fmt: skip
    capsys.readouterr()
    assert import_via_cli(tmp_path, [start, sanction]) == 1
    assert "line 2: data.ends_on:" in capsys.readouterr().err


def correct_first_sick_day(client: TestClient, case: str, day: str) -> Any:
    """An admin's EventCorrected of the case's sickness report, through the API."""
    first = client.get(f"/cases/{case}/timeline", headers=ADMIN).json()[0]["event_id"]
    body = {"type": "EventCorrected", "occurred_on": "2026-01-06",
            "data": {"corrects": first, "reason": "first sick day mistyped",
                     "corrected_data": {"first_sick_day": day}}}  # fmt: skip
    return client.post(f"/cases/{case}/events", json=body, headers=ADMIN)


def test_a_correction_cannot_move_a_first_sick_day_out_of_range(database_url: str) -> None:
    with api(database_url) as client:
        case = api_report(client, day="2026-01-05").json()["case_id"]
        answer = correct_first_sick_day(client, case, "9999-12-30")
        assert answer.status_code == 422, answer.text
        assert "first_sick_day" in answer.json()["detail"]


def test_the_api_refuses_dates_out_of_range_and_nul_in_text(database_url: str) -> None:
    with api(database_url) as client:
        far = api_report(client, day="9999-12-30")
        assert far.status_code == 422, far.text
        assert "first_sick_day" in far.json()["detail"]
        case = api_report(client, day="2026-01-05").json()["case_id"]
        employer = auth("employer", "er-1", ["ER1"])
        nul = {"type": "WagePaymentSuspended", "occurred_on": "2026-02-02",
               "data": {"reason": "no show \u0000 twice"}}  # fmt: skip
        answer = client.post(f"/cases/{case}/events", json=nul, headers=employer)
        assert answer.status_code == 422, answer.text
        assert "data.reason" in json.dumps(answer.json())
        assert len(client.get(f"/cases/{case}/timeline", headers=ADMIN).json()) == 1


def store_unchecked(ledger: Ledger, item: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Store a line as an older ledger without the date bounds did (the hole on main)."""
    with monkeypatch.context() as patched:
        patched.setattr(Case, "_admit_opening", staticmethod(lambda report: None))
        import_lines(ledger, numbered([json.dumps(item)]))


def pending_set_aside(store: Any) -> list[Any]:
    from projections.set_aside import pending_set_aside as pending  # new in issue 19

    return list(pending(store))


def poison(case_id: UUID) -> dict[str, Any]:
    return line(case_id, "SicknessReported", date(2026, 1, 5), employee_id="EMP-P",
                employer_id="ER1", first_sick_day=FAR)  # fmt: skip


def test_an_event_no_projection_can_apply_is_set_aside_and_the_rest_goes_on(
    use_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    before, after, bad = uuid4(), uuid4(), uuid4()
    assert import_via_cli(tmp_path, [report(before, date(2026, 1, 5))]) == 0
    with Ledger() as ledger:
        store_unchecked(ledger, poison(bad), monkeypatch)
    later = report(after, date(2026, 1, 12))
    later["data"]["employee_id"] = "EMP2"
    assert import_via_cli(tmp_path, [later]) == 0
    capsys.readouterr()
    assert main(["project", "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["events"] == 3

    with Ledger() as ledger, side_store() as store:
        runner = ReadModelRunner(ledger, store, all_projections())
        assert set(runner.positions().values()) == {3}, "a projection stalled"
        rows = {r["case_id"] for r in store.query("SELECT case_id FROM {case_state}")}
        assert rows == {str(before), str(after)}
        held = pending_set_aside(store)
    assert {(h.projection.split(":")[0], h.case_id) for h in held} == {
        (name, str(bad)) for name in ("case_state", "deadlines")
    }, "the statistics count no weeks from the first sick day: they apply it"
    assert all("OverflowError" in h.reason for h in held)

    assert main(["project", "--status", "--json"]) == 0
    status = {row["projection"]: row for row in json.loads(capsys.readouterr().out)}
    assert status["case_state"]["set_aside"][0]["case_id"] == str(bad)
    assert status["case_state"]["set_aside"][0]["event_type"] == "SicknessReported"
    assert status["event_index"]["set_aside"] == []
    assert main(["project", "--status"]) == 0
    assert f"set aside: notification 2 (SicknessReported, case {bad})" in capsys.readouterr().out


def test_a_correction_frees_the_set_aside_event(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = uuid4()
    with Ledger(database_url) as ledger:
        store_unchecked(ledger, poison(bad), monkeypatch)
    with api(database_url) as client:
        assert client.get("/deadlines?employer=ER1", headers=ADMIN).status_code == 200
        ready = client.get("/ready", headers=ADMIN)
        assert ready.status_code == 200, ready.text
        assert ready.json()["set_aside"] == {"case_state": 1, "deadlines": 1}
        shown = client.get(f"/cases/{bad}", headers=ADMIN)
        assert shown.status_code == 409, shown.text
        assert "set it aside" in shown.json()["detail"]
        answer = correct_first_sick_day(client, str(bad), "2026-01-05")
        assert answer.status_code == 201, answer.text
        assert client.get("/deadlines?employer=ER1", headers=ADMIN).status_code == 200
        assert client.get("/ready", headers=ADMIN).json()["set_aside"] == {}
        shown = client.get(f"/cases/{bad}", headers=ADMIN)
        assert shown.status_code == 200, shown.text
        assert shown.json()["state"]["first_sick_day"] == "2026-01-05"
    with side_store(database_url) as store:
        assert pending_set_aside(store) == []
        resolved = store.query("SELECT resolved_by FROM {set_aside}")
        assert [r["resolved_by"] for r in resolved] == [2, 2]


def test_set_aside_rows_go_with_a_rebuild(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Ledger(database_url) as ledger:
        store_unchecked(ledger, poison(uuid4()), monkeypatch)
        with side_store(database_url) as store:
            runner = ReadModelRunner(ledger, store, all_projections())
            runner.run()
            runner.rebuild()
            assert len(pending_set_aside(store)) == 2
            assert len(store.query("SELECT * FROM {set_aside}")) == 2
            assert runner.run().events == 0


def test_recorded_at_in_the_future_is_refused(
    use_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    item = _report_at(tomorrow.date() - timedelta(days=1), tomorrow)
    assert import_via_cli(tmp_path, [item]) == 1
    assert "line 1: recorded_at:" in capsys.readouterr().err


def test_every_route_of_a_set_aside_file_answers_the_same_409(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review of hole 1: a file whose dates cannot be computed with answered 409 on
    /cases/{id}, 422 on its deadlines, 404 on its review pack and 200 on its timeline.
    Every route that computes with the file's dates now answers 409 ``case-set-aside``,
    naming the correction that frees it; the timeline (the facts, no dates computed)
    still opens, so the admin can find the event to correct."""
    bad = uuid4()
    with api(database_url) as client:
        with Ledger(database_url) as ledger:
            store_unchecked(ledger, poison(bad), monkeypatch)
        for path in ("", "/deadlines", "/review-pack", "/review-pack?format=html"):
            answer = client.get(f"/cases/{bad}{path}", headers=ADMIN)
            assert answer.status_code == 409, (path, answer.status_code, answer.text)
            assert answer.json()["type"].endswith("case-set-aside"), path
        assert client.get(f"/cases/{bad}/timeline", headers=ADMIN).status_code == 200
        token = ADMIN["Authorization"].split()[1]
        client.post("/ui/login", data={"token": token}, follow_redirects=False)
        page = client.get(f"/ui/cases/{bad}")
        assert page.status_code == 409, page.text
        assert "EventCorrected" in page.text
