"""The deadline view (issue 3) against the pure rule computation, and its CLI.

Property: for any employer or case manager, any day and any filter, the view's
rows are exactly the pure computation (``case_deadlines`` over each case's
effective timeline, rules reference s1) filtered the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.case import Case
from domain.deadlines import DeadlineStatus, case_deadlines
from infra.readmodel import ReadModelStore
from projections.catalogue import all_projections
from projections.deadlines import CaseDeadline, DeadlineQuery, find_deadlines
from projections.runner import ReadModelRunner
from services.application.importer import import_lines, numbered
from services.application.ledger import Ledger
from services.cli import main
from services.schema import side_store as read_models
from services.tools.simulate import simulate
from tests.factories import import_via_cli, line, report

START, TODAY = date(2025, 1, 6), date(2026, 11, 2)


Population = tuple[Ledger, ReadModelStore, list[Case]]


@pytest.fixture
def population(ledger: Ledger, database_url: str) -> Iterator[Population]:
    lines = [json.dumps(item) for item in simulate(150, seed=41, start=START, today=TODAY)]
    import_lines(ledger, numbered(lines))
    case_ids = dict.fromkeys(e.originator_id for e in ledger.stored_events())
    cases = [ledger.get_case(case_id) for case_id in case_ids]
    with read_models(database_url) as store:
        ReadModelRunner(ledger, store, all_projections(), page_size=200).run()
        yield ledger, store, cases


def _pure(cases: list[Case], query: DeadlineQuery) -> list[dict[str, Any]]:
    rows: list[CaseDeadline] = []
    for case in cases:
        state = case.current
        if query.employer_id is not None and state.employer_id != query.employer_id:
            continue
        if query.case_manager_id is not None and state.case_manager_id != query.case_manager_id:
            continue
        rows.extend(CaseDeadline(case.id, d) for d in case_deadlines(case.timeline(), query.on))
    matching = [row for row in rows if query.matches(row)]
    return sorted(
        (r.to_json() for r in matching),
        key=lambda r: (r["due_on"], r["case_id"], r["deadline"], str(r)),
    )


def _view(ledger: Ledger, store: ReadModelStore, query: DeadlineQuery) -> list[dict[str, Any]]:
    def replay(case_id: UUID, on: date) -> list[Any]:
        return case_deadlines(ledger.get_case(case_id).timeline(), on)

    found = [row.to_json() for row in find_deadlines(store, query, replay)]
    return sorted(found, key=lambda r: (r["due_on"], r["case_id"], r["deadline"], str(r)))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    who=st.sampled_from(["employer", "case_manager"]),
    pick=st.integers(min_value=0, max_value=1000),
    days=st.integers(min_value=-400, max_value=60),
    status=st.none() | st.sampled_from(list(DeadlineStatus)),
    due_before_days=st.none() | st.integers(min_value=-300, max_value=300),
    became_overdue=st.booleans(),
    limit=st.integers(min_value=1, max_value=40),
    history=st.booleans(),
)
def test_the_view_equals_the_pure_rule_computation(
    population: Population,
    who: str,
    pick: int,
    days: int,
    status: DeadlineStatus | None,
    due_before_days: int | None,
    became_overdue: bool,
    limit: int,
    history: bool,
) -> None:
    ledger, store, cases = population
    column = "employer_id" if who == "employer" else "case_manager_id"
    ids = [
        r[column]
        for r in store.query(
            f"SELECT DISTINCT {column} FROM {{case_state}} "
            f"WHERE {column} IS NOT NULL ORDER BY {column}"
        )
    ]
    on = TODAY + timedelta(days=days)  # days < 0 reach back before many cases' last events
    query = DeadlineQuery(
        on=on,
        employer_id=ids[pick % len(ids)] if who == "employer" else None,
        case_manager_id=ids[pick % len(ids)] if who == "case_manager" else None,
        status=status,
        due_before=None if due_before_days is None else on + timedelta(days=due_before_days),
        became_overdue=became_overdue,
        history=history,
    )
    view = _view(ledger, store, query)
    assert view == _pure(cases, query)
    if query.running_only:  # issue 17: the work of running files only (missed asks history)
        begun = [c for c in cases if c.current.first_sick_day <= on]
        ended = {str(c.id) for c in begun if c.state(as_of=on).ended_on is not None}
        assert not ended & {row["case_id"] for row in view}
        assert all(row["file_ended_on"] is None for row in view)

    def replay(case_id: UUID, on: date) -> list[Any]:
        return case_deadlines(ledger.get_case(case_id).timeline(), on)

    # a page is the head of the whole list, however few rows the view's filter keeps
    whole = find_deadlines(store, query, replay)
    assert find_deadlines(store, replace(query, limit=limit), replay) == whole[:limit]


def test_the_view_has_rows_for_every_status(population: Population) -> None:
    """Guards the property test against a population too dull to tell anything."""
    _, store, _ = population
    seen = {
        row.deadline.status
        for employer in store.query("SELECT DISTINCT employer_id FROM {case_state}")
        for row in find_deadlines(
            store,
            DeadlineQuery(on=TODAY, employer_id=employer["employer_id"], history=True),
            lambda c, d: [],
        )
    }
    assert seen == set(DeadlineStatus)


D = date(2026, 9, 7)  # a Monday: week 1 ends Sunday 13 September, week 6 on 18 October


def _employer_case(case_id: str, employer: str, *events: dict[str, Any]) -> list[dict[str, Any]]:
    opening = report(case_id, D)
    opening["data"]["employer_id"] = employer
    return [opening, *events]


def _cli_rows(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert main(["deadlines", *argv, "--json"]) == 0
    rows: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    return rows


def test_employer_lists_by_status_due_before_and_newly_overdue(
    use_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    late, prompt = str(uuid4()), str(uuid4())
    lines = [
        *_employer_case(late, "ER-A"),
        *_employer_case(
            prompt,
            "ER-A",
            line(prompt, "ReportedToOccupationalPhysician", D + timedelta(days=1)),
            line(prompt, "ProblemAnalysisCompleted", D + timedelta(days=30)),
        ),
        *_employer_case(str(uuid4()), "ER-B"),
    ]
    assert import_via_cli(tmp_path, lines) == 0

    on = "2026-10-19"  # the day after week 6 ended
    overdue = _cli_rows(capsys, "--employer", "ER-A", "--status", "overdue", "--on", on)
    assert [(r["case_id"], r["deadline"]) for r in overdue] == [
        (late, "report_to_occupational_physician"),
        (late, "problem_analysis"),
    ]
    assert overdue[1]["days_late"] == 1
    assert {
        "case_id",
        "deadline",
        "due_on",
        "status",
        "done_on",
        "days_late",
        "rule",
        "rule_set",
    } <= set(overdue[0])

    newly = _cli_rows(capsys, "--employer", "ER-A", "--overdue-since-yesterday", "--on", on)
    assert [(r["case_id"], r["deadline"]) for r in newly] == [(late, "problem_analysis")]

    soon = _cli_rows(
        capsys, "--employer", "ER-A", "--due-before", "2026-10-19", "--on", "2026-09-20"
    )
    assert {r["deadline"] for r in soon} == {"report_to_occupational_physician", "problem_analysis"}
    assert all(r["due_on"] < "2026-10-19" for r in soon)
    assert [r["due_on"] for r in soon] == sorted(r["due_on"] for r in soon)

    other = _cli_rows(capsys, "--employer", "ER-B", "--on", on)
    assert other
    assert all(r["case_id"] not in (late, prompt) for r in other)


def test_case_manager_list_and_usage_errors(
    use_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = str(uuid4())
    manager = line(case, "CaseManagerAppointed", D + timedelta(days=2), case_manager_id="cm-42")
    assert import_via_cli(tmp_path, _employer_case(case, "ER-C", manager)) == 0
    rows = _cli_rows(capsys, "--case-manager", "cm-42", "--on", "2026-11-01")
    assert rows
    assert {r["case_id"] for r in rows} == {case}
    assert _cli_rows(capsys, "--case-manager", "cm-nobody") == []

    capsys.readouterr()
    assert main(["deadlines", "--employer", "ER-C", "--known-at", "2026-10-01T00:00:00Z"]) == 2
    assert "use it with --case" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["deadlines", "--employer", "ER-C", "--case-manager", "cm-42"])
    assert usage.value.code == 2


def test_limit_pages_the_deadlines_of_one_case_too(
    use_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = str(uuid4())
    assert import_via_cli(tmp_path, _employer_case(case, "ER-P")) == 0
    whole = _cli_rows(capsys, "--case", case, "--on", "2026-11-01")
    page = _cli_rows(capsys, "--case", case, "--on", "2026-11-01", "--limit", "2")
    assert len(whole) > 2
    assert page == sorted(whole, key=lambda row: row["due_on"])[:2]
