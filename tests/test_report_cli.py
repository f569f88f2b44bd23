"""The command line reports sickness and records events through the same use cases as the
API (issue 18): samentelling included (art. 7:629 lid 10 BW, rules reference s2)."""

from __future__ import annotations

import json

import pytest

from services.cli import main

REPORT = ["report", "--employee", "EMP-CLI", "--employer", "ER-CLI", "--json"]


def _json(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    value: dict[str, object] = json.loads(capsys.readouterr().out)
    return value


def test_report_record_and_report_again_within_28_days_continues_the_case(
    use_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*REPORT, "--first-sick-day", "2026-09-07", "--safety-net"]) == 0
    opened = _json(capsys)
    assert (opened["created"], opened["continued"]) == (True, False)
    case = str(opened["case_id"])
    assert main(["record", case, "RecoveryReported", "--on", "2026-10-05", "--json"]) == 0
    assert _json(capsys)["version"] == 2
    assert main([*REPORT, "--first-sick-day", "2026-10-20"]) == 0  # 15 days after recovery
    again = _json(capsys)
    assert (again["case_id"], again["continued"], again["created"]) == (case, True, False)
    assert "samentelling" in str(again["message"])
    assert main(["case", case, "--json"]) == 0
    state = _json(capsys)["state"]
    assert isinstance(state, dict)
    assert (state["status"], state["safety_net"]) == ("open", True)


def test_a_report_with_the_same_event_id_appends_nothing(
    use_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    event_id = "7c4e9d1a-2b3f-4e5a-8c6d-9e0f1a2b3c4d"
    args = [*REPORT, "--first-sick-day", "2026-09-07", "--event-id", event_id]
    assert main(args) == 0
    first = _json(capsys)
    assert main(args) == 0
    assert _json(capsys) | {"message": ""} == first | {"created": False, "message": ""}


def test_a_refused_record_says_the_field_and_rule_and_stores_nothing(
    use_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*REPORT, "--first-sick-day", "2026-09-07"]) == 0
    case = str(_json(capsys)["case_id"])
    assert main(["record", case, "SicknessResumed", "--on", "2026-09-20"]) == 1
    err = capsys.readouterr().err
    assert "relapse_requires_recovery" in err
    assert main(["record", case, "PlanOfApproachAgreed", "--on", "2026-09-20",
                 "--data", '{"goal": "no such goal"}']) == 2  # fmt: skip
    assert "data.goal" in capsys.readouterr().err
    assert main(["case", case, "--json"]) == 0
    assert _json(capsys)["version"] == 1
