"""A dispute replayed through the CLI: "was the problem analysis late on 20 February,
as the file stood on 1 April, before the correction of 12 April?"

Rules reference s1: the problem analysis (*probleemanalyse*) is due at the end of
week 6; s7 (corrections): a mistake is corrected by a new event naming the event
it corrects, and a replay as known at a time applies only corrections known then.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest

from services.cli import main
from tests.factories import import_via_cli, line, report

UTC = ZoneInfo("UTC")
FIRST_SICK_DAY = date(2026, 1, 5)  # a Monday; week 6 ends on Sunday 15 February
WEEK_6_ENDS = date(2026, 2, 15)
DISPUTED_DAY = "2026-02-20"
BEFORE_RECORDING = "2026-02-20T18:00:00+00:00"
BEFORE_CORRECTION = "2026-04-01T00:00:00+02:00"
AFTER_CORRECTION = "2026-04-13T00:00:00+02:00"


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _scenario(case_id: str) -> list[dict[str, Any]]:
    analysis = line(
        case_id,
        "ProblemAnalysisCompleted",
        date(2026, 2, 13),  # back-dated: claims to be on time
        actor=("occupational_physician", "op-7"),
        recorded_at=_at("2026-03-02T10:00:00+01:00"),  # recorded two weeks after the deadline
        prognosis="unclear",
    )
    correction = line(
        case_id,
        "EventCorrected",
        date(2026, 4, 12),
        actor=("occupational_physician", "op-7"),
        recorded_at=_at("2026-04-12T09:30:00+02:00"),
        corrects=analysis["event_id"],
        reason="the physician's records show the analysis was completed on 27 February",
        corrected_occurred_on=date(2026, 2, 27),
    )
    return [
        report(case_id, FIRST_SICK_DAY),
        line(case_id, "ReportedToOccupationalPhysician", date(2026, 1, 7)),
        analysis,
        line(
            case_id,
            "PlanOfApproachAgreed",
            date(2026, 3, 1),
            recorded_at=_at("2026-03-03T12:00:00+01:00"),
            goal="own_work",
        ),
        correction,
    ]


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def _deadline(rows: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (row,) = [row for row in rows if row["deadline"] == name]
    return row


@pytest.fixture(params=["replay", "event index"])
def disputed_case(request: pytest.FixtureRequest, use_database: str, tmp_path: Path) -> str:
    case_id = str(uuid4())
    assert import_via_cli(tmp_path, _scenario(case_id)) == 0
    if request.param == "event index":  # --known-at then reads only the versions known
        assert main(["project", "--quiet"]) == 0
    return case_id


def test_the_deadline_as_known_before_and_after_the_correction(
    disputed_case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    def analysis_on_disputed_day(known_at: str) -> dict[str, Any]:
        rows = _json(
            capsys, "deadlines", "--case", disputed_case, "--on", DISPUTED_DAY,
            "--known-at", known_at, "--json",
        )  # fmt: skip
        return _deadline(rows, "problem_analysis")

    nothing_recorded = analysis_on_disputed_day(BEFORE_RECORDING)
    assert nothing_recorded["status"] == "overdue"
    assert nothing_recorded["days_late"] == (date(2026, 2, 20) - WEEK_6_ENDS).days == 5

    back_dated = analysis_on_disputed_day(BEFORE_CORRECTION)
    assert back_dated["status"] == "done"
    assert back_dated["done_on"] == "2026-02-13"

    corrected = analysis_on_disputed_day(AFTER_CORRECTION)
    assert corrected == nothing_recorded

    today = _json(capsys, "deadlines", "--case", disputed_case, "--json")
    late = _deadline(today, "problem_analysis")
    assert (late["status"], late["done_on"], late["days_late"]) == ("done_late", "2026-02-27", 12)
    assert late["rule"].startswith("poortwachter.md s1")


def test_the_state_as_known_before_and_after_the_correction(
    disputed_case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    def state(known_at: str) -> dict[str, Any]:
        view = _json(
            capsys, "case", disputed_case, "--as-of", DISPUTED_DAY, "--known-at", known_at, "--json"
        )
        return dict(view["state"], events=[e["type"] for e in view["events"]])

    before, after = state(BEFORE_CORRECTION), state(AFTER_CORRECTION)
    assert before["phase"] == "problem_analysis"
    assert before["events"][-1] == "ProblemAnalysisCompleted"
    assert after["phase"] == "reported"
    assert "ProblemAnalysisCompleted" not in after["events"]
    differing = {key for key in before if before[key] != after[key]}
    assert differing == {"phase", "last_event_type", "last_event_on", "event_count", "events"}


def test_the_diff_names_exactly_what_the_correction_changed(
    disputed_case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    diff = _json(
        capsys, "case", disputed_case, "--as-of", DISPUTED_DAY,
        "--diff-known-at", BEFORE_CORRECTION, AFTER_CORRECTION, "--json",
    )  # fmt: skip
    assert [e["type"] for e in diff["recorded_between"]] == ["EventCorrected"]
    assert diff["state"]["phase"] == {"before": "problem_analysis", "after": "reported"}
    changed = {row["deadline"]: row for row in diff["deadlines"]}
    assert set(changed) == {"problem_analysis", "plan_of_approach"}
    analysis, plan = changed["problem_analysis"], changed["plan_of_approach"]
    assert (analysis["before"]["status"], analysis["after"]["status"]) == ("done", "overdue")
    # s1: the plan is due at week 8 and at most 2 weeks after the analysis, so the
    # back-dated analysis had pulled the plan's due date forward from 1 March.
    assert (plan["before"]["due_on"], plan["after"]["due_on"]) == ("2026-02-27", "2026-03-01")
    assert plan["before"]["status"] == plan["after"]["status"] == "open"

    capsys.readouterr()
    assert main(["case", disputed_case, "--as-of", DISPUTED_DAY,
                 "--diff-known-at", BEFORE_CORRECTION, AFTER_CORRECTION]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "phase: problem_analysis -> reported" in text
    assert "problem_analysis (round 1): done (due 2026-02-15, done 2026-02-13) -> overdue" in text


def test_the_timeline_marks_the_corrected_event_and_what_replaced_it(
    disputed_case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _json(capsys, "case", disputed_case, "--timeline", "--json")
    by_type = {row["type"]: row for row in rows}
    analysis, correction = by_type["ProblemAnalysisCompleted"], by_type["EventCorrected"]
    assert analysis["status"] == "corrected"
    assert analysis["corrected_by"] == [correction["event_id"]]
    assert (analysis["occurred_on"], analysis["effective_on"]) == ("2026-02-13", "2026-02-27")
    assert correction["corrects"] == analysis["event_id"]
    assert [row["effective_on"] for row in rows] == sorted(row["effective_on"] for row in rows)

    as_first_known = _json(
        capsys, "case", disputed_case, "--timeline", "--known-at", BEFORE_CORRECTION, "--json"
    )
    assert "EventCorrected" not in [row["type"] for row in as_first_known]
    assert {row["status"] for row in as_first_known} == {"effective"}

    capsys.readouterr()
    assert main(["case", disputed_case, "--timeline"]) == 0
    text = capsys.readouterr().out
    assert "CORRECTED by v5; recorded as 2026-02-13" in text


def test_a_case_not_yet_known_at_a_time_says_so(
    disputed_case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    code = main(["case", disputed_case, "--known-at", "2025-12-31T00:00:00+01:00"])
    assert code == 3
    assert "had no events recorded by" in capsys.readouterr().err


def test_with_a_current_event_index_only_the_versions_known_are_read(
    use_database: str, tmp_path: Path
) -> None:
    from uuid import UUID

    from services.application.case_views import case_as_known
    from services.application.ledger import Ledger
    from services.schema import side_store as read_models

    case_id = str(uuid4())
    assert import_via_cli(tmp_path, _scenario(case_id)) == 0
    known_at = datetime.fromisoformat(BEFORE_CORRECTION)
    with Ledger(use_database) as ledger, read_models(use_database) as index:
        assert case_as_known(ledger, UUID(case_id), known_at, index).version == 5  # index empty
        assert main(["project", "--quiet", "--only", "event_index"]) == 0
        assert case_as_known(ledger, UUID(case_id), known_at, index).version == 4
        assert case_as_known(ledger, UUID(case_id), None, index).version == 5


def test_a_day_before_the_case_began_says_so(
    disputed_case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["case", disputed_case, "--as-of", "2025-12-31"]) == 3
    assert "had not begun on 2025-12-31" in capsys.readouterr().err
