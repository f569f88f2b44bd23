"""A deterministic generator of realistic cases, as interchange lines.

Most sickness is short; some cases run the whole Poortwachter path with a
second track, sanctions, relapses within 28 days and late corrections. Every
generated case keeps every rule of ``domain.rules`` (the tests import them).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

DUTCH_TIME = ZoneInfo("Europe/Amsterdam")
SECTORS = ("care", "retail", "construction", "education", "logistics", "government", "industry")
PROVIDERS = ("prov-alfa", "prov-beta", "prov-gamma", "prov-delta")


def _uuid(rng: random.Random) -> str:
    return str(UUID(int=rng.getrandbits(128), version=4))


@dataclass
class _Script:
    """The events of one case, appended in business order; stops at ``today``."""

    rng: random.Random
    case_id: str
    employer_id: str
    today: date
    lines: list[dict[str, Any]] = field(default_factory=list)
    stopped: bool = False

    def add(self, type_: str, on: date, actor: tuple[str, str], **data: Any) -> dict[str, Any]:
        if on > self.today:
            self.stopped = True
        if self.stopped:
            return {}
        hour = self.rng.randint(8, 17)
        recorded = datetime.combine(on, time(hour, self.rng.randint(0, 59)), DUTCH_TIME)
        line = {
            "event_id": _uuid(self.rng),
            "case_id": self.case_id,
            "type": type_,
            "occurred_on": on.isoformat(),
            "recorded_at": recorded.astimezone(ZoneInfo("UTC")).isoformat(),
            "actor": {"role": actor[0], "id": actor[1]},
            "data": data,
        }
        self.lines.append(line)
        return line


def simulate(
    cases: int,
    *,
    seed: int = 1,
    start: date = date(2023, 1, 2),
    today: date | None = None,
    employers: int = 200,
) -> Iterator[dict[str, Any]]:
    """Interchange lines of ``cases`` cases whose first sick day falls in [start, today]."""
    rng = random.Random(seed)
    today = today or date.today() - timedelta(days=1)
    span = max((today - start).days, 1)
    for index in range(cases):
        employer = f"ER{rng.randint(1, employers):05d}"
        script = _Script(rng, _uuid(rng), employer, today)
        first_day = start + timedelta(days=rng.randrange(span))
        _case(script, index, first_day, SECTORS[int(employer[2:]) % len(SECTORS)])
        yield from script.lines


def _case(s: _Script, index: int, first_day: date, sector: str) -> None:
    rng = s.rng
    employer = ("employer", s.employer_id)
    s.add(
        "SicknessReported",
        first_day,
        employer,
        employee_id=f"EMP{index:08d}",
        employer_id=s.employer_id,
        first_sick_day=first_day.isoformat(),
        sector=sector,
        incapacity_percent=100,
    )
    kind = rng.random()
    if kind < 0.70:
        _short(s, first_day)
    elif kind < 0.92:
        _medium(s, first_day, weeks=rng.randint(7, 40))
    else:
        _long(s, first_day)


def _short(s: _Script, first_day: date) -> None:
    rng = s.rng
    days = rng.randint(1, 14)
    if days > 4:
        s.add(
            "ReportedToOccupationalPhysician",
            first_day + timedelta(days=rng.randint(1, 4)),
            ("employer", s.employer_id),
        )
    recovered = first_day + timedelta(days=days)
    s.add("RecoveryReported", recovered, ("employer", s.employer_id))
    s.add(
        "CaseClosed",
        recovered + timedelta(days=rng.randint(0, 3)),
        ("case_manager", "cm-1"),
        outcome="recovered",
    )


def _plan(s: _Script, first_day: date) -> date:
    """Reporting, problem analysis and plan of approach; returns the plan date."""
    rng = s.rng
    physician = ("occupational_physician", f"op-{rng.randint(1, 20)}")
    manager = ("case_manager", f"cm-{rng.randint(1, 30)}")
    s.add(
        "ReportedToOccupationalPhysician",
        first_day + timedelta(days=rng.randint(1, 8)),
        ("employer", s.employer_id),
    )
    analysis_on = first_day + timedelta(days=rng.randint(25, 48))
    analysis = s.add("ProblemAnalysisCompleted", analysis_on, physician, prognosis="full_return")
    plan_on = analysis_on + timedelta(days=rng.randint(3, 17))
    s.add(
        "PlanOfApproachAgreed",
        plan_on,
        ("employer", s.employer_id),
        goal="own_work",
        case_manager_id=manager[1],
    )
    if analysis and rng.random() < 0.05:
        s.add(
            "EventCorrected",
            plan_on,
            physician,
            corrects=analysis["event_id"],
            reason="analysis date entered wrongly",
            corrected_occurred_on=(analysis_on - timedelta(days=2)).isoformat(),
        )
    return plan_on


def _evaluations(s: _Script, plan_on: date, until: date) -> None:
    rng = s.rng
    on = plan_on + timedelta(weeks=6)
    while on < until:
        adjustment = "activities" if rng.random() < 0.3 else "none"
        line = s.add("PlanEvaluated", on, ("case_manager", "cm-1"), adjustment=adjustment)
        if line and rng.random() < 0.03:
            s.add(
                "EventRetracted",
                on,
                ("case_manager", "cm-1"),
                retracts=line["event_id"],
                reason="recorded on the wrong case",
            )
        on += timedelta(days=rng.randint(35, 44))


def _medium(s: _Script, first_day: date, weeks: int) -> None:
    rng = s.rng
    plan_on = _plan(s, first_day)
    end = max(first_day + timedelta(weeks=weeks), plan_on + timedelta(days=rng.randint(21, 60)))
    _evaluations(s, plan_on, end)
    if rng.random() < 0.3:
        s.add(
            "WorkPartiallyResumed",
            end - timedelta(days=rng.randint(7, 20)),
            ("employer", s.employer_id),
            incapacity_percent=rng.choice((20, 50, 60)),
        )
    s.add("RecoveryReported", end, ("employer", s.employer_id))
    if rng.random() < 0.1:
        gap = rng.randint(3, 27)
        s.add("SicknessResumed", end + timedelta(days=gap), ("employer", s.employer_id))
        s.add(
            "RecoveryReported",
            end + timedelta(days=gap + rng.randint(5, 30)),
            ("employer", s.employer_id),
        )
        end += timedelta(days=gap + 30)
    s.add(
        "CaseClosed",
        end + timedelta(days=rng.randint(1, 5)),
        ("case_manager", "cm-1"),
        outcome="returned_own_work",
    )


def _long(s: _Script, first_day: date) -> None:
    rng = s.rng
    employer = ("employer", s.employer_id)
    uwv = ("uwv", "uwv")

    def week(n: int, spread: int = 0) -> date:
        return first_day + timedelta(days=7 * n - 1 - rng.randint(0, spread))

    plan_on = _plan(s, first_day)
    _evaluations(s, plan_on, week(42, 6))
    s.add("UWVNotified", week(42, 5), employer)
    needs_second_track = rng.random() < 0.7
    evaluation_on = week(52, 40)
    s.add(
        "FirstYearEvaluationCompleted",
        evaluation_on,
        ("case_manager", "cm-1"),
        second_track_needed=needs_second_track,
        no_second_track_reason=None if needs_second_track else "structural_return_within_3_months",
    )
    if needs_second_track:
        provider = rng.choice(PROVIDERS)
        started = evaluation_on + timedelta(days=rng.randint(7, 60))
        s.add("SecondTrackStarted", started, employer, provider_id=provider)
        if rng.random() < 0.25:
            placed = started + timedelta(days=rng.randint(60, 200))
            s.add(
                "SecondTrackPlacement",
                placed,
                ("reintegration_provider", provider),
                new_employer_id=f"ER{rng.randint(90000, 99999)}",
                provider_id=provider,
            )
            s.add(
                "SecondTrackEnded", placed, ("reintegration_provider", provider), reason="placement"
            )
            s.add("EmploymentEnded", placed + timedelta(days=1), employer, reason="resignation")
            s.add(
                "CaseClosed",
                placed + timedelta(days=2),
                ("case_manager", "cm-1"),
                outcome="placed_other_employer",
            )
            return
    s.add("FinalEvaluationCompleted", week(91, 10), ("case_manager", "cm-1"))
    if rng.random() < 0.9:
        s.add("ReintegrationReportSubmitted", week(93, 10), employer)
    normal_end = first_day + timedelta(days=7 * 104 - 1)
    if rng.random() < 0.1:
        sanction_end = normal_end + timedelta(weeks=rng.choice((12, 26, 52)))
        s.add(
            "WageSanctionImposed",
            week(96, 14),
            uwv,
            kind=rng.choice(("substantive", "administrative")),
            ends_on=sanction_end.isoformat(),
        )
        normal_end = sanction_end
    s.add("WIADecided", week(102, 6), uwv, outcome=rng.choice(("no_benefit", "wga", "iva")))
    s.add("EmploymentEnded", normal_end + timedelta(days=1), employer, reason="sick_out_of_service")
    s.add(
        "CaseClosed",
        normal_end + timedelta(days=1),
        ("case_manager", "cm-1"),
        outcome="employment_ended",
    )
