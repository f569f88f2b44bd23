"""Issue 19, hole 4 (second half): one open file per employee at an employer, held by
the store for every writer (rule one_open_file_per_employee; rules reference s1, one
waiting time per sickness, and s2, samentelling).

The attack: the same employee reported sick again without an idempotency key got a
second open file, so two 104-week clocks ran for one sickness."""

from __future__ import annotations

import json
import threading
import time
from datetime import date, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.interchange import parse_line
from infra import open_files
from infra.readmodel import stamp_at
from services.application.importer import ImportRejectedError, import_lines, numbered
from services.application.ledger import ABANDONED_CLAIM_SECONDS, Ledger
from services.bootstrap import bootstrap
from services.cli import main
from tests.api_support import api, report
from tests.factories import line

FIRST = date(2026, 3, 2)


def _opened(case_id: UUID, employee: str, day: date = FIRST) -> dict[str, Any]:
    return line(case_id, "SicknessReported", day, employee_id=employee, employer_id="ER-O",
                first_sick_day=day)  # fmt: skip


def _closed(case_id: UUID, day: date) -> list[dict[str, Any]]:
    return [line(case_id, "RecoveryReported", day),
            line(case_id, "CaseClosed", day + timedelta(days=1), outcome="recovered")]  # fmt: skip


def _import(ledger: Ledger, items: list[dict[str, Any]]) -> None:
    import_lines(ledger, numbered([json.dumps(item) for item in items]))


def test_a_second_report_over_http_gets_409_and_stores_nothing(database_url: str) -> None:
    with api(database_url) as client:
        first = report(client, "ER-O", "E-TWICE", "2026-09-07")
        assert first.status_code == 201, first.text
        again = report(client, "ER-O", "E-TWICE", "2026-09-14")  # no Idempotency-Key
        assert again.status_code == 409, again.text
        assert again.json()["type"].endswith("file-already-open")
        assert first.json()["case_id"] in again.json()["detail"]
    with Ledger(database_url) as ledger:
        assert [type(e).__name__ for e in ledger.stored_events()] == ["SicknessReported"]


def test_an_import_with_two_open_files_of_one_employee_is_refused_with_the_line(
    database_url: str,
) -> None:
    one, two = uuid4(), uuid4()
    with Ledger(database_url) as ledger:
        later = _opened(two, "E-DOUBLE", FIRST + timedelta(7))
        with pytest.raises(ImportRejectedError) as refused:
            _import(ledger, [_opened(one, "E-DOUBLE"), later])
        assert list(ledger.stored_events()) == []
    (problem,) = refused.value.problems
    assert (problem.line, problem.field, problem.rule) == (
        2, "data.employee_id", "one_open_file_per_employee"
    )
    assert str(one) in problem.message


def test_a_history_of_ended_files_imports_and_a_store_file_gives_way_once_closed(
    database_url: str,
) -> None:
    old, later, newest = uuid4(), uuid4(), uuid4()
    with Ledger(database_url) as ledger:
        # the first file ends in the same import: the second may open (file order is free)
        _import(ledger, [_opened(later, "E-H", FIRST + timedelta(100)), _opened(old, "E-H"),
                         *_closed(old, FIRST + timedelta(30))])  # fmt: skip
        with pytest.raises(ImportRejectedError, match="one_open_file_per_employee"):
            _import(ledger, [_opened(newest, "E-H", FIRST + timedelta(200))])
        _import(ledger, _closed(later, FIRST + timedelta(150)))
        _import(ledger, [_opened(newest, "E-H", FIRST + timedelta(200))])  # takes over
        assert ledger.find_case(newest) is not None


def test_a_report_through_the_cli_is_refused_with_exit_1(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LEDGER_DATABASE_URL", database_url)
    who = ["report", "--employee", "E-CLI", "--employer", "ER-O"]
    assert main([*who, "--first-sick-day", "2026-09-07"]) == 0
    capsys.readouterr()
    assert main([*who, "--first-sick-day", "2026-09-21"]) == 1
    assert "already has an open file" in capsys.readouterr().err


def test_two_writers_at_once_open_one_file(database_url: str) -> None:
    """The store, not a read of the cases, decides: of writers racing to open a file for
    one employee exactly one succeeds."""
    results: list[str] = []
    with bootstrap(database_url=database_url, follow_seconds=0) as rt:
        start = threading.Barrier(4)

        def writer(n: int) -> None:
            item = _opened(uuid4(), "E-RACE", FIRST + timedelta(n))
            start.wait()
            try:
                rt.ledger.append(parse_line(json.dumps(item)))
                results.append("stored")
            except open_files.FileAlreadyOpenError:
                results.append("refused")

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results) == ["refused", "refused", "refused", "stored"]
        stored = [type(e).__name__ for e in rt.ledger.stored_events()]
        assert stored == ["SicknessReported"]


def test_a_claim_left_by_a_writer_that_died_is_taken_over_after_a_minute(
    database_url: str,
) -> None:
    with bootstrap(database_url=database_url, follow_seconds=0) as rt:
        dead, alive = uuid4(), uuid4()
        item = parse_line(json.dumps(_opened(dead, "E-DEAD")))
        subject = rt.ledger.subject_of(item)
        assert subject is not None
        open_files.claim(rt.store, subject, "ER-O", dead, lambda holder: True)  # then died
        with pytest.raises(open_files.FileAlreadyOpenError):  # it may still be writing
            rt.ledger.append(parse_line(json.dumps(_opened(alive, "E-DEAD"))))
        aged = stamp_at(time.time() - ABANDONED_CLAIM_SECONDS - 1)
        rt.store.write("UPDATE {open_file} SET claimed_at = ?", [aged])
        rt.ledger.append(parse_line(json.dumps(_opened(alive, "E-DEAD"))))
        assert rt.ledger.find_case(alive) is not None
