"""Forgetting an employee: crypto-shredding, and retention (rules reference section 5).

The events stay; the keys go. First each file records ``PersonalDataErased`` (so a
crash between the two steps leaves a record and a retry finishes the job), then the
files' keys are destroyed, and the employee's blind index with the last of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from uuid import UUID, uuid4

from domain import events as ev
from domain.case import Case
from domain.retention import (
    FileRetention,
    RetentionDecision,
    erasure_refusal,
    judge_file,
    reintegration_ended_on,
    retention_rule,
)
from domain.rules import RuleViolation
from infra.keys import KeyRing
from infra.readmodel import ReadModelStore
from projections.case_state import CaseStateProjection, retention_rows
from projections.runner import ReadModelRunner
from services.application.ledger import Ledger

SYSTEM_ERASER = ev.Actor(role=ev.ActorRole.SYSTEM, id="ledger-retention")


class ErasureError(RuntimeError):
    """The erasure cannot happen; the message says why and what to do."""


@dataclass(frozen=True)
class Erasure:
    subject_id: UUID | None
    cases: tuple[UUID, ...]
    events_recorded: int
    keys_destroyed: int
    # older copies of the destroyed keys (WAL, base backups, ``export --backup``) are
    # wrapped by these master keys and open until they are rotated away and retired
    copies_open_until_retired: tuple[str, ...] = ()


def keys_of(ledger: Ledger) -> KeyRing:
    if ledger.keys is None:
        raise ErasureError("this ledger stores no keys (protect=False); nothing to erase")
    return ledger.keys


def file_retention(case: Case, subject_id: UUID | None) -> FileRetention:
    state, file = case.current, case.file
    return FileRetention(
        str(case.id),
        str(subject_id or ""),
        state.status.value,
        reintegration_ended_on(state),
        file.legal_hold,
        file.erased_on is not None,
    )


def erase_employee(
    ledger: Ledger, employee_id: str, *, employer_id: str, ground: ev.ErasureGround,
    reference: str, actor: ev.Actor,
) -> Erasure:  # fmt: skip
    """Every file of the employee at the employer, on request (art. 17 AVG), unless the
    law still needs one of them (``domain.retention.erasure_refusal``): then nothing is
    erased. Another employer's files are never judged: the same id there is someone else."""
    keys = keys_of(ledger)
    keys.refresh()
    subject = keys.find_subject(employee_id, employer_id)
    if subject is None:
        raise ErasureError(
            f"no employee {employee_id!r} of employer {employer_id!r} has data here (never "
            "reported, or erased already); check both ids"
        )
    files = [ledger.get_case(case_id) for case_id in keys.cases_of(subject)]
    # a store made before employees were scoped may share a subject between employers
    cases = [case for case in files if case.current.employer_id == employer_id]
    refusal = erasure_refusal([file_retention(c, subject) for c in cases], date.today())
    if refusal:
        raise ErasureError(refusal)
    recorded, destroyed = erase_files(ledger, cases, ground=ground, reference=reference,
                                      actor=actor)  # fmt: skip
    keys.forget_employee(employee_id, employer_id)
    masters = tuple(master.id for master in keys.masters)
    return Erasure(subject, tuple(c.id for c in cases), recorded, destroyed, masters)


def erase_files(
    ledger: Ledger, cases: Sequence[Case], *, ground: ev.ErasureGround, reference: str,
    actor: ev.Actor,
) -> tuple[int, int]:  # fmt: skip
    """Record the erasure in each file, then destroy the files' keys: (events, key rows)."""
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
                reference=reference,
            )
        except RuleViolation as violation:
            raise ErasureError(f"case {case.id}: {violation}") from None
        ledger.save(case)
        recorded += 1
    return recorded, keys_of(ledger).erase_files([case.id for case in cases])


def retention_review(ledger: Ledger, store: ReadModelStore, on: date) -> list[RetentionDecision]:
    """Every file with keys, judged for ``on`` (the case-state view is caught up first)."""
    ReadModelRunner(ledger, store, [CaseStateProjection()]).run()
    rows = retention_rows(store)
    return [
        judge_file(
            FileRetention(
                row["case_id"],
                row["subject_id"],
                row["status"],
                date.fromisoformat(row["reintegration_ended_on"])
                if row["reintegration_ended_on"]
                else None,
                bool(row["legal_hold"]),
                row["erased_on"] is not None,
            ),
            on,
        )
        for row in rows
    ]


def apply_retention(
    ledger: Ledger,
    due: Sequence[RetentionDecision],
    on: date,
    progress: Callable[[int, int], None] | None = None,
) -> list[Erasure]:
    """Erase every due file; only for today or a past day (a future day would erase early)."""
    if on > date.today():
        raise ErasureError(f"--apply judges today or an earlier day, not {on}")
    rule = retention_rule(on)
    done = []
    for number, decision in enumerate(due, 1):
        case = ledger.get_case(UUID(decision.file.case_id))
        judged = judge_file(file_retention(case, None), on)  # the file as it is now
        if not judged.erasable:
            continue
        reference = f"retention-{rule.years_after_end}y-ended-{decision.retention_ends_on}"
        recorded, destroyed = erase_files(
            ledger, [case], ground=ev.ErasureGround.RETENTION_ENDED, reference=reference,
            actor=SYSTEM_ERASER,
        )  # fmt: skip
        subject = UUID(decision.file.subject_id) if decision.file.subject_id else None
        done.append(Erasure(subject, (case.id,), recorded, destroyed))
        if progress is not None:
            progress(number, len(due))
    keys_of(ledger).drop_orphan_subjects()
    return done
