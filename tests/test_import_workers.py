"""An import checked in worker processes (issue 20) stores exactly what a sequential
import stores: the same events, in the same order, with the same bytes; it refuses what a
sequential import refuses, leaving nothing behind; a re-import through workers appends
nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any
from uuid import UUID, uuid4

import pytest

from services.application.importer import ImportRejectedError, import_lines, numbered
from services.application.ledger import Ledger
from services.cli import main
from tests.factories import jsonl, line, report
from tests.test_projection_runner import _population

WORKERS = 2
D = date(2025, 3, 3)


def _stored(ledger: Ledger) -> list[tuple[UUID | str, int, str, bytes]]:
    """Every stored event in notification order, as the store holds it."""
    return [
        (n.originator_id, n.originator_version, n.topic, n.state)
        for page in ledger.notifications.notifications(None)
        for n in page
    ]


def test_an_import_through_workers_stores_the_bytes_a_sequential_import_stores(
    database_url: str, new_database_url: Callable[[], str]
) -> None:
    """Without keys (``protect=False``), so that the stored bytes are comparable: sealed
    fields carry fresh nonces, and each store makes its own subjects."""
    lines = _population(300, seed=12)
    with Ledger(database_url, protect=False) as sequential:
        one = import_lines(sequential, numbered(lines))
        expected = _stored(sequential)
    with Ledger(new_database_url(), protect=False) as parallel:
        many = import_lines(parallel, numbered(lines), workers=WORKERS, batch_size=700)
        assert _stored(parallel) == expected
    assert (many.appended, many.cases_opened, many.duplicates) == (
        one.appended, one.cases_opened, one.duplicates
    )  # fmt: skip
    assert many.appended == len(lines)


def _opened(ledger: Ledger) -> list[dict[str, Any]]:
    """Every event opened, subjects left out (each store makes its own)."""
    found = []
    for event in ledger.notifications.events(sealed=False):
        data = json.loads(event.model_dump_json())
        data.pop("subject_id", None)
        found.append(data)
    return found


def test_with_keys_the_workers_store_the_same_events_sealed_under_each_file(
    database_url: str, new_database_url: Callable[[], str]
) -> None:
    lines = _population(60, seed=13)
    with Ledger(database_url) as sequential:
        import_lines(sequential, numbered(lines))
        expected = _opened(sequential)
    with Ledger(new_database_url()) as parallel:
        summary = import_lines(parallel, numbered(lines), workers=WORKERS)
        assert summary.appended == len(lines)
        assert _opened(parallel) == expected
        again = import_lines(parallel, numbered(lines), workers=WORKERS)
        assert (again.appended, again.duplicates) == (0, len(lines))


def test_a_file_refused_through_workers_is_refused_as_a_sequential_import_refuses_it(
    database_url: str,
) -> None:
    first, second = report(uuid4(), D), report(uuid4(), D)
    second["event_id"] = first["event_id"]  # one event_id in two cases of the file
    good = [report(uuid4(), D) for _ in range(3)]
    broken = [first, *good, second, line(uuid4(), "SicknessResumed", D)]
    text = jsonl(broken).splitlines()
    with Ledger(database_url) as ledger:
        assert ledger.keys is not None
        keys = "SELECT count(*) AS n FROM {file_key}"
        before = ledger.keys.store.query(keys)[0]["n"]
        with pytest.raises(ImportRejectedError) as alone:
            import_lines(ledger, numbered(text))
        with pytest.raises(ImportRejectedError) as together:
            import_lines(ledger, numbered(text), workers=WORKERS)
        assert [str(p) for p in together.value.problems] == [str(p) for p in alone.value.problems]
        assert "line 5: event_id: also used on line 1" in str(together.value)
        assert ledger.keys.store.query(keys)[0]["n"] == before  # the workers' keys taken back
        assert _stored(ledger) == []


def test_ledger_import_takes_workers(
    use_database: str, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(_population(20, seed=14)) + "\n")
    assert main(["import", "--workers", "2", "--json", "-q", str(path)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["cases_opened"] == 20
    with pytest.raises(SystemExit):
        main(["import", "--workers", "none", str(path)])
    assert "give a number of processes" in capsys.readouterr().err
