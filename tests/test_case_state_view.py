"""The case-state read model says what the domain says (issue 4, item 2)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from domain.deadlines import case_deadlines
from projections.case_state import CaseSummary, find_cases, read_case_state
from projections.catalogue import all_projections
from projections.runner import ReadModelRunner
from services.application.importer import import_lines, numbered
from services.application.ledger import Ledger
from services.cli import main
from services.schema import side_store as read_models
from services.tools.simulate import simulate

TODAY = date(2026, 11, 2)
WAGE_END = "end_of_wage_continuation"  # a date, not a task


@pytest.mark.parametrize("days_later", [0, 1, 45])
def test_every_row_matches_the_state_folded_from_the_case(
    ledger: Ledger, database_url: str, days_later: int
) -> None:
    lines = [json.dumps(x) for x in simulate(60, seed=23, start=date(2025, 3, 3), today=TODAY)]
    import_lines(ledger, numbered(lines))
    with read_models(database_url) as store:
        ReadModelRunner(ledger, store, all_projections(), page_size=64).run()
        rows = find_cases(store)
        assert len(rows) == 60
        for row in rows:
            case = ledger.get_case(UUID(row["case_id"]))
            state = case.current
            on = (state.last_event_on or state.first_sick_day) + timedelta(days=days_later)
            summary = CaseSummary(row, on).to_json()
            expected: dict[str, Any] = state.to_json(on)
            # issue 9: the read model holds no personal data; views fetch the id sealed
            assert expected.pop("employee_id") not in json.dumps(row)
            assert row["subject_id"] == str(state.subject_id)
            tasks = [d for d in case_deadlines(case.timeline(), on) if d.deadline != WAGE_END]
            pending = [d for d in tasks if d.status.value in ("open", "overdue")]
            first = min(pending, key=lambda d: (d.due_on, d.deadline), default=None)
            expected.update(
                next_deadline=first.deadline if first else None,
                next_due_on=first.due_on.isoformat() if first else None,
                version=case.version,
            )
            assert summary == expected
            assert (row["status"], row["phase"]) == (state.status.value, state.phase.value)
        assert read_case_state(store, UUID(rows[0]["case_id"])) == rows[0]


def test_ledger_cases_lists_the_read_model(
    use_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "cases.jsonl"
    source.write_text("".join(json.dumps(x) + "\n" for x in simulate(25, seed=4, today=TODAY)))
    assert main(["import", str(source), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["cases", "--status", "open", "--on", "2026-11-03", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows
    assert {row["status"] for row in rows} == {"open"}
    assert all("counted_sick_days" in row and "next_due_on" in row for row in rows)
    employer = rows[0]["employer_id"]
    assert main(["cases", "--employer", employer, "--json"]) == 0
    assert {row["employer_id"] for row in json.loads(capsys.readouterr().out)} == {employer}
    assert main(["cases", "--limit", "3"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 1 + 3


def test_ledger_cases_on_a_past_day_replays_the_cases_that_changed_since(
    use_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review finding: rows describe the day of their last event, not an earlier one."""
    from uuid import uuid4

    from tests.factories import import_via_cli, line, report

    case_id = str(uuid4())
    appointed = line(case_id, "CaseManagerAppointed", date(2026, 4, 15), case_manager_id="cm-9")
    assert import_via_cli(tmp_path, [report(case_id, date(2026, 1, 5)), appointed]) == 0

    def listed(on: str, *extra: str) -> list[dict[str, Any]]:
        capsys.readouterr()
        assert main(["cases", "--on", on, "--json", *extra]) == 0
        rows: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
        return rows

    (early,) = listed("2026-01-14")
    assert (early["counted_sick_days"], early["case_manager_id"]) == (10, None)
    assert listed("2025-12-06") == []
    assert listed("2026-01-14", "--case-manager", "cm-9") == []
    (later,) = listed("2026-05-01", "--case-manager", "cm-9")
    assert later["counted_sick_days"] == (date(2026, 5, 1) - date(2026, 1, 5)).days + 1
