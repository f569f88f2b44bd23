"""Issue 19, hole 2: ``event_id`` was unique per case only. Another employer could reuse
an existing ``event_id`` in its own case (201), and the feed then carried two events with
one id, which a consumer deduplicating by ``event_id`` (as the feed schema tells it to)
drops. Now the store refuses a second use for every writer: the API (409
``event-id-reused``), ``ledger import`` (the line and field), ``ledger record``, and a
writer that bypasses them all and saves a case itself."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError

from domain import events as ev
from services.application.ledger import Ledger
from services.cli import main
from tests.api_support import ADMIN, api, auth
from tests.api_support import report as api_report
from tests.factories import import_via_cli, line, report


def _stored_ids(ledger: Ledger) -> list[UUID]:
    return [e.event_id for e in ledger.stored_events()]


def test_another_employer_cannot_reuse_an_event_id_over_http(database_url: str) -> None:
    with api(database_url) as client:
        mine = api_report(client, employer="ER1", employee="E1").json()
        theirs = api_report(client, employer="ER2", employee="E2").json()
        body = {"type": "UWVNotified", "occurred_on": "2026-09-10", "event_id": mine["event_id"]}
        answer = client.post(f"/cases/{theirs['case_id']}/events", json=body,
                             headers=auth("employer", "er-2", ["ER2"]))  # fmt: skip
        assert answer.status_code == 409, answer.text
        assert answer.json()["type"].endswith("event-id-reused")
        assert mine["event_id"] in answer.json()["detail"]
        timeline = client.get(f"/cases/{theirs['case_id']}/timeline", headers=ADMIN).json()
        assert len(timeline) == 1
        again = {"employee_id": "E3", "employer_id": "ER2", "first_sick_day": "2026-09-07",
                 "event_id": mine["event_id"]}  # fmt: skip
        reported = client.post("/cases", json=again, headers=ADMIN)
        assert reported.status_code == 409, reported.text


def test_an_import_reusing_a_stored_event_id_in_another_case_is_refused_whole(
    use_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = report(uuid4(), date(2026, 1, 5))
    assert import_via_cli(tmp_path, [first]) == 0
    other = uuid4()
    fresh = report(other, date(2026, 1, 12))
    fresh["data"]["employee_id"] = "EMP2"
    reused = line(other, "UWVNotified", date(2026, 10, 1), event_id=UUID(first["event_id"]))
    capsys.readouterr()
    assert import_via_cli(tmp_path, [fresh, reused]) == 1
    err = capsys.readouterr().err
    assert "line 2: event_id:" in err, err
    assert "another case" in err
    with Ledger() as ledger:
        assert _stored_ids(ledger) == [UUID(first["event_id"])]


def test_ledger_record_cannot_reuse_an_event_id(
    use_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = report(uuid4(), date(2026, 1, 5)), report(uuid4(), date(2026, 1, 12))
    b["data"]["employee_id"] = "EMP2"
    assert import_via_cli(tmp_path, [a, b]) == 0
    capsys.readouterr()
    code = main(["record", b["case_id"], "UWVNotified", "--on", "2026-10-01",
                 "--event-id", a["event_id"]])  # fmt: skip
    assert code == 1
    assert a["event_id"] in capsys.readouterr().err


def test_the_store_refuses_a_second_use_from_a_writer_that_bypasses_the_checks(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGER_DATABASE_URL", database_url)
    used, other = report(uuid4(), date(2026, 1, 5)), report(uuid4(), date(2026, 1, 12))
    other["data"]["employee_id"] = "EMP2"
    assert import_via_cli(tmp_path, [used, other]) == 0
    with Ledger(database_url) as ledger:
        case = ledger.get_case(UUID(other["case_id"]))
        case.record(ev.UWVNotified, event_id=UUID(used["event_id"]), occurred_on=date(2026, 10, 1),
                    actor=ev.Actor(role="employer", id="ER1"))  # fmt: skip
        with pytest.raises(IntegrityError, match="event_id"):
            ledger.save(case)
        stored = sorted(map(str, _stored_ids(ledger)))
        assert stored == sorted([used["event_id"], other["event_id"]])
