"""A deterministic generator of realistic cases, as interchange lines.

Most sickness is short; some cases run the whole Poortwachter path with a
second track, sanctions, relapses within 28 days and late corrections. Every
generated case keeps every rule of ``domain.rules`` (the tests import them).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

DUTCH_TIME = ZoneInfo("Europe/Amsterdam")


@dataclass(frozen=True)
class SimulationParameters:
    """Every rate of the simulator, in one place. Shares are per case unless noted;
    the defaults follow the orders of magnitude in the rules reference (s6, s7)."""

    reports_per_employee_year: float = 1.0  # meldingsfrequentie about 1 (s7)
    short_share: float = 0.70  # back within 14 days
    medium_share: float = 0.22  # some weeks (medium_weeks); the rest run the whole path
    medium_weeks: tuple[int, int] = (7, 40)
    partial_resumption: float = 0.3  # of medium cases
    relapse_within_28_days: float = 0.1  # of medium cases
    late_analysis_correction: float = 0.05  # analysis date corrected later
    evaluation_adjusts_plan: float = 0.3
    evaluation_retracted: float = 0.03
    second_track_needed: float = 0.7  # of long cases, at the first-year evaluation
    second_track_placement: float = 0.25  # of second tracks
    reintegration_report_on_time: float = 0.9
    wage_sanction: float = 0.1  # of long cases reaching week 104
    part_time_factor: float = 0.8  # for the headcount file
    second_track_start_week: int | None = None  # None: after the first-year evaluation


# ``--cases``: a case mix that exercises the process (long cases over-represented).
DEFAULTS = SimulationParameters()
# ``--employees``: a workforce with realistic rates: about one report per employee a
# year, mostly short, a mean spell of about three weeks, so absence is about 5-7 % (s7).
WORKFORCE = SimulationParameters(short_share=0.80, medium_share=0.192, medium_weeks=(7, 12))
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
    params: SimulationParameters = DEFAULTS
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
    params: SimulationParameters = DEFAULTS,
) -> Iterator[dict[str, Any]]:
    """Interchange lines of ``cases`` cases whose first sick day falls in [start, today]."""
    rng = random.Random(seed)
    today = today or date.today() - timedelta(days=1)
    span = max((today - start).days, 1)
    for index in range(cases):
        employer = f"ER{rng.randint(1, employers):05d}"
        script = _Script(rng, _uuid(rng), employer, today, params)
        first_day = start + timedelta(days=rng.randrange(span))
        _case(script, f"EMP{index:08d}", first_day, SECTORS[int(employer[2:]) % len(SECTORS)])
        yield from script.lines


def _case(s: _Script, employee_id: str, first_day: date, sector: str) -> None:
    rng = s.rng
    employer = ("employer", s.employer_id)
    s.add(
        "SicknessReported",
        first_day,
        employer,
        employee_id=employee_id,
        employer_id=s.employer_id,
        first_sick_day=first_day.isoformat(),
        sector=sector,
        incapacity_percent=100,
    )
    kind = rng.random()
    if kind < s.params.short_share:
        _short(s, first_day)
    elif kind < s.params.short_share + s.params.medium_share:
        _medium(s, first_day, weeks=rng.randint(*s.params.medium_weeks))
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
    if analysis and rng.random() < s.params.late_analysis_correction:
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
        adjustment = "activities" if rng.random() < s.params.evaluation_adjusts_plan else "none"
        line = s.add("PlanEvaluated", on, ("case_manager", "cm-1"), adjustment=adjustment)
        if line and rng.random() < s.params.evaluation_retracted:
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
    if rng.random() < s.params.partial_resumption:
        s.add(
            "WorkPartiallyResumed",
            end - timedelta(days=rng.randint(7, 20)),
            ("employer", s.employer_id),
            incapacity_percent=rng.choice((20, 50, 60)),
        )
    s.add("RecoveryReported", end, ("employer", s.employer_id))
    if rng.random() < s.params.relapse_within_28_days:
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

    def week(n: int, spread: int = 0) -> date:
        return first_day + timedelta(days=7 * n - 1 - rng.randint(0, spread))

    plan_on = _plan(s, first_day)
    early = s.params.second_track_start_week
    if early is not None and rng.random() < s.params.second_track_needed:
        # the policy question of s6: a second track from week W instead of after week 52
        started = max(first_day + timedelta(days=7 * (early - 1)), plan_on + timedelta(days=1))
        placed = _second_track(s, started)
        _evaluations(s, plan_on, placed or week(42, 6))
        if placed is not None:
            _placement_ends_case(s, placed, s.lines[-1]["data"].get("provider_id", "prov-alfa"))
            return
        s.add("UWVNotified", week(42, 5), employer)
        s.add("FirstYearEvaluationCompleted", week(52, 40), ("case_manager", "cm-1"),
              second_track_needed=False, no_second_track_reason="other")  # fmt: skip
        _final_steps(s, first_day, week)
        return
    _evaluations(s, plan_on, week(42, 6))
    s.add("UWVNotified", week(42, 5), employer)
    needs_second_track = early is None and rng.random() < s.params.second_track_needed
    evaluation_on = week(52, 40)
    s.add(
        "FirstYearEvaluationCompleted",
        evaluation_on,
        ("case_manager", "cm-1"),
        second_track_needed=needs_second_track,
        no_second_track_reason=None if needs_second_track else "structural_return_within_3_months",
    )
    if needs_second_track:
        placed = _second_track(s, evaluation_on + timedelta(days=rng.randint(7, 60)))
        if placed is not None:
            _placement_ends_case(s, placed, s.lines[-1]["data"].get("provider_id", "prov-alfa"))
            return
    _final_steps(s, first_day, week)


def _second_track(s: _Script, started: date) -> date | None:
    """Start a second track; the placement day if it will place the employee."""
    provider = s.rng.choice(PROVIDERS)
    s.add("SecondTrackStarted", started, ("employer", s.employer_id), provider_id=provider)
    if s.rng.random() < s.params.second_track_placement:
        return started + timedelta(days=s.rng.randint(60, 200))
    return None


def _placement_ends_case(s: _Script, placed: date, provider: str) -> None:
    provider = next(
        (x["data"]["provider_id"] for x in reversed(s.lines) if x["type"] == "SecondTrackStarted"),
        provider,
    )
    s.add(
        "SecondTrackPlacement",
        placed,
        ("reintegration_provider", provider),
        new_employer_id=f"ER{s.rng.randint(90000, 99999)}",
        provider_id=provider,
    )
    s.add("SecondTrackEnded", placed, ("reintegration_provider", provider), reason="placement")
    s.add("EmploymentEnded", placed + timedelta(days=1), ("employer", s.employer_id),
          reason="resignation")  # fmt: skip
    s.add("CaseClosed", placed + timedelta(days=2), ("case_manager", "cm-1"),
          outcome="placed_other_employer")  # fmt: skip


def _final_steps(s: _Script, first_day: date, week: Callable[..., date]) -> None:
    rng = s.rng
    employer = ("employer", s.employer_id)
    uwv = ("uwv", "uwv")
    s.add("FinalEvaluationCompleted", week(91, 10), ("case_manager", "cm-1"))
    if rng.random() < s.params.reintegration_report_on_time:
        s.add("ReintegrationReportSubmitted", week(93, 10), employer)
    normal_end = first_day + timedelta(days=7 * 104 - 1)
    if rng.random() < s.params.wage_sanction:
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


def simulate_population(
    employers: int,
    employees: int,
    years: int,
    *,
    seed: int = 1,
    today: date | None = None,
    params: SimulationParameters = WORKFORCE,
) -> Iterator[dict[str, Any]]:
    """Interchange lines for ``employers`` x ``employees`` people over ``years`` years:
    each falls ill at the rate of ``params``, never again within 28 days of a case's end
    (that would be the same case), nor while a case is still open."""
    rng = random.Random(seed)
    today = today or date.today() - timedelta(days=1)
    start = today - timedelta(days=365 * years)
    rate = params.reports_per_employee_year / 365
    for e in range(1, employers + 1):
        employer = f"ER{e:05d}"
        for m in range(1, employees + 1):
            day = start + timedelta(days=int(rng.expovariate(rate)))
            while day <= today:
                script = _Script(rng, _uuid(rng), employer, today, params)
                _case(script, f"EMP{e:05d}-{m:05d}", day, SECTORS[e % len(SECTORS)])
                yield from script.lines
                if _still_open(script.lines):
                    break  # one open file per employee at an employer: no new report
                last = max(date.fromisoformat(line["occurred_on"]) for line in script.lines)
                day = max(day, last) + timedelta(days=28 + int(rng.expovariate(rate)))


def _still_open(lines: list[dict[str, Any]]) -> bool:
    """Whether the case is open after its lines: no recovery or closure since it last
    began (rule one_open_file_per_employee)."""
    for line in reversed(lines):
        if line["type"] in ("RecoveryReported", "CaseClosed"):
            return False
        if line["type"] in ("SicknessResumed", "SicknessReported"):
            return True
    return True


def headcount_rows(
    employers: int,
    employees: int,
    years: int,
    today: date,
    params: SimulationParameters = WORKFORCE,
) -> list[dict[str, Any]]:
    """The headcount file that goes with ``simulate_population``."""
    first = (today - timedelta(days=365 * years)).year
    return [
        {
            "employer_id": f"ER{e:05d}",
            "period": str(year),
            "headcount": employees,
            "part_time_factor": params.part_time_factor,
        }
        for e in range(1, employers + 1)
        for year in range(first, today.year + 1)
    ]
