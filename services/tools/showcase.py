"""The demo's own files: one employer's open files at every phase of the 104 weeks, as
of ``today``, so that the first screen has something to show: deadlines due this week,
some overdue, a second track, a wage sanction, and a dispute with a correction.

Each file is a simulated long case (``simulate._long``) started the given number of
days before ``today`` and cut where the story needs it: the step whose deadline should
be open (due this week, or overdue) is left out, with everything after it. The files
are seeded by the day, so a demo loaded twice on one day is the same file twice.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from domain.access import Principal, Role
from domain.case import record_fact
from domain.deadlines import DeadlineStatus, case_deadlines
from domain.events import CATALOGUE
from domain.interchange import event_fields, parse_line
from services.tools.simulate import DEFAULTS, _long, _Script, _uuid

EMPLOYER = "ER00001"
CASE_MANAGER = "cm-1"
SHOWCASE_HEADCOUNT = 120  # the demo employer's staff, for its absence figures


def demo_periods(today: date) -> list[str]:
    """The periods the demo employer has a headcount for: this year and the last, and
    every quarter of them."""
    years = (today.year - 1, today.year)
    return [str(y) for y in years] + [f"{y}-Q{q}" for y in years for q in range(1, 5)]


@dataclass(frozen=True)
class Story:
    """A file about ``days`` into its sickness. ``missing``: the step left out (and all
    after it), whose ``deadline`` is then due within the week (``overdue``: past)."""

    days: int
    title: str
    missing: str | None = None
    deadline: str | None = None
    overdue: bool = False
    second_track: bool = False
    sanction: bool = False
    dispute: bool = False


STORIES = (
    Story(2, "reported two days ago"),
    Story(39, "problem analysis due this week", "ProblemAnalysisCompleted", "problem_analysis"),
    Story(50, "plan of approach due this week", "PlanOfApproachAgreed", "plan_of_approach"),
    Story(75, "plan of approach overdue", "PlanOfApproachAgreed", "plan_of_approach",
          overdue=True),
    Story(170, "evaluations on track"),
    Story(290, "UWV notification due this week", "UWVNotified", "uwv_notification"),
    Story(320, "UWV notification overdue", "UWVNotified", "uwv_notification", overdue=True),
    Story(420, "second track under way", second_track=True),
    Story(560, "a dispute: expert opinion, a corrected evaluation", second_track=True,
          dispute=True),
    Story(632, "final evaluation due this week", "FinalEvaluationCompleted", "final_evaluation"),
    Story(700, "wage sanction imposed", sanction=True),
)
SEARCH_DAYS = 40  # how far from ``days`` a story may move to find its deadline's state


def employee_of(today: date, index: int) -> str:
    """The employee of a story: new each day, so that a day's demo never meets the open
    files of another day's."""
    return f"EMPD{today.toordinal()}{index:02d}"


DISPUTE_STORY = next(i for i, story in enumerate(STORIES) if story.dispute)


def demo_principals(today: date) -> list[Principal]:
    """Who the demo's sign-in page offers, one per role: the employer and the employee are
    those of the demo employer's files (the employee is the one in the dispute)."""
    employer = frozenset({EMPLOYER})
    return [
        Principal("admin", Role.ADMIN),
        Principal(CASE_MANAGER, Role.CASE_MANAGER),
        Principal("op-1", Role.OCCUPATIONAL_PHYSICIAN),
        Principal("er-1", Role.EMPLOYER, employer),
        Principal(employee_of(today, DISPUTE_STORY), Role.EMPLOYEE, employer),
        Principal("uwv-1", Role.UWV_REVIEWER),
        Principal("uwv", Role.UWV),
        Principal("analyst-1", Role.ANALYST),
    ]


def showcase(today: date, seed: int = 2026) -> list[dict[str, Any]]:
    """The interchange lines of every story, as of ``today``."""
    lines: list[dict[str, Any]] = []
    for index, story in enumerate(STORIES):
        lines.extend(_told(story, today, index, seed))
    return lines


def _told(story: Story, today: date, index: int, seed: int) -> list[dict[str, Any]]:
    """The story's file: the nearest day to ``story.days`` whose file shows its deadline
    as the story says (the domain's deadlines decide, not a guess of the dates)."""
    for shift in sorted(range(-SEARCH_DAYS, SEARCH_DAYS + 1), key=abs):
        rng = random.Random(f"{seed}:{today.isoformat()}:{index}")
        lines = _file(rng, today, index, replace(story, days=max(story.days + shift, 1)))
        if story.deadline is None or _shows(lines, story, today):
            return lines
    raise ValueError(f"no file within {SEARCH_DAYS} days of day {story.days} shows {story.title}")


def _shows(lines: list[dict[str, Any]], story: Story, today: date) -> bool:
    case = None
    for line in lines:
        parsed = parse_line(json.dumps(line))
        case = record_fact(case, parsed.case_id, CATALOGUE[parsed.type], **event_fields(parsed))
    assert case is not None
    for deadline in case_deadlines(case.timeline(as_of=today), today):
        if deadline.deadline == story.deadline and deadline.done_on is None:
            if story.overdue:
                return deadline.status is DeadlineStatus.OVERDUE
            return today <= deadline.due_on <= today + timedelta(days=6)
    return False


def _file(rng: random.Random, today: date, index: int, story: Story) -> list[dict[str, Any]]:
    params = replace(DEFAULTS, second_track_needed=1.0 if story.second_track else 0.0,
                     second_track_placement=0.0, wage_sanction=1.0 if story.sanction else 0.0,
                     reintegration_report_on_time=1.0, late_analysis_correction=0.0,
                     evaluation_retracted=0.0)  # fmt: skip
    # events up to yesterday: one recorded later today would be recorded in the future
    script = _Script(rng, _uuid(rng), EMPLOYER, today - timedelta(days=1), params)
    first_day = today - timedelta(days=story.days)
    script.add("SicknessReported", first_day, ("employer", EMPLOYER),
               employee_id=employee_of(today, index), employer_id=EMPLOYER,
               first_sick_day=first_day.isoformat(), sector="care",
               incapacity_percent=100)  # fmt: skip
    _long(script, first_day)
    lines = _cut(script.lines, story.missing)
    if story.dispute:
        lines += _dispute(replace(script, lines=[], stopped=False), lines, today)
    return lines


def _cut(lines: list[dict[str, Any]], missing: str | None) -> list[dict[str, Any]]:
    types = [line["type"] for line in lines]
    return lines[: types.index(missing)] if missing in types else list(lines)


def _dispute(script: _Script, lines: list[dict[str, Any]], today: date) -> list[dict[str, Any]]:
    """The employee asks UWV for an expert opinion on the second track, which upholds
    them; the case manager corrects the date of the last evaluation."""
    evaluation = next(line for line in reversed(lines) if line["type"] == "PlanEvaluated")
    script.add("ExpertOpinionRequested", today - timedelta(days=3), ("employee", "employee"),
               requested_by="employee", question="second_track")  # fmt: skip
    script.add("ExpertOpinionIssued", today - timedelta(days=2), ("uwv", "uwv"),
               question="second_track", conclusion="requester_upheld")  # fmt: skip
    on = date.fromisoformat(evaluation["occurred_on"])
    script.add("EventCorrected", today - timedelta(days=1), ("case_manager", CASE_MANAGER),
               corrects=evaluation["event_id"], reason="evaluation date entered wrongly",
               corrected_occurred_on=(on - timedelta(days=1)).isoformat())  # fmt: skip
    return script.lines
