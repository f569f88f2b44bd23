"""Events stored or exported in an older shape are read in the current one.

``PlanEvaluated`` is at ``class_version`` 2: version 1 said only whether the plan
was adjusted (``adjusted: bool``); version 2 says what (``adjustment``).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from domain import events as ev
from domain.interchange import parse_line, to_line
from services.application.ledger import Ledger
from services.cli import main
from tests.factories import import_via_cli, line, report

D = date(2025, 2, 3)


def _case_with_plan(case_id: str) -> list[dict[str, object]]:
    return [
        report(case_id, D),
        line(case_id, "PlanOfApproachAgreed", D + timedelta(days=40), goal="own_work"),
    ]


def _v1_state(goal: str | None, adjusted: bool) -> bytes:
    """The stored JSON of a version-1 PlanEvaluated, as the ledger wrote it before v2."""
    state = {
        "timestamp": "2025-04-30T10:00:00+00:00",
        "event_id": str(uuid4()),
        "occurred_on": "2025-04-30",
        "actor": {"role": "case_manager", "id": "cm-1"},
        "adjusted": adjusted,
        "goal": goal,
    }
    return json.dumps(state).encode()


@pytest.mark.parametrize(
    ("goal", "adjusted", "expected"),
    [
        (None, False, ev.PlanAdjustment.NONE),
        (None, True, ev.PlanAdjustment.ACTIVITIES),
        ("adapted_own_work", True, ev.PlanAdjustment.GOAL),
    ],
)
def test_a_stored_version_1_event_loads_as_version_2(
    ledger: Ledger, tmp_path: Path, goal: str | None, adjusted: bool, expected: str
) -> None:
    case_id = str(uuid4())
    for item in _case_with_plan(case_id):
        ledger.append(parse_line(json.dumps(item)))
    case = ledger.get_case(UUID(case_id))
    old = StoredEvent(
        originator_id=case.id,
        originator_version=case.version + 1,
        topic=get_topic(ev.PlanEvaluated),
        state=_v1_state(goal, adjusted),
    )
    ledger.recorder.insert_events([old])

    loaded = ledger.get_case(case.id)
    evaluation = loaded.history[-1]
    assert isinstance(evaluation, ev.PlanEvaluated)
    assert evaluation.adjustment is expected
    assert to_line(evaluation)["class_version"] == 2
    assert "adjusted" not in to_line(evaluation)["data"]


def test_an_exported_version_1_line_still_imports(
    use_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case_id = str(uuid4())
    old_line = line(case_id, "PlanEvaluated", D + timedelta(days=80), adjusted=True)
    assert "class_version" not in old_line
    assert import_via_cli(tmp_path, [*_case_with_plan(case_id), old_line]) == 0
    capsys.readouterr()
    assert main(["export"]) == 0
    exported = [json.loads(text) for text in capsys.readouterr().out.splitlines()]
    assert exported[-1]["class_version"] == 2
    assert exported[-1]["data"] == {"adjustment": "activities", "goal": None}


def test_a_line_in_the_current_shape_is_not_changed_by_the_upcaster() -> None:
    item = line(uuid4(), "PlanEvaluated", D, adjustment="goal", goal="own_work")
    parsed = parse_line(json.dumps(item))
    assert parsed.data.model_dump() == {"adjustment": "goal", "goal": "own_work"}


@pytest.mark.parametrize(("version", "message"), [(0, "greater than or equal to 1"), (3, "newer")])
def test_a_line_with_an_impossible_version_is_refused_naming_the_field(
    version: int, message: str
) -> None:
    item = line(uuid4(), "PlanEvaluated", D, adjusted=True)
    item["class_version"] = version
    with pytest.raises(ValueError, match="class_version") as refused:
        parse_line(json.dumps(item))
    assert message in str(refused.value)


def test_the_old_boolean_is_read_as_pydantic_reads_booleans() -> None:
    item = line(uuid4(), "PlanEvaluated", D, adjusted="false")
    assert parse_line(json.dumps(item)).data.model_dump()["adjustment"] == "none"


def test_a_version_beyond_the_class_is_refused_for_every_type() -> None:
    item = line(uuid4(), "UWVNotified", D)
    item["class_version"] = 7
    with pytest.raises(ValueError, match="newer than this ledger reads"):
        parse_line(json.dumps(item))


def test_a_stored_version_1_sickness_report_loads_without_a_subject(ledger: Ledger) -> None:
    """``SicknessReported`` v2 added ``subject_id`` (issue 9). A report stored before it
    (plain employee id, no class_version) still reads: no subject, the id as stored."""
    case_id = uuid4()
    state = {
        "timestamp": "2025-02-03T09:00:00+00:00",
        "originator_topic": "domain.case:Case",
        "event_id": str(uuid4()),
        "occurred_on": D.isoformat(),
        "actor": {"role": "employer", "id": "ER1"},
        "employee_id": "EMP-OLD",
        "employer_id": "ER1",
        "first_sick_day": D.isoformat(),
    }
    old = StoredEvent(
        originator_id=case_id,
        originator_version=1,
        topic=get_topic(ev.SicknessReported),
        state=json.dumps(state).encode(),
    )
    ledger.recorder.insert_events([old])
    report_ = ledger.get_case(case_id).history[0]
    assert isinstance(report_, ev.SicknessReported)
    assert (report_.employee_id, report_.subject_id) == ("EMP-OLD", None)
    assert to_line(report_)["class_version"] == 2
    assert "subject_id" not in to_line(report_)["data"]  # never interchange data
