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
from domain.state import CaseState, fold
from domain.workdays import first_working_day_after, last_working_day_on_or_before


class DeadlineStatus(StrEnum):
    DONE = "done"
    DONE_LATE = "done_late"
    OPEN = "open"
    OVERDUE = "overdue"
    MISSED = "missed"  # not met when the file ended; its lateness is frozen at the end
    NOT_APPLICABLE = "not_applicable"


DueRule = Callable[[CaseState], date | None]  # None: the deadline does not arise
# Why a deadline falls where it does when that depends on the case (the notification ground).
Ground = Callable[[CaseState], str]


@dataclass(frozen=True)
class DeadlineRule:
    """One deadline. For a recurring rule, ``due`` gives the date the first cycle counts
    from, and each cycle is due ``recurring_days`` after the previous meeting event."""

    name: str
    due: DueRule
    met_by: type[ev.CaseEvent] | None  # None: a date, not a task
    source: str
    recurring_days: int | None = None
    ground: Ground | None = None


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
    file_ended_on: date | None = None  # the last day of a file that ended: nothing is left

    def to_json(self) -> dict[str, object]:
        return {
            "deadline": self.deadline,
            "due_on": self.due_on.isoformat(),
            "status": self.status.value,
            "done_on": self.done_on.isoformat() if self.done_on else None,
            "days_late": self.days_late,
            "rule": self.rule,
            "rule_set": self.rule_set,
            "file_ended_on": self.file_ended_on.isoformat() if self.file_ended_on else None,
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


@dataclass(frozen=True)
class NotificationPeriod:
    """One ground for the UWV notification's due date (rules reference s1). A case's
    notification is due on the earliest date among the grounds that apply to it."""

    name: str
    due: DueRule  # None: the ground does not apply to the case
    source: str


def _standard_notification(state: CaseState) -> date:
    return first_working_day_after(state.clock.end_of_week(42))


def _safety_net_notification(state: CaseState) -> date | None:
    """The employer may know only *that* a safety-net provision applies (s5), so without
    the physician's period the ledger takes the earliest of the groups: the 4th sick day."""
    known = state.safety_net_period is not None  # the physician's period says more
    return state.clock.sick_day(4) if state.safety_net and not known else None


def _six_weeks(state: CaseState) -> date | None:
    """Within 6 weeks of the first sick day; established later, at once."""
    if state.safety_net_period is not ev.SafetyNetPeriod.WITHIN_SIX_WEEKS:
        return None
    assert state.safety_net_established_on is not None
    return max(state.clock.end_of_week(6), state.safety_net_established_on)


def _fourth_sick_day(state: CaseState) -> date | None:
    """By the 4th sick day; established only after it, 4 days counting the day it became
    clear (the earlier date when in doubt: a reminder too early costs nothing, a late
    notification a fine)."""
    if state.safety_net_period is not ev.SafetyNetPeriod.BY_FOURTH_SICK_DAY:
        return None
    assert state.safety_net_established_on is not None
    fourth = state.clock.sick_day(4)
    known = state.safety_net_established_on
    return fourth if known <= fourth else known + timedelta(days=3)


def _employment_ends(state: CaseState) -> date | None:
    """Employment ending before week 42: on the last working day."""
    ended = _first(state, ev.EmploymentEnded)
    if ended is None or ended > state.clock.end_of_week(42):
        return None
    return last_working_day_on_or_before(ended)


STANDARD_NOTIFICATION = NotificationPeriod(
    "42e-weeksmelding", _standard_notification,
    "by the first working day after week 42 (uwv.nl, 'Ziek melden bij UWV'; working days "
    "under the Algemene termijnenwet)",
)  # fmt: skip
# The texts below are what every role reads: they name the period, never the provision.
SIX_WEEKS_NOTIFICATION = NotificationPeriod(
    "vangnet, 6 weken", _six_weeks,
    "a safety-net provision applies (established by the occupational physician): within 6 "
    "weeks of the first sick day (domain/poortwachter-additions.md)",
)  # fmt: skip
FOURTH_DAY_NOTIFICATION = NotificationPeriod(
    "vangnet, 4e ziektedag", _fourth_sick_day,
    "a safety-net provision applies (established by the occupational physician): by the 4th "
    "sick day, or 4 days after it became clear (domain/poortwachter-additions.md)",
)  # fmt: skip
SAFETY_NET_NOTIFICATION = NotificationPeriod(
    "vangnet", _safety_net_notification,
    "a safety-net provision applies (reported by the employer, which may not know which): "
    "the earliest period of the safety-net groups, the 4th sick day "
    "(domain/poortwachter-additions.md)",
)  # fmt: skip
EMPLOYMENT_ENDS_NOTIFICATION = NotificationPeriod(
    "einde dienstverband", _employment_ends,
    "employment ending before week 42: on the last working day (uwv.nl, 'Ziek melden bij "
    "UWV')",
)  # fmt: skip
NOTIFICATION_PERIODS: tuple[NotificationPeriod, ...] = (
    STANDARD_NOTIFICATION,
    SIX_WEEKS_NOTIFICATION,
    FOURTH_DAY_NOTIFICATION,
    SAFETY_NET_NOTIFICATION,
    EMPLOYMENT_ENDS_NOTIFICATION,
)


def notification_period(
    state: CaseState, periods: Sequence[NotificationPeriod]
) -> tuple[date, NotificationPeriod]:
    """The UWV notification's due date and the ground that gives it (the earliest)."""
    found = [(due, period) for period in periods if (due := period.due(state)) is not None]
    return min(found, key=lambda pair: pair[0])


def _notification_rule(periods: Sequence[NotificationPeriod]) -> DeadlineRule:
    return DeadlineRule(
        "uwv_notification",
        lambda s: notification_period(s, periods)[0],
        ev.UWVNotified,
        "poortwachter.md s1: 42e-weeksmelding, first working day after week 42, or a "
        "shorter period",
        ground=lambda s: notification_period(s, periods)[1].source,
    )


def _second_track_due(state: CaseState) -> date | None:
    found = state.second_track_needed_on
    return None if found is None else found + timedelta(weeks=6)


def _wia_due(state: CaseState) -> date:
    return state.clock.end_of_week(93) + timedelta(weeks=state.extension_weeks)


def _report_due(state: CaseState) -> date:
    """The RIV goes with the WIA application: within 1 day of it, by week 93 at the latest."""
    applied = _first(state, ev.WIAApplied)
    due = _wia_due(state)
    return due if applied is None else min(applied + timedelta(days=1), due)


def _poortwachter_rules(notification: DeadlineRule) -> tuple[DeadlineRule, ...]:
    return (
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
        notification,
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
            ev.WIAApplied,
            "poortwachter.md s1: WIA-aanvraag by week 93, moved by vrijwillige verlenging (s3)",
        ),
        DeadlineRule(
            "reintegration_report",
            _report_due,
            ev.ReintegrationReportSubmitted,
            "poortwachter.md s1: re-integratieverslag (RIV) within 1 day of the WIA "
            "application, by week 93",
        ),
        DeadlineRule(
            "end_of_wage_continuation",
            lambda s: s.end_of_wage_continuation,
            None,
            "art. 7:629 lid 1 BW: after week 104, moved by loonsanctie "
            "(art. 25 lid 9 WIA) and verlenging",
        ),
    )


POORTWACHTER_2002 = RuleSet(
    name="poortwachter-2002",
    effective_from=date(2002, 4, 1),
    rules=_poortwachter_rules(_notification_rule(NOTIFICATION_PERIODS)),
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
    file_ended_on: date | None  # the last day of a file that closed, or recovered
    is_task: bool  # False: a date, not something to do (end of wage continuation)
    rule: str
    rule_set: str

    @property
    def applies(self) -> bool:
        """A deadline due after the file's last day does not apply."""
        return self.file_ended_on is None or self.due_on <= self.file_ended_on

    def as_of(self, on: date) -> Deadline:
        """The status on ``on``: nothing is open or overdue once the file ended; a task it
        left undone is missed, late by the days from its due date to the file's last day."""
        row = Deadline(
            self.deadline, self.due_on, DeadlineStatus.OPEN, None, None, self.rule,
            self.rule_set, self.file_ended_on,
        )  # fmt: skip
        if self.done_on is not None:
            late = (self.done_on - self.due_on).days
            status = DeadlineStatus.DONE_LATE if late > 0 else DeadlineStatus.DONE
            return replace(row, status=status, done_on=self.done_on, days_late=max(late, 0))
        if not self.applies:
            return replace(row, status=DeadlineStatus.NOT_APPLICABLE)
        if not self.is_task:  # a date: it passed, or it is still to come
            passed = self.file_ended_on is not None or on > self.due_on
            return replace(row, status=DeadlineStatus.DONE) if passed else row
        if self.file_ended_on is not None:
            late = (self.file_ended_on - self.due_on).days
            return replace(row, status=DeadlineStatus.MISSED, days_late=late)
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
    ended = state.ended_on
    source = rule.source if rule.ground is None else f"{rule.source}: {rule.ground(state)}"

    def fact(cycle: int, due_on: date, met: date | None) -> DeadlineFact:
        return DeadlineFact(
            rule.name, cycle, due_on, met, ended, rule.met_by is not None, source, rule_set.name
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


def next_due(facts: Sequence[DeadlineFact]) -> DeadlineFact | None:
    """The task the case waits for first: not met, the file running, earliest due."""
    pending = [f for f in facts if f.is_task and f.done_on is None and f.file_ended_on is None]
    return min(pending, key=lambda f: (f.due_on, f.deadline), default=None)
