"""Unit tests of the pure domain: sick-time arithmetic, bitemporal timelines, the simulator."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from domain.case import Case, record_fact
from domain.events import CATALOGUE
from domain.interchange import event_fields, json_schema, parse_line
from domain.sicktime import Gap, SickClock
from domain.state import CaseStatus
from services.tools.simulate import simulate
from tests.factories import build_case, jsonl, line, report

D = date(2025, 3, 3)


def test_week_n_ends_on_first_sick_day_plus_7n_minus_1() -> None:
    """poortwachter.md, Week arithmetic: "in week N" means on or before day 7N."""
    clock = SickClock(D)
    assert clock.end_of_week(1) == D + timedelta(days=6)
    assert clock.end_of_week(6) == D + timedelta(days=41)
    assert clock.end_of_waiting_time() == D + timedelta(days=727)


def test_a_gap_moves_every_later_week_by_its_length() -> None:
    """Samentelling (art. 7:629 lid 10 BW): the recovered days do not count."""
    clock = SickClock(D, (Gap(D + timedelta(days=20), D + timedelta(days=30)),))
    assert clock.end_of_week(2) == D + timedelta(days=13)  # before the gap: unchanged
    assert clock.end_of_week(6) == D + timedelta(days=41 + 10)
    assert clock.counted_sick_days(D + timedelta(days=40)) == 41 - 10


def test_sanction_limit_is_52_weeks_after_the_extended_end() -> None:
    clock = SickClock(D)
    assert clock.latest_sanction_end(4) == D + timedelta(days=727 + 28 + 364)


def _case(lines: list[dict[str, Any]]) -> Case:
    return build_case(lines)


def _at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def test_state_as_of_and_known_at_apply_only_corrections_known_then() -> None:
    """What did the file say on 1 March, as known on 1 April, before the correction of 12 April?"""
    cid = uuid4()
    recovery = line(cid, "RecoveryReported", date(2025, 2, 20), recorded_at=_at(date(2025, 3, 20)))
    case = _case(
        [
            report(cid, date(2025, 1, 6)),
            recovery,
            line(
                cid,
                "EventCorrected",
                date(2025, 4, 12),
                recorded_at=_at(date(2025, 4, 12)),
                corrects=recovery["event_id"],
                reason="fit only from March",
                corrected_occurred_on=date(2025, 3, 10),
            ),
        ]
    )
    march_1 = date(2025, 3, 1)
    assert case.state(as_of=march_1, known_at=_at(date(2025, 3, 1))).status is CaseStatus.OPEN
    assert case.state(as_of=march_1, known_at=_at(date(2025, 4, 1))).status is CaseStatus.RECOVERED
    assert case.state(as_of=march_1).status is CaseStatus.OPEN  # after the correction
    assert case.state().recovered_on == date(2025, 3, 10)


def test_a_retraction_removes_the_fact_and_a_retracted_correction_is_void() -> None:
    cid = uuid4()
    analysis = line(cid, "ProblemAnalysisCompleted", D + timedelta(days=30))
    correction = line(
        cid,
        "EventCorrected",
        D + timedelta(days=31),
        corrects=analysis["event_id"],
        reason="x",
        corrected_occurred_on=D + timedelta(days=20),
    )
    case = _case(
        [
            report(cid, D),
            analysis,
            correction,
            line(
                cid,
                "EventRetracted",
                D + timedelta(days=32),
                retracts=correction["event_id"],
                reason="correction was wrong",
            ),
        ]
    )
    assert case.state().milestones["ProblemAnalysisCompleted"] == (D + timedelta(days=30),)
    case2 = _case(
        [
            report(cid, D),
            analysis,
            line(
                cid,
                "EventRetracted",
                D + timedelta(days=32),
                retracts=analysis["event_id"],
                reason="never happened",
            ),
        ]
    )
    assert "ProblemAnalysisCompleted" not in case2.state().milestones


def test_simulated_population_keeps_every_rule() -> None:
    lines = list(simulate(400, seed=11, today=date(2026, 11, 1)))
    cases: dict[object, Case | None] = {}
    for item in lines:  # record_fact raises RuleViolation on any broken rule
        parsed = parse_line(json.dumps(item))
        cases[parsed.case_id] = record_fact(
            cases.get(parsed.case_id),
            parsed.case_id,
            CATALOGUE[parsed.type],
            **event_fields(parsed),
        )
    assert len(cases) == 400
    assert {item["type"] for item in lines} >= {
        "SecondTrackPlacement",
        "SicknessResumed",
        "WageSanctionImposed",
        "EventCorrected",
    }
    assert (
        list(simulate(50, seed=11, today=date(2026, 11, 1)))
        == lines[: len(list(simulate(50, seed=11, today=date(2026, 11, 1))))]
    )


def test_published_schema_is_up_to_date() -> None:
    published = Path(__file__).parent.parent / "schemas" / "interchange-event.json"
    assert json.loads(published.read_text()) == json.loads(json.dumps(json_schema())), (
        "run `make schema` to regenerate schemas/interchange-event.json"
    )


def test_schema_rejects_free_text_in_references() -> None:
    item = report(uuid4(), D)
    item["data"]["employee_id"] = "Jan Jansen, hernia"
    with pytest.raises(ValueError, match=r"data\.employee_id"):
        parse_line(jsonl([item]))
