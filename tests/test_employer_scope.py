"""Issue 19, hole 4 (first half): an employee is scoped to their employer.

An employee id means something only at its employer (a personnel number): employer B
reporting the id "E1" reports its own employee, never employer A's. So B's file can no
longer hold up the erasure of A's employee (rules reference s5, erasure on request).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain import events as ev
from domain.access import Principal, Role
from domain.interchange import parse_line
from infra.keys import KeyRing
from services.application.erasure import erase_employee
from services.application.importer import import_lines, numbered
from services.application.ledger import Ledger, VersionConflictError
from services.application.sickness import ReportSickness, report_sickness
from services.bootstrap import bootstrap
from tests.factories import line

FIRST = date(2026, 3, 2)
ADMIN = Principal("admin", Role.ADMIN)
ERASER = ev.Actor(role=ev.ActorRole.SYSTEM, id="privacy-officer")


def _report(rt: Any, employee: str, employer: str, day: date = FIRST) -> UUID:
    done = report_sickness(rt, ADMIN, ReportSickness(
        employee_id=employee, employer_id=employer, first_sick_day=day, event_id=uuid4(),
        new_case_id=uuid4()))  # fmt: skip
    return done.case_id


def _subject(ledger: Ledger, case_id: UUID) -> UUID | None:
    return ledger.get_case(case_id).current.subject_id


def test_the_same_employee_id_at_two_employers_is_two_people(database_url: str) -> None:
    with bootstrap(database_url=database_url, follow_seconds=0) as rt:
        at_a = _report(rt, "E1", "ER-A")
        at_b = _report(rt, "E1", "ER-B")
        assert _subject(rt.ledger, at_a) != _subject(rt.ledger, at_b)


def test_another_employers_file_does_not_hold_up_an_erasure(database_url: str) -> None:
    """The attack: B reports A's employee id sick and keeps the file running; A's
    employee asks for erasure of their ended file."""
    with bootstrap(database_url=database_url, follow_seconds=0) as rt:
        at_a = _report(rt, "E1", "ER-A", FIRST - timedelta(days=1200))
        ended = [line(at_a, "RecoveryReported", FIRST - timedelta(days=1100)),
                 line(at_a, "CaseClosed", FIRST - timedelta(days=1090), outcome="recovered")]
        import_lines(rt.ledger, numbered([json.dumps(item) for item in ended]))
        at_b = _report(rt, "E1", "ER-B")  # running
        done = erase_employee(rt.ledger, "E1", employer_id="ER-A",
                              ground=ev.ErasureGround.ERASURE_REQUEST, reference="AVG-17",
                              actor=ERASER)  # fmt: skip
        assert done.cases == (at_a,)
        assert rt.ledger.get_case(at_a).file.erased_on is not None
        assert rt.ledger.get_case(at_b).file.erased_on is None
        assert rt.ledger.get_case(at_b).current.employee_id == "E1"  # B's file still opens


def _as_before_scoping(keys: KeyRing, *people: tuple[str, UUID]) -> None:
    """Put the blind index back as a store made before scoping held it: digests of the
    employee id alone, under the same index key, at index version 1."""
    keys.store.write("DELETE FROM {subject_index}")
    keys.store.write_many(
        "INSERT INTO {subject_index} (blind, subject_id, created_at) VALUES (?, ?, ?)",
        [[keys.digest(employee), str(subject), "2025-01-01T00:00:00.000000Z"]
         for employee, subject in people],
    )  # fmt: skip
    keys.store.write("UPDATE {key_epoch} SET n = 1 WHERE name = 'subject_index_version'")


def test_a_store_indexed_before_scoping_is_indexed_again_at_start(database_url: str) -> None:
    """A store written when the blind index held digests of the employee id alone: the
    next ledger to start indexes every reported (employer, employee) under its subject
    and drops the old digests; request fingerprints (the same key) do not change."""
    with bootstrap(database_url=database_url, follow_seconds=0) as rt:
        case_id = _report(rt, "E8", "ER-A")
        subject = _subject(rt.ledger, case_id)
        keys = rt.ledger.keys
        assert keys is not None
        assert subject is not None
        fingerprint = keys.digest("a request")
        _as_before_scoping(keys, ("E8", subject))
    with bootstrap(database_url=database_url, follow_seconds=0) as rt:
        keys = rt.ledger.keys
        assert keys is not None
        assert not keys.has_unscoped_index()
        assert keys.find_subject("E8", "ER-A") == subject
        assert keys.find_subject("E8", "ER-B") is None
        blinds = [row["blind"] for row in keys.store.query("SELECT blind FROM {subject_index}")]
        assert blinds == [keys.blind("E8", "ER-A")]  # the old digest is gone
        assert keys.digest("a request") == fingerprint  # a retry is still known


def test_an_erasure_forgets_the_employee_where_an_old_store_shares_a_subject(
    database_url: str,
) -> None:
    """Review: in a store made before scoping, one subject can hold two employers' files;
    erasing the employee at one employer left them findable there while the other's
    file ran."""
    with bootstrap(database_url=database_url, follow_seconds=0) as rt:
        at_a = _report(rt, "E10", "ER-A", FIRST - timedelta(days=1200))
        subject = _subject(rt.ledger, at_a)
        keys = rt.ledger.keys
        assert keys is not None
        assert subject is not None
        keys.store.write(  # the old index gave ER-B's report of E10 the same subject
            "INSERT INTO {subject_index} (blind, subject_id, created_at) VALUES (?, ?, ?)",
            [keys.blind("E10", "ER-B"), str(subject), "2025-01-01T00:00:00.000000Z"],
        )
        at_b = _report(rt, "E10", "ER-B")
        assert _subject(rt.ledger, at_b) == subject
        ended = [line(at_a, "RecoveryReported", FIRST - timedelta(days=1100)),
                 line(at_a, "CaseClosed", FIRST - timedelta(days=1090), outcome="recovered")]
        import_lines(rt.ledger, numbered([json.dumps(item) for item in ended]))
        erase_employee(rt.ledger, "E10", employer_id="ER-A",
                       ground=ev.ErasureGround.ERASURE_REQUEST, reference="AVG-18",
                       actor=ERASER)  # fmt: skip
        assert keys.find_subject("E10", "ER-A") is None
        assert keys.find_subject("E10", "ER-B") == subject  # B's running file needs it


def test_a_command_read_before_an_erasure_elsewhere_is_refused_by_the_store(
    database_url: str,
) -> None:
    """Issue 20 (one erasure-epoch read per command): an append given the case its caller
    read no longer checks the epoch again. It need not: an erasure by another process
    after that read appended to the file, so the stale read's version is refused, and the
    retry loads the file afresh under the forgotten keys."""
    with bootstrap(database_url=database_url, follow_seconds=0) as here, \
            bootstrap(database_url=database_url, follow_seconds=0) as elsewhere:
        case_id = _report(here, "E7", "ER-A", FIRST - timedelta(days=1200))
        ended = [line(case_id, "RecoveryReported", FIRST - timedelta(days=1100)),
                 line(case_id, "CaseClosed", FIRST - timedelta(days=1090), outcome="recovered")]
        import_lines(here.ledger, numbered([json.dumps(item) for item in ended]))
        read = here.ledger.get_case(case_id)  # the route's read, after its own refresh
        version_read = read.version
        erase_employee(elsewhere.ledger, "E7", employer_id="ER-A",
                       ground=ev.ErasureGround.ERASURE_REQUEST, reference="AVG-20",
                       actor=ERASER)  # fmt: skip
        late = parse_line(json.dumps(line(case_id, "EventRetracted", FIRST,
                                          retracts=ended[1]["event_id"],
                                          reason="closed by mistake")))  # fmt: skip
        with pytest.raises(VersionConflictError):
            here.ledger.append(late, read=read)
        stored = here.ledger.get_case(case_id)
        assert [type(e).__name__ for e in stored.history][-1] == "PersonalDataErased"
        assert stored.version == version_read + 1  # the erasure, nothing of ours
        assert stored.file.erased_on is not None
