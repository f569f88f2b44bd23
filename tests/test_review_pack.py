"""The reviewer's pack (rules reference s4): a complete on-time case, and the same
case without its first-year evaluation, which the pack must name and nothing else."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from domain.sicktime import SickClock
from services.cli import main
from tests.factories import FIRST_DAY, import_via_cli, line, report

CLOCK = SickClock(FIRST_DAY, ())
ON = CLOCK.end_of_week(92)
PHYSICIAN = ("occupational_physician", "op-1")


def _case(case_id: str, *, first_year_evaluation: bool) -> list[dict[str, Any]]:
    def day(n: int) -> date:
        return FIRST_DAY + timedelta(days=n - 1)

    lines = [
        report(case_id, FIRST_DAY),
        line(case_id, "ReportedToOccupationalPhysician", day(3), actor=PHYSICIAN),
        line(case_id, "ProblemAnalysisCompleted", day(35), actor=PHYSICIAN),
        line(case_id, "PlanOfApproachAgreed", day(45), goal="own_work"),
        line(case_id, "UWVNotified", CLOCK.end_of_week(42)),
    ]
    evaluated = day(85)  # s1: the plan is evaluated at least every six weeks
    while evaluated <= ON:
        adjustment = "activities" if evaluated == day(85) else "none"
        lines.append(line(case_id, "PlanEvaluated", evaluated, adjustment=adjustment))
        evaluated += timedelta(days=40)
    if first_year_evaluation:
        lines.append(line(case_id, "FirstYearEvaluationCompleted", CLOCK.end_of_week(50),
                          second_track_needed=False, no_second_track_reason="other"))  # fmt: skip
    lines += [
        line(
            case_id,
            "WorkPartiallyResumed",
            CLOCK.end_of_week(85),
            actor=PHYSICIAN,
            incapacity_percent=50,
        ),
        # s4: the final evaluation comes with the physician's current opinion (issue 17)
        line(case_id, "CurrentOpinionIssued", CLOCK.end_of_week(89), actor=PHYSICIAN),
        line(case_id, "FinalEvaluationCompleted", CLOCK.end_of_week(90)),
    ]
    return lines


def _pack(tmp_path: Path, lines: list[dict[str, Any]], case_id: str) -> tuple[Any, str]:
    assert import_via_cli(tmp_path, lines) == 0
    assert main(["checkpoint"]) == 0
    out = tmp_path / f"pack-{case_id[:8]}"
    assert main(["review-pack", "--case", case_id, "--out", str(out), "--on", ON.isoformat()]) == 0
    return json.loads((out / "review-pack.json").read_text()), (
        out / "review-pack.html"
    ).read_text()


def test_a_complete_case_on_time(use_database: str, tmp_path: Path) -> None:
    case_id = str(uuid4())
    pack, html = _pack(tmp_path, _case(case_id, first_year_evaluation=True), case_id)
    review = pack["review"]
    assert review["documents_complete"] is True
    assert review["missing_documents"] == []
    by_name = {d["document"]: d for d in review["documents"]}
    for name in (
        "problem_analysis",
        "plan_of_approach",
        "first_year_evaluation",
        "final_evaluation",
    ):
        assert by_name[name]["present"], name
        assert by_name[name]["on_time"], name
    assert by_name["current_occupational_physician_opinion"]["note"] == "current"
    assert by_name["evaluations_and_adjustments"]["present"]
    assert "1 adjusting the plan" in by_name["evaluations_and_adjustments"]["note"]
    assert pack["proof"]["events"]
    assert "All required documents are present." in html


def test_a_missing_first_year_evaluation_is_named_exactly(
    use_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case_id = str(uuid4())
    pack, html = _pack(tmp_path, _case(case_id, first_year_evaluation=False), case_id)
    review = pack["review"]
    assert review["documents_complete"] is False
    assert review["missing_documents"] == ["first_year_evaluation"]
    (check,) = [d for d in review["documents"] if d["document"] == "first_year_evaluation"]
    assert check["note"] == f"MISSING: was due {CLOCK.end_of_week(52).isoformat()}"
    assert "Missing: first year evaluation." in html  # in words (issue 21)
    assert "missing documents: first_year_evaluation" in capsys.readouterr().out


def test_missing_evaluations_and_a_past_day_are_reported(use_database: str, tmp_path: Path) -> None:
    """Review findings: an evaluation cycle left out is a missing document; a pack as of
    an earlier day counts only what the file held then."""
    case_id = str(uuid4())
    lines = [x for x in _case(case_id, first_year_evaluation=True)
             if x["type"] != "PlanEvaluated" or x["occurred_on"] < "2024-06-01"]  # fmt: skip
    pack, _ = _pack(tmp_path, lines, case_id)
    assert "evaluations_and_adjustments" in pack["review"]["missing_documents"]
    week_30 = CLOCK.end_of_week(30).isoformat()
    out = tmp_path / "early"
    assert main(["review-pack", "--case", case_id, "--out", str(out), "--on", week_30]) == 0
    early = json.loads((out / "review-pack.json").read_text())["review"]
    by_name = {d["document"]: d for d in early["documents"]}
    assert by_name["first_year_evaluation"]["present"] is False
    assert by_name["first_year_evaluation"]["note"] == "not yet due"
    assert by_name["final_evaluation"]["present"] is False
