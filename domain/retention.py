"""How long a file may be kept, and what holds it (rules reference section 5, AVG).

The re-integration file may be kept at most two years after re-integration ends;
longer while a dispute is open, which the ledger knows from an explicit legal hold
(``LegalHoldPlaced``). Each file (case) has its own keys, so each is judged on its
own. Retention periods are dated data, like the deadline rules, because the law
and the Autoriteit Persoonsgegevens' guidance change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from domain import events as ev
from domain.sicktime import RELAPSE_WINDOW_DAYS
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
    """When re-integration of this case ended: closed, or recovered. None while it runs
    (an open case runs even after the employment ended: the sickness benefit goes on,
    and a relapse within 28 days reopens a recovered one)."""
    if state.status is CaseStatus.CLOSED:
        return state.closed_on
    if state.status is CaseStatus.RECOVERED:
        return state.recovered_on
    return None


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
    subject_id: str
    status: str  # CaseStatus value
    ended_on: date | None
    legal_hold: bool
    erased: bool


@dataclass(frozen=True)
class RetentionDecision:
    """Whether a file may be erased on a day, and if not, why not."""

    file: FileRetention
    erasable: bool
    retention_ends_on: date | None
    blocked_by: str | None  # "running", "legal_hold", "retention", "erased"


def judge_file(
    file: FileRetention, on: date, rules: Sequence[RetentionRule] = RETENTION_RULES
) -> RetentionDecision:
    """A file goes when re-integration ended more than the retention period before ``on``
    and no legal hold keeps it."""
    if file.erased:
        return RetentionDecision(file, False, None, "erased")
    if file.ended_on is None:
        return RetentionDecision(file, False, None, "running")
    until = retention_ends_on(file.ended_on, rules)
    if file.legal_hold:
        return RetentionDecision(file, False, until, "legal_hold")
    if until > on:
        return RetentionDecision(file, False, until, "retention")
    return RetentionDecision(file, True, until, None)


def erasure_refusal(files: Sequence[FileRetention], today: date) -> str | None:
    """Why an employee's erasure request cannot be met today, if it cannot: a file is
    held for a dispute, still running, or recovered within the 28 days in which a
    relapse continues it (art. 7:629 lid 10 BW). The AVG lets the ledger keep what a
    legal obligation needs (art. 17(3)(b) AVG)."""
    for file in files:
        if file.erased:
            continue
        if file.legal_hold:
            return f"file {file.case_id} is under legal hold; record LegalHoldLifted first"
        if file.ended_on is None:
            return (
                f"file {file.case_id} is still running; re-integration law needs it "
                "(art. 17(3)(b) AVG): erase it once the case is closed or recovered"
            )
        recovered = file.status == CaseStatus.RECOVERED.value
        if recovered and (today - file.ended_on).days < RELAPSE_WINDOW_DAYS:
            return (
                f"file {file.case_id} recovered on {file.ended_on}; a relapse within 28 "
                "days would continue it (samentelling): erase from "
                f"{file.ended_on + timedelta(days=RELAPSE_WINDOW_DAYS)}"
            )
    return None
