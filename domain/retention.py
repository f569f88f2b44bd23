"""How long a file may be kept, and what holds it (rules reference section 5, AVG).

The re-integration file may be kept at most two years after re-integration ends;
longer while a dispute is open, which the ledger knows from an explicit legal hold
(``LegalHoldPlaced``). Retention periods are dated data, like the deadline rules,
because the law and the Autoriteit Persoonsgegevens' guidance change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from domain import events as ev
from domain.state import CaseState, CaseStatus


@dataclass(frozen=True)
class RetentionRule:
    valid_from: date
    years_after_end: int
    source: str


RETENTION_RULES: tuple[RetentionRule, ...] = (
    RetentionRule(
        valid_from=date(2018, 5, 25),  # the AVG (GDPR) applies
        years_after_end=2,
        source="poortwachter.md section 5: re-integration file at most 2 years after "
        "re-integration ends (Autoriteit Persoonsgegevens, De zieke werknemer, 2016)",
    ),
)


def retention_rule(on: date, rules: Sequence[RetentionRule] = RETENTION_RULES) -> RetentionRule:
    """The rule in force on ``on`` (the first rule also covers earlier dates)."""
    current = rules[0]
    for rule in rules:
        if rule.valid_from <= on:
            current = rule
    return current


@dataclass(frozen=True)
class FileStatus:
    """What record keeping says about a file: held for a dispute, erased."""

    legal_hold: bool = False
    erased_on: date | None = None


def file_status(history: Iterable[ev.CaseEvent]) -> FileStatus:
    """The record-keeping state after every recorded event (in recording order)."""
    hold = False
    erased_on: date | None = None
    for event in history:
        if isinstance(event, ev.LegalHoldPlaced):
            hold = True
        elif isinstance(event, ev.LegalHoldLifted):
            hold = False
        elif isinstance(event, ev.PersonalDataErased):
            erased_on = event.occurred_on
    return FileStatus(hold, erased_on)


def reintegration_ended_on(state: CaseState) -> date | None:
    """When re-integration of this case ended: closed, recovered, or employment over.

    None while it runs (a relapse within 28 days reopens it, so recovery counts only
    while the case stays recovered).
    """
    if state.status is CaseStatus.CLOSED:
        return state.closed_on
    if state.status is CaseStatus.RECOVERED:
        return state.recovered_on
    ended = state.milestones.get(ev.EmploymentEnded.__name__)
    return ended[-1] if ended else None


def retention_ends_on(ended_on: date, rules: Sequence[RetentionRule] = RETENTION_RULES) -> date:
    years = retention_rule(ended_on, rules).years_after_end
    try:
        return ended_on.replace(year=ended_on.year + years)
    except ValueError:  # 29 February
        return ended_on.replace(year=ended_on.year + years, day=28)


@dataclass(frozen=True)
class FileRetention:
    """One case file as retention sees it."""

    case_id: str
    ended_on: date | None
    legal_hold: bool
    erased: bool


@dataclass(frozen=True)
class SubjectRetention:
    """An employee's files (by subject pseudonym) and whether they may be erased on a day."""

    subject_id: str
    files: tuple[FileRetention, ...]
    erasable: bool
    retention_ends_on: date | None
    blocked_by: str | None  # why not: "running", "legal_hold", "retention", "erased"


def subject_retention(
    subject_id: str,
    files: Sequence[FileRetention],
    on: date,
    rules: Sequence[RetentionRule] = RETENTION_RULES,
) -> SubjectRetention:
    """An employee's data goes when every file ended more than the retention period ago
    and none is held; one running or held file keeps all of them (they share keys)."""
    open_files = [f for f in files if not f.erased]
    if not open_files:
        return SubjectRetention(subject_id, tuple(files), False, None, "erased")
    ends = [f.ended_on for f in open_files]
    if any(end is None for end in ends):
        return SubjectRetention(subject_id, tuple(files), False, None, "running")
    last_end = max((end for end in ends if end is not None), default=None)
    until = retention_ends_on(last_end, rules) if last_end is not None else None
    if any(f.legal_hold for f in open_files):
        return SubjectRetention(subject_id, tuple(files), False, until, "legal_hold")
    if until is None or until > on:
        return SubjectRetention(subject_id, tuple(files), False, until, "retention")
    return SubjectRetention(subject_id, tuple(files), True, until, None)
