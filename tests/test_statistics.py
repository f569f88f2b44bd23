"""Outcome statistics (issue 6), checked against a population built to match
Panteia 2016 (poortwachter.md s6: 20/17/24/39 %, n = 408 -> 82/69/98/159)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any
from uuid import uuid4

import pytest

from domain.outcomes import SecondTrackOutcome, outcome_history, outcome_on, trajectory_outcome
from infra.readmodel import ReadModelStore
from projections.catalogue import all_projections
from projections.reports import deadline_report, sanction_report, second_track_report
from projections.runner import ReadModelRunner
from services.application.importer import import_lines, numbered
from services.application.ledger import Ledger
from services.schema import side_store as read_models
from tests.factories import line, report

ON = date(2026, 11, 1)
FIRST = date(2024, 1, 8)
PROVIDERS = ("prov-alfa", "prov-beta", "prov-gamma")
Path_ = Callable[[str, date, random.Random], list[dict[str, Any]]]


def _at(start: date, days: int) -> date:
    return start + timedelta(days=days)


# Each path: the events after SecondTrackStarted on ``s`` (a date), for case ``c``.
def placed_then_left(c: str, s: date, rng: random.Random) -> list[dict[str, Any]]:
    placed = _at(s, rng.randint(30, 200))
    return [
        line(c, "SecondTrackPlacement", placed, new_employer_id="ER-NEW", provider_id="prov-alfa"),
        line(c, "SecondTrackEnded", placed, reason="placement"),
        line(c, "EmploymentEnded", _at(placed, 1), reason="resignation"),
        line(c, "CaseClosed", _at(placed, 2), outcome="placed_other_employer"),
    ]


def placed_still_open(c: str, s: date, rng: random.Random) -> list[dict[str, Any]]:
    return [line(c, "SecondTrackPlacement", _at(s, 90), new_employer_id="ER-NEW")]


def placed_after_late_correction(c: str, s: date, rng: random.Random) -> list[dict[str, Any]]:
    """A placement recorded with the wrong date, corrected months later: still placed."""
    placement = line(c, "SecondTrackPlacement", _at(s, 120), new_employer_id="ER-NEW")
    fix = line(c, "EventCorrected", _at(s, 300), corrects=placement["event_id"],
               reason="date from the contract", corrected_occurred_on=_at(s, 100))  # fmt: skip
    return [placement, fix]


def back_via_second_track_end(c: str, s: date, rng: random.Random) -> list[dict[str, Any]]:
    return [line(c, "SecondTrackEnded", _at(s, 60), reason="return_to_own_employer")]


def back_recovered(c: str, s: date, rng: random.Random) -> list[dict[str, Any]]:
    recovered = _at(s, rng.randint(20, 150))
    return [
        line(c, "RecoveryReported", recovered),
        line(c, "CaseClosed", _at(recovered, 1), outcome="returned_own_work"),
    ]


def back_after_retracted_placement(c: str, s: date, rng: random.Random) -> list[dict[str, Any]]:
    """A placement recorded on the wrong case and retracted: the return counts."""
    wrong = line(c, "SecondTrackPlacement", _at(s, 40), new_employer_id="ER-NEW")
    return [
        wrong,
        line(c, "EventRetracted", _at(s, 200), retracts=wrong["event_id"], reason="wrong case"),
        line(c, "CaseClosed", _at(s, 210), outcome="returned_adapted_work"),
    ]


def running(c: str, s: date, rng: random.Random) -> list[dict[str, Any]]:
    return []


def running_part_time(c: str, s: date, rng: random.Random) -> list[dict[str, Any]]:
    return [line(c, "WorkPartiallyResumed", _at(s, 30), actor=("occupational_physician", "op-1"),
                 incapacity_percent=50)]  # fmt: skip


def running_after_retracted_dismissal(c: str, s: date, rng: random.Random) -> list[dict[str, Any]]:
    ended = line(c, "EmploymentEnded", _at(s, 50), reason="dismissal")
    return [ended, line(c, "EventRetracted", _at(s, 80), retracts=ended["event_id"],
                        reason="dismissal withdrawn")]  # fmt: skip


def out_dismissed(c: str, s: date, rng: random.Random) -> list[dict[str, Any]]:
    return [line(c, "EmploymentEnded", _at(s, 100), reason="dismissal")]


def out_no_prospect(c: str, s: date, rng: random.Random) -> list[dict[str, Any]]:
    return [line(c, "SecondTrackEnded", _at(s, 150), reason="no_prospect")]


def out_sick_out_of_service(c: str, s: date, rng: random.Random) -> list[dict[str, Any]]:
    end = _at(FIRST, 7 * 104)
    return [
        line(c, "WIADecided", _at(end, -20), actor=("uwv", "uwv"), outcome="wga"),
        line(c, "EmploymentEnded", end, reason="sick_out_of_service"),
        line(c, "CaseClosed", end, outcome="employment_ended"),
    ]


PATHS: dict[SecondTrackOutcome, list[Path_]] = {
    SecondTrackOutcome.PLACED_SECOND_TRACK: [
        placed_then_left, placed_still_open, placed_after_late_correction,
    ],
    SecondTrackOutcome.PLACED_ORIGINAL_EMPLOYER: [
        back_via_second_track_end, back_recovered, back_after_retracted_placement,
    ],
    SecondTrackOutcome.NO_RESULT_YET: [
        running, running_part_time, running_after_retracted_dismissal,
    ],
    SecondTrackOutcome.OUT_OF_SERVICE_OR_OTHER: [
        out_dismissed, out_no_prospect, out_sick_out_of_service,
    ],
}  # fmt: skip
PANTEIA_COUNTS = {
    SecondTrackOutcome.PLACED_SECOND_TRACK: 82,
    SecondTrackOutcome.PLACED_ORIGINAL_EMPLOYER: 69,
    SecondTrackOutcome.NO_RESULT_YET: 98,
    SecondTrackOutcome.OUT_OF_SERVICE_OR_OTHER: 159,
}


def panteia_population(seed: int = 2016) -> list[dict[str, Any]]:
    """408 trajectories (plus cases without a second track, which must not count)."""
    rng = random.Random(seed)
    lines: list[dict[str, Any]] = []
    for outcome, count in PANTEIA_COUNTS.items():
        for n in range(count):
            c = str(uuid4())
            start = _at(FIRST, 7 * rng.choice((2, 10, 20, 30, 45, 56, 60)))
            opening = report(c, FIRST, sector=rng.choice(("care", "retail")))
            opening["data"]["employer_id"] = f"ER{n % 7}"
            lines += [opening, line(c, "SecondTrackStarted", start,
                                    provider_id=PROVIDERS[n % len(PROVIDERS)])]  # fmt: skip
            lines += PATHS[outcome][n % len(PATHS[outcome])](c, start, rng)
    for _ in range(25):  # no second track at all
        c = str(uuid4())
        lines += [report(c, FIRST), line(c, "RecoveryReported", _at(FIRST, 10))]
    return lines


@pytest.fixture
def panteia(ledger: Ledger, database_url: str) -> Iterator[ReadModelStore]:
    import_lines(ledger, numbered([json.dumps(item) for item in panteia_population()]))
    with read_models(database_url) as store:
        ReadModelRunner(ledger, store, all_projections(), page_size=300).run()
        yield store


def test_the_panteia_population_gives_exactly_82_69_98_159(panteia: ReadModelStore) -> None:
    result = second_track_report(panteia, ON)
    assert result["n"] == 408
    assert result["counts"] == {o.value: n for o, n in PANTEIA_COUNTS.items()}
    assert result["shares"]["placed_second_track"] == round(82 / 408, 4)
    assert result["reference"]["shares"]["placed_second_track"] == 0.20
    assert result["reference"]["n"] == 408


def test_groups_partition_the_population(panteia: ReadModelStore) -> None:
    for by in (["band"], ["provider"], ["employer"], ["sector"], ["year"], ["band", "provider"]):
        groups = second_track_report(panteia, ON, by)["groups"]
        assert sum(g["n"] for g in groups) == 408, by
    bands = {g["by"]["band"] for g in second_track_report(panteia, ON, ["band"])["groups"]}
    assert bands == {"1-13", "14-26", "27-39", "40-52", "53+"}


def test_as_of_an_earlier_day_trajectories_had_no_result_yet(panteia: ReadModelStore) -> None:
    early = second_track_report(panteia, _at(FIRST, 7 * 3))  # only week-2 starts had begun
    assert early["n"] > 0
    assert early["counts"]["no_result_yet"] == early["n"]


def test_small_groups_are_suppressed_when_asked(panteia: ReadModelStore) -> None:
    full = {g["by"]["band"]: g["n"] for g in second_track_report(panteia, ON, ["band"])["groups"]}
    threshold = sorted(full.values())[1] + 1  # at least two bands fall below it
    report_ = second_track_report(panteia, ON, ["band"], suppress_below=threshold)
    hidden = [g for g in report_["groups"] if g["suppressed"]]
    assert {g["by"]["band"] for g in hidden} >= {b for b, n in full.items() if n < threshold}
    assert all(g["n"] is None and g["counts"] is None for g in hidden)
    assert sum(full[g["by"]["band"]] for g in hidden) >= threshold  # cannot be subtracted out
    with pytest.raises(ValueError, match="one dimension at a time"):
        second_track_report(panteia, ON, ["employer", "band"], suppress_below=10)


def test_outcome_history_matches_classifying_each_day() -> None:
    """The stored history says, for every day, what classifying that day's state says."""
    from domain.case import Case, record_fact
    from domain.events import CATALOGUE
    from domain.interchange import event_fields, parse_line

    rng = random.Random(5)
    for paths in PATHS.values():
        for path in paths:
            c = str(uuid4())
            start = _at(FIRST, 70)
            items = [report(c, FIRST), line(c, "SecondTrackStarted", start), *path(c, start, rng)]
            case: Case | None = None
            for item in items:
                parsed = parse_line(json.dumps(item))
                case = record_fact(case, parsed.case_id, CATALOGUE[parsed.type],
                                   **event_fields(parsed))  # fmt: skip
            assert case is not None
            history = outcome_history(case.timeline())
            for offset in range(0, 900, 11):
                day = _at(FIRST, offset)
                assert outcome_on(history, day) == trajectory_outcome(case.state(as_of=day)), (
                    path.__name__,
                    day,
                )


def test_sanction_and_deadline_reports(ledger: Ledger, database_url: str) -> None:
    from tests.factories import every_event_type

    import_lines(ledger, numbered([json.dumps(x) for x in every_event_type()]))
    with read_models(database_url) as store:
        ReadModelRunner(ledger, store, all_projections()).run()
        (year,) = sanction_report(store, ON)
        assert (year["imposed"], year["insufficient_efforts"], year["shortened"]) == (1, 1, 1)
        assert year["average_weeks"] == 10.0  # 26 weeks, shortened to 10 (factories)
        rows = {r["deadline"]: r for r in deadline_report(store, ON)}
        assert rows["problem_analysis"]["share_on_time"] == 1.0
        assert sanction_report(store, ON, suppress_below=10) == [
            {"year": year["year"], "suppressed": True}
        ]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ([("EmploymentEnded", 100, {"reason": "sick_out_of_service"}),
          ("RecoveryReported", 110, {})],
         SecondTrackOutcome.OUT_OF_SERVICE_OR_OTHER),
        ([("SecondTrackEnded", 90, {"reason": "placement"})],
         SecondTrackOutcome.PLACED_SECOND_TRACK),
        ([("CaseClosed", 90, {"outcome": "placed_other_employer"})],
         SecondTrackOutcome.PLACED_SECOND_TRACK),
    ],
    ids=["recovery after the employment ended", "ended by placement", "closed as placed"],
)  # fmt: skip
def test_review_findings_on_classification(
    path: list[tuple[str, int, dict[str, Any]]], expected: SecondTrackOutcome
) -> None:
    """Review findings: an ended employment is not undone by a later recovery; a
    placement recorded only as the end reason or the case outcome still counts."""
    case = _case([("SecondTrackStarted", 70, {}), *path])
    assert trajectory_outcome(case.current) is expected


def test_a_restarted_trajectory_is_judged_by_its_last_run_and_counted_from_its_first() -> None:
    from projections.statistics import trajectory_rows

    case = _case([
        ("SecondTrackStarted", 70, {}),
        ("SecondTrackPlacement", 110, {"new_employer_id": "ER-NEW"}),
        ("SecondTrackEnded", 130, {"reason": "other"}),
        ("SecondTrackStarted", 160, {}),
    ])  # fmt: skip
    (row,) = trajectory_rows(case)
    assert row["started_on"] == _at(FIRST, 70).isoformat()
    history = [
        (date.fromisoformat(d), SecondTrackOutcome(o)) for d, o in json.loads(row["history"])
    ]
    assert outcome_on(history, _at(FIRST, 115)) is SecondTrackOutcome.PLACED_SECOND_TRACK
    assert outcome_on(history, _at(FIRST, 170)) is SecondTrackOutcome.NO_RESULT_YET


def _case(specs: list[tuple[str, int, dict[str, Any]]]) -> Any:
    from domain.case import Case, record_fact
    from domain.events import CATALOGUE
    from domain.interchange import event_fields, parse_line

    c = str(uuid4())
    items = [report(c, FIRST), *(line(c, t, _at(FIRST, d), **data) for t, d, data in specs)]
    case: Case | None = None
    for item in items:
        parsed = parse_line(json.dumps(item))
        case = record_fact(case, parsed.case_id, CATALOGUE[parsed.type], **event_fields(parsed))
    return case
