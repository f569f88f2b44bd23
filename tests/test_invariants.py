"""Table-driven tests of the case invariants (issue 2), each citing its rule.

Every row is run through ``Ledger.append`` on SQLite and on PostgreSQL: the
setup events are accepted, the last one is refused with the named rule, and
the refused event is not stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from uuid import uuid4

import pytest

from domain.interchange import parse_line
from domain.rules import RULES, RuleViolation
from domain.sicktime import SickClock
from services.application.ledger import Ledger
from tests.factories import jsonl, line, report

D = date(2025, 3, 3)  # a Monday
NORMAL_END = SickClock(D).end_of_waiting_time()


def days(n: int) -> date:
    return D + timedelta(days=n)


@dataclass(frozen=True)
class Row:
    rule: str
    source: str
    setup: list[tuple[str, int, dict[str, Any]]]
    offending: tuple[str, int, dict[str, Any]]


ROWS = [
    Row(
        "event_not_before_first_sick_day",
        "poortwachter.md, Week arithmetic",
        [],
        ("ProblemAnalysisCompleted", -1, {}),
    ),
    Row(
        "event_not_before_first_sick_day",
        "poortwachter.md, Week arithmetic: back-dated plan",
        [("ProblemAnalysisCompleted", 30, {})],
        ("PlanOfApproachAgreed", -3, {"goal": "own_work"}),
    ),
    Row(
        "placement_requires_second_track_start",
        "poortwachter.md section 1 (start 2e spoor)",
        [],
        ("SecondTrackPlacement", 400, {"new_employer_id": "ER9"}),
    ),
    Row(
        "placement_requires_second_track_start",
        "placement dated before the start",
        [("SecondTrackStarted", 380, {})],
        ("SecondTrackPlacement", 370, {"new_employer_id": "ER9"}),
    ),
    Row(
        "closed_case_accepts_only_corrections",
        "issue 2; DEVELOPERS.md events are facts",
        [("RecoveryReported", 10, {}), ("CaseClosed", 11, {"outcome": "recovered"})],
        ("PlanEvaluated", 9, {}),
    ),
    Row(
        "relapse_within_28_days",
        "art. 7:629 lid 10 BW; poortwachter.md section 2",
        [("RecoveryReported", 20, {})],
        ("SicknessResumed", 48, {}),
    ),
    Row(
        "relapse_requires_recovery",
        "poortwachter.md section 2 (samentelling)",
        [],
        ("SicknessResumed", 5, {}),
    ),
    Row(
        "recovery_requires_sickness",
        "poortwachter.md section 2 (hersteldmelding)",
        [("RecoveryReported", 20, {})],
        ("RecoveryReported", 22, {}),
    ),
    Row(
        "sanction_at_most_52_weeks",
        "art. 25 lid 9 WIA; poortwachter.md section 3",
        [],
        (
            "WageSanctionImposed",
            600,
            {"kind": "substantive", "ends_on": NORMAL_END + timedelta(weeks=52, days=1)},
        ),
    ),
    Row(
        "shortening_requires_sanction",
        "art. 25 lid 12-15 WIA; poortwachter.md section 3",
        [],
        ("WageSanctionShortened", 600, {"ends_on": NORMAL_END + timedelta(weeks=4)}),
    ),
    Row(
        "one_sickness_report_per_case",
        "poortwachter.md section 2 (samentelling)",
        [],
        (
            "SicknessReported",
            3,
            {"employee_id": "EMP1", "employer_id": "ER1", "first_sick_day": days(3)},
        ),
    ),
    Row(
        "correction_names_event_of_same_case",
        "issue 2: a correction names an event of its case",
        [],
        (
            "EventCorrected",
            5,
            {"corrects": str(uuid4()), "reason": "typo", "corrected_occurred_on": days(1)},
        ),
    ),
    Row(
        "correction_names_event_of_same_case",
        "retraction of an unknown event",
        [],
        ("EventRetracted", 5, {"retracts": str(uuid4()), "reason": "typo"}),
    ),
]


def _line(case_id: str, spec: tuple[str, int, dict[str, Any]]) -> dict[str, Any]:
    type_, offset, data = spec
    return line(case_id, type_, days(offset), **data)


def _version(ledger: Ledger, case_id: str) -> int:
    case = ledger.find_case(parse_line(jsonl([report(case_id, D)]).strip()).case_id)
    assert case is not None
    return case.version


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.rule}:{r.source[:30]}" for r in ROWS])
def test_invariant_refuses_event_and_stores_nothing(ledger: Ledger, row: Row) -> None:
    case_id = str(uuid4())
    for spec in [report(case_id, D)] + [_line(case_id, s) for s in row.setup]:
        ledger.append(parse_line(jsonl([spec]).strip()))
    before = _version(ledger, case_id)
    offending = _line(case_id, row.offending)
    with pytest.raises(RuleViolation) as refused:
        ledger.append(parse_line(jsonl([offending]).strip()))
    assert refused.value.rule.name == row.rule
    assert _version(ledger, case_id) == before
    case = ledger.get_case(parse_line(jsonl([offending]).strip()).case_id)
    assert offending["event_id"] not in {str(e) for e in case.events_by_id}


def test_correction_must_name_an_event_of_the_same_case(ledger: Ledger) -> None:
    """A correction naming an event of *another* case is refused (issue 2)."""
    other, case_id = str(uuid4()), str(uuid4())
    other_report = report(other, D)
    ledger.append(parse_line(jsonl([other_report]).strip()))
    ledger.append(parse_line(jsonl([report(case_id, D)]).strip()))
    correction = line(
        case_id,
        "EventCorrected",
        days(2),
        corrects=other_report["event_id"],
        reason="wrong case",
        corrected_occurred_on=days(1),
    )
    with pytest.raises(RuleViolation) as refused:
        ledger.append(parse_line(jsonl([correction]).strip()))
    assert refused.value.rule.name == "correction_names_event_of_same_case"


def test_first_event_of_an_unknown_case_must_be_the_sickness_report(ledger: Ledger) -> None:
    with pytest.raises(RuleViolation) as refused:
        ledger.append(parse_line(jsonl([line(str(uuid4()), "UWVNotified", D)]).strip()))
    assert refused.value.rule.name == "case_opens_with_sickness_report"


ACCEPTED = [
    (
        "relapse 27 days after recovery continues the case (art. 7:629 lid 10 BW)",
        [("RecoveryReported", 20, {})],
        ("SicknessResumed", 47, {}),
    ),
    (
        "a sanction of exactly 52 weeks (art. 25 lid 9 WIA)",
        [],
        (
            "WageSanctionImposed",
            600,
            {"kind": "administrative", "ends_on": NORMAL_END + timedelta(weeks=52)},
        ),
    ),
    (
        "corrections are accepted after CaseClosed",
        [
            ("ProblemAnalysisCompleted", 30, {}),
            ("RecoveryReported", 40, {}),
            ("CaseClosed", 41, {"outcome": "recovered"}),
        ],
        None,
    ),
    (
        "placement on the day the second track starts",
        [("SecondTrackStarted", 380, {})],
        ("SecondTrackPlacement", 380, {"new_employer_id": "ER9"}),
    ),
]


@pytest.mark.parametrize(
    ("title", "setup", "accepted"), ACCEPTED, ids=[a[0][:40] for a in ACCEPTED]
)
def test_rule_boundaries_are_accepted(
    ledger: Ledger,
    title: str,
    setup: list[tuple[str, int, dict[str, Any]]],
    accepted: tuple[str, int, dict[str, Any]] | None,
) -> None:
    case_id = str(uuid4())
    lines = [report(case_id, D)] + [_line(case_id, s) for s in setup]
    if accepted is None:  # a correction of the first setup event, after closing
        lines.append(
            line(
                case_id,
                "EventCorrected",
                days(50),
                corrects=lines[1]["event_id"],
                reason="wrong date",
                corrected_occurred_on=days(29),
            )
        )
    else:
        lines.append(_line(case_id, accepted))
    for item in lines:
        assert not ledger.append(parse_line(jsonl([item]).strip())).duplicate
    assert _version(ledger, case_id) == len(lines)


def test_every_rule_names_its_source() -> None:
    assert all(rule.source and rule.text for rule in RULES)
    assert len({rule.name for rule in RULES}) == len(RULES)
