"""Poortwachter deadlines as dated, versioned rule sets (rules reference section 1 and 8).

Each deadline rule names what it is, how its due date follows from the case,
which event meets it and where the rule comes from. A rule set has an
``effective_from`` date and applies to cases whose first sick day falls on or
after it (the law's usual transition: sickness that began earlier stays under
the old rules), so a replay for a dispute uses the rules that governed the case.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum

from domain import events as ev
from domain.state import CaseState, CaseStatus, fold


class DeadlineStatus(StrEnum):
    DONE = "done"
    DONE_LATE = "done_late"
    OPEN = "open"
    OVERDUE = "overdue"
    NOT_APPLICABLE = "not_applicable"


DueRule = Callable[[CaseState], date | None]  # None: the deadline does not arise


@dataclass(frozen=True)
class DeadlineRule:
    """One deadline. For a recurring rule, ``due`` gives the date the first cycle counts
    from, and each cycle is due ``recurring_days`` after the previous meeting event."""

    name: str
    due: DueRule
    met_by: type[ev.CaseEvent] | None  # None: a date, not a task
    source: str
    recurring_days: int | None = None


@dataclass(frozen=True)
class RuleSet:
    name: str
    effective_from: date
    rules: tuple[DeadlineRule, ...]


@dataclass(frozen=True)
class Deadline:
    deadline: str
    due_on: date
    status: DeadlineStatus
    done_on: date | None
    days_late: int | None
    rule: str
    rule_set: str

    def to_json(self) -> dict[str, object]:
        return {
            "deadline": self.deadline,
            "due_on": self.due_on.isoformat(),
            "status": self.status.value,
            "done_on": self.done_on.isoformat() if self.done_on else None,
            "days_late": self.days_late,
            "rule": self.rule,
            "rule_set": self.rule_set,
        }


def _week(n: int) -> DueRule:
    return lambda state: state.clock.end_of_week(n)


def _first(state: CaseState, event_type: type[ev.CaseEvent]) -> date | None:
    dates = state.milestones.get(event_type.__name__, ())
    return min(dates) if dates else None


def _plan_due(state: CaseState) -> date:
    week_8 = state.clock.end_of_week(8)
    analysis = _first(state, ev.ProblemAnalysisCompleted)
    return week_8 if analysis is None else min(week_8, analysis + timedelta(weeks=2))


def _plan_evaluation_base(state: CaseState) -> date | None:
    return _first(state, ev.PlanOfApproachAgreed)


def _first_working_day_after(day: date) -> date:
    day += timedelta(days=1)
    while day.weekday() >= 5:  # Saturday, Sunday; public holidays are not modelled
        day += timedelta(days=1)
    return day


def _second_track_due(state: CaseState) -> date | None:
    found = state.second_track_needed_on
    return None if found is None else found + timedelta(weeks=6)


def _wia_due(state: CaseState) -> date:
    return state.clock.end_of_week(93) + timedelta(weeks=state.extension_weeks)


POORTWACHTER_2002 = RuleSet(
    name="poortwachter-2002",
    effective_from=date(2002, 4, 1),
    rules=(
        DeadlineRule(
            "report_to_occupational_physician",
            _week(1),
            ev.ReportedToOccupationalPhysician,
            "poortwachter.md s1: ziekmelding bij bedrijfsarts, within week 1",
        ),
        DeadlineRule(
            "problem_analysis",
            _week(6),
            ev.ProblemAnalysisCompleted,
            "poortwachter.md s1: probleemanalyse, week 6 (Regeling procesgang)",
        ),
        DeadlineRule(
            "plan_of_approach",
            _plan_due,
            ev.PlanOfApproachAgreed,
            "poortwachter.md s1: plan van aanpak, week 8 and at most 2 weeks after "
            "the problem analysis",
        ),
        DeadlineRule(
            "plan_evaluation",
            _plan_evaluation_base,
            ev.PlanEvaluated,
            "poortwachter.md s1: evaluatie, at least every 6 weeks after the plan",
            recurring_days=42,
        ),
        DeadlineRule(
            "uwv_notification",
            lambda s: _first_working_day_after(s.clock.end_of_week(42)),
            ev.UWVNotified,
            "poortwachter.md s1: 42e-weeksmelding, first working day after week 42",
        ),
        DeadlineRule(
            "first_year_evaluation",
            _week(52),
            ev.FirstYearEvaluationCompleted,
            "poortwachter.md s1: eerstejaarsevaluatie, weeks 46-52",
        ),
        DeadlineRule(
            "second_track_start",
            _second_track_due,
            ev.SecondTrackStarted,
            "poortwachter.md s1: start 2e spoor within 6 weeks after the first-year evaluation",
        ),
        DeadlineRule(
            "final_evaluation",
            _week(91),
            ev.FinalEvaluationCompleted,
            "poortwachter.md s1: eindevaluatie, about week 91",
        ),
        DeadlineRule(
            "wia_application",
            _wia_due,
            ev.ReintegrationReportSubmitted,
            "poortwachter.md s1: WIA-aanvraag + RIV by week 93, moved by "
            "vrijwillige verlenging (s3)",
        ),
        DeadlineRule(
            "end_of_wage_continuation",
            lambda s: s.end_of_wage_continuation,
            None,
            "art. 7:629 lid 1 BW: after week 104, moved by loonsanctie "
            "(art. 25 lid 9 WIA) and verlenging",
        ),
    ),
)

RULE_SETS: tuple[RuleSet, ...] = (POORTWACHTER_2002,)


def rule_set_for(first_sick_day: date, rule_sets: Sequence[RuleSet] = RULE_SETS) -> RuleSet:
    """The rule set governing a case: the latest in force on its first sick day."""
    applicable = [rs for rs in rule_sets if rs.effective_from <= first_sick_day]
    if not applicable:
        msg = f"no rule set was in force on {first_sick_day}"
        raise LookupError(msg)
    return max(applicable, key=lambda rs: rs.effective_from)


@dataclass(frozen=True)
class DeadlineFact:
    """A deadline as the case's facts fix it. Its status follows from the day asked
    about (``as_of``), so a read model can store facts and answer for any later day."""

    deadline: str
    cycle: int  # 0, or the n-th round of a recurring deadline
    due_on: date
    done_on: date | None
    lapsed: bool  # the case closed or recovered on or before the due date
    is_task: bool  # False: a date, not something to do (end of wage continuation)
    rule: str
    rule_set: str

    def as_of(self, on: date) -> Deadline:
        row = Deadline(
            self.deadline, self.due_on, DeadlineStatus.OPEN, None, None, self.rule, self.rule_set
        )
        if not self.is_task:
            return replace(row, status=DeadlineStatus.DONE) if on > self.due_on else row
        if self.done_on is not None:
            late = (self.done_on - self.due_on).days
            status = DeadlineStatus.DONE_LATE if late > 0 else DeadlineStatus.DONE
            return replace(row, status=status, done_on=self.done_on, days_late=max(late, 0))
        if self.lapsed:
            return replace(row, status=DeadlineStatus.NOT_APPLICABLE)
        if on > self.due_on:
            return replace(row, status=DeadlineStatus.OVERDUE, days_late=(on - self.due_on).days)
        return row


def case_deadlines(
    timeline: Sequence[ev.CaseEvent], on: date, rule_sets: Sequence[RuleSet] = RULE_SETS
) -> list[Deadline]:
    """Every deadline of a case as of ``on``, from its effective timeline.

    Only facts that happened by ``on`` count; pass a timeline read ``known_at``
    a time to see the deadlines as they were known then.
    """
    known = [event for event in timeline if event.occurred_on <= on]
    if not any(isinstance(event, ev.SicknessReported) for event in known):
        return []  # the case had not begun on ``on``
    return [fact.as_of(on) for fact in deadline_facts(fold(known), rule_sets)]


def deadline_facts(
    state: CaseState, rule_sets: Sequence[RuleSet] = RULE_SETS
) -> list[DeadlineFact]:
    """The deadlines that the facts folded into ``state`` give rise to, by due date.

    For any day on or after the last fact, ``fact.as_of(day)`` is the deadline's
    status that day.
    """
    applicable = [rs for rs in rule_sets if rs.effective_from <= state.first_sick_day]
    if not applicable:
        return []  # sickness that began before the first rule set has none of its deadlines
    rule_set = rule_set_for(state.first_sick_day, rule_sets)
    found: list[DeadlineFact] = []
    for rule in rule_set.rules:
        found.extend(_facts(rule, rule_set, state))
    return sorted(found, key=lambda d: (d.due_on, d.deadline, d.cycle))


def _facts(rule: DeadlineRule, rule_set: RuleSet, state: CaseState) -> list[DeadlineFact]:
    due = rule.due(state)
    if due is None:
        return []
    ended = _ended_on(state)

    def fact(cycle: int, due_on: date, met: date | None) -> DeadlineFact:
        is_task = rule.met_by is not None
        lapsed = is_task and met is None and ended is not None and ended <= due_on
        return DeadlineFact(
            rule.name,
            cycle,
            due_on,
            met,
            lapsed,
            rule.met_by is not None,
            rule.source,
            rule_set.name,
        )

    if rule.met_by is None:
        return [fact(0, due, None)]
    met_dates = sorted(state.milestones.get(rule.met_by.__name__, ()))
    if rule.recurring_days is None:
        return [fact(0, due, met_dates[0] if met_dates else None)]
    cycle_days = timedelta(days=rule.recurring_days)
    facts: list[DeadlineFact] = []
    base = due
    for cycle, met in enumerate(met_dates):  # each evaluation meets a cycle and starts the next
        facts.append(fact(cycle, base + cycle_days, met))
        base = met
    facts.append(fact(len(met_dates), base + cycle_days, None))
    return facts


def _ended_on(state: CaseState) -> date | None:
    """A deadline stops applying when the case closed or recovered before it was due."""
    if state.status is CaseStatus.CLOSED:
        return state.closed_on
    if state.status is CaseStatus.RECOVERED:
        return state.recovered_on
    return None


def next_due(facts: Sequence[DeadlineFact]) -> DeadlineFact | None:
    """The task the case waits for first: not met, not lapsed, earliest due."""
    pending = [f for f in facts if f.is_task and f.done_on is None and not f.lapsed]
    return min(pending, key=lambda f: (f.due_on, f.deadline), default=None)
