"""Reminders before deadlines (*signalering*): who is reminded of which deadline, and how
many days before it is due, as dated and versioned data (``REMINDER_POLICIES``).

Each deadline of rules reference section 1 has the roles that must act on it (the
physician makes the problem analysis; employer and employee agree the plan of
approach, the case manager keeps it going; the employer notifies UWV and submits the
RIV). A reminder is due from ``days_before`` its due day until that day, and a second
one once it is overdue. A reminder names the case, the deadline, its day and its
rule, never the employee or anything medical (section 5).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from domain.access import Role
from domain.deadlines import Deadline, DeadlineStatus

S1 = "poortwachter.md s1"


class ReminderKind(StrEnum):
    BEFORE = "before"
    OVERDUE = "overdue"


@dataclass(frozen=True)
class ReminderRule:
    deadline: str
    roles: tuple[Role, ...]
    days_before: int
    rule: str = S1


@dataclass(frozen=True)
class ReminderPolicy:
    name: str
    valid_from: date
    rules: tuple[ReminderRule, ...]

    def rule_for(self, deadline: str) -> ReminderRule | None:
        return next((r for r in self.rules if r.deadline == deadline), None)


EMPLOYER, CASE_MANAGER, PHYSICIAN = Role.EMPLOYER, Role.CASE_MANAGER, Role.OCCUPATIONAL_PHYSICIAN
REMINDER_POLICIES: tuple[ReminderPolicy, ...] = (
    ReminderPolicy("signals-2026-12", date(2026, 12, 1), (
        ReminderRule("report_to_occupational_physician", (EMPLOYER,), 2),
        ReminderRule("problem_analysis", (PHYSICIAN, CASE_MANAGER), 7),
        ReminderRule("plan_of_approach", (EMPLOYER, CASE_MANAGER), 7),
        ReminderRule("plan_evaluation", (CASE_MANAGER,), 5),
        ReminderRule("uwv_notification", (EMPLOYER, CASE_MANAGER), 14),
        ReminderRule("first_year_evaluation", (EMPLOYER, CASE_MANAGER), 14),
        ReminderRule("second_track_start", (EMPLOYER, CASE_MANAGER), 14),
        ReminderRule("final_evaluation", (CASE_MANAGER, PHYSICIAN), 14),
        ReminderRule("reintegration_report", (EMPLOYER, CASE_MANAGER), 21),
        ReminderRule("wia_application", (CASE_MANAGER,), 21),
        ReminderRule("end_of_wage_continuation", (EMPLOYER,), 28),
    )),
)  # fmt: skip


def policy_on(day: date, policies: Sequence[ReminderPolicy] = REMINDER_POLICIES) -> ReminderPolicy:
    """The policy in force on ``day`` (the earliest, before any was)."""
    in_force = [p for p in policies if p.valid_from <= day]
    return max(in_force, key=lambda p: p.valid_from) if in_force else policies[0]


@dataclass(frozen=True)
class Reminder:
    """One reminder of one deadline to one role; ``key`` names it for ever."""

    deadline: Deadline
    kind: ReminderKind
    role: Role
    rule: str

    def key(self, case_id: str) -> str:
        d = self.deadline
        return f"{case_id}:{d.deadline}:{d.due_on.isoformat()}:{self.kind.value}:{self.role.value}"


def reminders_due(deadlines: Iterable[Deadline], on: date,
                  policy: ReminderPolicy | None = None) -> list[Reminder]:  # fmt: skip
    """The reminders due on ``on`` for one case's deadlines (as of ``on``): before a
    deadline from ``days_before`` until its day, and once it is overdue. A deadline
    already done, missed in an ended file or not applicable is reminded of no more."""
    chosen = policy or policy_on(on)
    found = []
    for deadline in deadlines:
        rule = chosen.rule_for(deadline.deadline)
        if rule is None or deadline.done_on is not None:
            continue
        if deadline.status is DeadlineStatus.OVERDUE:
            kind = ReminderKind.OVERDUE
        elif deadline.status is DeadlineStatus.OPEN and (
            deadline.due_on - timedelta(days=rule.days_before) <= on <= deadline.due_on
        ):
            kind = ReminderKind.BEFORE
        else:
            continue
        found += [Reminder(deadline, kind, role, rule.rule) for role in rule.roles]
    return found


def horizon(policy: ReminderPolicy) -> int:
    """The most days before a due day that any reminder starts."""
    return max(rule.days_before for rule in policy.rules)
