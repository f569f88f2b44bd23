"""Forgetting an employee: crypto-shredding, and retention (rules reference section 5).

The events stay; the employee's keys go. First every file of the employee records
``PersonalDataErased`` (so a crash between the two steps leaves a record and a
retry finishes the job), then the keys and the blind index are destroyed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from itertools import groupby
from uuid import UUID, uuid4

from domain import events as ev
from domain.retention import FileRetention, SubjectRetention, retention_rule, subject_retention
from domain.rules import RuleViolation
from infra.keys import KeyRing
from infra.readmodel import ReadModelStore
from projections.case_state import CaseStateProjection
from projections.runner import ProjectionRunner
from services.ledger import Ledger

SYSTEM_ERASER = ev.Actor(role=ev.ActorRole.SYSTEM, id="ledger-erase")


class ErasureError(RuntimeError):
    """The erasure cannot happen; the message says why and what to do."""


@dataclass(frozen=True)
class Erasure:
    subject_id: UUID
    cases: tuple[UUID, ...]
    events_recorded: int
    keys_destroyed: bool


def keys_of(ledger: Ledger) -> KeyRing:
    if ledger.keys is None:
        raise ErasureError("this ledger stores no keys (protect=False); nothing to erase")
    return ledger.keys


def erase_employee(
    ledger: Ledger, employee_id: str, *, ground: ev.ErasureGround, reason: str, actor: ev.Actor
) -> Erasure:
    subject = keys_of(ledger).find_subject(employee_id)
    if subject is None:
        raise ErasureError(
            "no employee with this id has data here (never reported, or erased already); "
            "check the id"
        )
    return erase_subject(ledger, subject, ground=ground, reason=reason, actor=actor)


def erase_subject(
    ledger: Ledger,
    subject_id: UUID,
    *,
    ground: ev.ErasureGround,
    reason: str,
    actor: ev.Actor,
) -> Erasure:
    """Record the erasure in every file of the subject, then destroy its keys. A legal
    hold on any file refuses the whole erasure (the files share the keys)."""
    keys = keys_of(ledger)
    case_ids = keys.cases_of(subject_id)
    cases = [ledger.get_case(case_id) for case_id in case_ids]
    held = [case.id for case in cases if case.file.legal_hold]
    if held:
        raise ErasureError(
            f"file(s) {', '.join(map(str, held))} are under legal hold (LegalHoldPlaced); "
            "record LegalHoldLifted when the dispute ends, then erase"
        )
    recorded = 0
    for case in cases:
        if case.file.erased_on is not None:
            continue  # a retry after a crash: this file has its record already
        try:
            case.record(
                ev.PersonalDataErased,
                event_id=uuid4(),
                occurred_on=date.today(),  # the day the keys go, whatever day was judged
                actor=actor,
                ground=ground,
                reason=reason,
            )
        except RuleViolation as violation:
            raise ErasureError(f"case {case.id}: {violation}") from None
        ledger.save(case)
        recorded += 1
    destroyed = keys.erase(subject_id)
    return Erasure(subject_id, tuple(case_ids), recorded, destroyed)


def retention_review(ledger: Ledger, store: ReadModelStore, on: date) -> Iterator[SubjectRetention]:
    """Every subject with files, judged for ``on`` (the case-state view is caught up first)."""
    ProjectionRunner(ledger, store, [CaseStateProjection()]).run()
    rows = store.query(
        "SELECT subject_id, case_id, reintegration_ended_on, legal_hold, erased_on "
        "FROM {case_state} WHERE subject_id IS NOT NULL ORDER BY subject_id, case_id"
    )
    for subject_id, group in groupby(rows, key=lambda row: row["subject_id"]):
        files = [
            FileRetention(
                row["case_id"],
                date.fromisoformat(row["reintegration_ended_on"])
                if row["reintegration_ended_on"]
                else None,
                bool(row["legal_hold"]),
                row["erased_on"] is not None,
            )
            for row in group
        ]
        yield subject_retention(subject_id, files, on)


def apply_retention(
    ledger: Ledger,
    due: list[SubjectRetention],
    on: date,
    progress: Callable[[int, int], None] | None = None,
) -> list[Erasure]:
    rule = retention_rule(on)
    done = []
    for number, subject in enumerate(due, 1):
        done.append(
            erase_subject(
                ledger,
                UUID(subject.subject_id),
                ground=ev.ErasureGround.RETENTION_ENDED,
                reason=f"retention ended on {subject.retention_ends_on} ({rule.source})"[:500],
                actor=SYSTEM_ERASER,
            )
        )
        if progress is not None:
            progress(number, len(due))
    return done
