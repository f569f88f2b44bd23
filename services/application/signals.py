"""Which reminders are due today, for whom (``domain.signals``), read from the deadline
view; what a reminder says. Nothing personal or medical is in it: the case by its short
reference, the deadline by its name and day, and the rule."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from uuid import UUID

from domain.access import Role
from domain.signals import Reminder, horizon, policy_on, reminders_due
from projections.deadlines import (
    CaseDeadline,
    DeadlineProjection,
    DeadlineQuery,
    find_deadlines,
    responsible_of,
)
from projections.runner import ReadModelRunner
from services.application.case_views import deadline_replay
from services.application.context import Context
from services.application.labels import short_reference

DIGEST_DAYS = 7  # a case manager's digest: what is overdue and what is due within a week


@dataclass(frozen=True)
class Signal:
    """A reminder of one case's deadline to one party (a role at an employer, or a case
    manager by id)."""

    case_id: UUID
    reminder: Reminder
    employer_id: str
    case_manager_id: str | None

    @property
    def key(self) -> str:
        return self.reminder.key(str(self.case_id))

    @property
    def party(self) -> str:
        """Whom it is for: the contacts entry that has their address."""
        if self.reminder.role is Role.CASE_MANAGER:
            return f"case_manager:{self.case_manager_id or '*'}"
        return f"{self.reminder.role.value}:{self.employer_id}"


def label(deadline: str) -> str:
    return deadline.replace("_", " ")


def open_deadlines(ctx: Context, on: date, days_ahead: int) -> list[CaseDeadline]:
    """The running files' deadlines that are overdue or due within ``days_ahead``, with
    the deadline view brought up to date first."""
    ReadModelRunner(ctx.ledger, ctx.store, [DeadlineProjection()]).run()
    query = DeadlineQuery(on=on, due_before=on + timedelta(days=days_ahead + 1))
    return [d for d in find_deadlines(ctx.store, query, deadline_replay(ctx.ledger))
            if d.deadline.done_on is None]  # fmt: skip


@dataclass(frozen=True)
class Round:
    """What one round of reminders sends: the reminders due, and per case manager the
    deadlines of their digest; read from the deadline view once."""

    signals: list[Signal]
    digests: dict[str, list[CaseDeadline]]


def signal_round(ctx: Context, on: date) -> Round:
    """The reminders and digests due on ``on``."""
    days = max(horizon(policy_on(on)), DIGEST_DAYS)
    found = open_deadlines(ctx, on, days)
    by_case: dict[UUID, list[CaseDeadline]] = defaultdict(list)
    for item in found:
        by_case[item.case_id].append(item)
    parties = responsible_of(ctx.store, list(by_case))
    signals = []
    for case_id, items in by_case.items():
        row = parties.get(case_id, {})
        for reminder in reminders_due([i.deadline for i in items], on):
            signals.append(Signal(case_id, reminder, str(row.get("employer_id", "")),
                                  row.get("case_manager_id")))  # fmt: skip
    last = on + timedelta(days=DIGEST_DAYS)
    per_manager: dict[str, list[CaseDeadline]] = defaultdict(list)
    for item in found:
        manager = parties.get(item.case_id, {}).get("case_manager_id")
        if manager and item.deadline.due_on <= last:
            per_manager[str(manager)].append(item)
    return Round(signals, dict(per_manager))


def due_signals(ctx: Context, on: date) -> list[Signal]:
    """Every reminder due on ``on``, to each responsible party."""
    return signal_round(ctx, on).signals


def digests(ctx: Context, on: date) -> dict[str, list[CaseDeadline]]:
    """Per case manager, their files' deadlines overdue or due within a week."""
    return signal_round(ctx, on).digests


def reminder_text(signal: Signal, base_url: str) -> tuple[str, str]:
    """The subject and body of a reminder."""
    d, ref = signal.reminder.deadline, short_reference(signal.case_id)
    when = (f"is overdue since {d.due_on.isoformat()}" if signal.reminder.kind.value == "overdue"
            else f"is due on {d.due_on.isoformat()}")  # fmt: skip
    subject = f"[ledger] case {ref}: {label(d.deadline)} {when}"
    body = (f"Case {ref}: the {label(d.deadline)} {when}.\n"
            f"Rule: {d.rule} ({signal.reminder.rule}).\n\n"
            f"Open the case: {base_url}/ui/cases/{signal.case_id}\n\n"
            "This reminder names no employee and holds no medical data; the case page\n"
            "shows what your role may see.\n")  # fmt: skip
    return subject, body


def digest_text(manager: str, items: list[CaseDeadline], on: date, base_url: str
                ) -> tuple[str, str]:  # fmt: skip
    overdue = sum(1 for i in items if i.deadline.due_on < on)
    subject = f"[ledger] {on.isoformat()}: {overdue} overdue, {len(items) - overdue} due this week"
    lines = [f"Deadlines of the files of case manager {manager}, on {on.isoformat()}:", ""]
    for item in sorted(items, key=lambda i: i.deadline.due_on):
        d = item.deadline
        state = "overdue" if d.due_on < on else "due"
        lines.append(f"  {d.due_on.isoformat()}  {state:7}  case {short_reference(item.case_id)}  "
                     f"{label(d.deadline)}  {base_url}/ui/cases/{item.case_id}")  # fmt: skip
    lines += ["", "This digest names no employee and holds no medical data."]
    return subject, "\n".join(lines) + "\n"
