"""The ledger application: commands and queries over the event store.

Thin by design (cosmicpython's service layer, eventsourcing's ``Application``):
get the case, call one domain method, save. Rules live in ``domain``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import datetime_now_with_tzinfo
from eventsourcing.persistence import IntegrityError, Mapper, StoredEvent

from domain import events as ev
from domain.access import Principal, may_read_medical
from domain.case import Case, holds_open_file, opens_file, record_fact
from domain.interchange import InterchangeLine, event_fields, to_line
from domain.plausible import recorded_at_problem
from domain.privacy import Protection, protected_fields
from domain.rules import ERASURE_ONLY_BY_COMMAND, RECORDED_NOT_IN_FUTURE, RuleViolation, Violation
from infra import open_files
from infra.config import database_url, eventsourcing_env
from infra.event_ids import is_event_id_clash
from infra.keys import ORPHAN_AFTER_SECONDS, Employee, KeyRing
from infra.log_consumer import NotificationLog
from infra.mapper import PydanticMapper
from infra.open_files import Holder
from infra.readmodel import ReadModelStore
from infra.store import cases_of_event_ids, existing_aggregate_ids
from services.schema import open_store

# a claim whose file is not in the store this long after it was made was left by a writer
# that died (or was refused) between claiming and writing; before that it may be in flight
ABANDONED_CLAIM_SECONDS = 60


class UnknownCaseError(LookupError):
    def __init__(self, case_id: UUID) -> None:
        super().__init__(f"case {case_id} does not exist")
        self.case_id = case_id


class DuplicateEventError(ValueError):
    """An event id that is already stored names different content."""


class VersionConflictError(RuntimeError):
    """The case is not at the version the writer expected (someone else wrote first)."""

    def __init__(self, case_id: UUID, expected: int | None, current: int) -> None:
        wanted = f"version {expected}" if expected is not None else "the version it read"
        super().__init__(f"case {case_id} is at version {current}, not {wanted}")
        self.case_id, self.expected, self.current = case_id, expected, current


@dataclass(frozen=True)
class Appended:
    """The outcome of offering one event: appended, or already there (idempotent)."""

    event: ev.CaseEvent
    duplicate: bool


class Ledger(Application[UUID]):
    """The re-integration ledger over one event store.

    Personal and medical fields are stored sealed with the employee's keys
    (``infra.keys``). ``protect=False`` stores them in plain text; it exists only so
    that ``bench/`` can measure what the protection costs.
    """

    name = "Ledger"

    def __init__(
        self,
        url: str | None = None,
        env: dict[str, str] | None = None,
        *,
        protect: bool = True,
        store: ReadModelStore | None = None,
    ) -> None:
        """``store`` is the side store holding the keys (``services.bootstrap`` passes the
        one it opened); without one the ledger opens, migrates and closes its own."""
        self.database_url = url or database_url()
        self.keys: KeyRing | None = None
        self._own_store: ReadModelStore | None = None
        self._claims: ReadModelStore | None = None  # open files (infra/open_files.py)
        if protect:
            if store is None:
                store = self._own_store = open_store(self.database_url)
            self.keys = KeyRing.load(store)
            self._claims = store
        super().__init__({**eventsourcing_env(self.database_url), **(env or {})})
        if self.keys is not None and self.keys.has_unscoped_index():
            self.keys.scope_index(self._reported_people())

    def _reported_people(self) -> Iterator[tuple[str, str, UUID]]:
        """(employee, employer, subject) of every readable sickness report in the log."""
        reports = self.notifications.pages(None, sealed=False, topics=[ev.REPORT_TOPIC])
        for page in reports:
            for report in page.events:
                assert isinstance(report, ev.SicknessReported)
                if isinstance(report.employee_id, str) and report.subject_id is not None:
                    yield report.employee_id, report.employer_id, report.subject_id

    def construct_mapper(self) -> Mapper[UUID]:
        mapper = self.factory.mapper(
            transcoder=self.construct_transcoder(), mapper_class=PydanticMapper
        )
        assert isinstance(mapper, PydanticMapper)
        mapper.keyring = self.keys
        return cast(Mapper[UUID], mapper)

    def close(self) -> None:
        if self._own_store is not None:
            self._own_store.close()
        super().close()

    def subject_of(
        self, line: InterchangeLine, known: dict[Employee, UUID] | None = None
    ) -> UUID | None:
        """The employee's subject, for a sickness report (created on first use);
        ``known`` holds subjects looked up in bulk (``subjects_of``)."""
        employee = _reported_employee(line)
        if self.keys is None or employee is None:
            return None
        if known is not None and employee in known:
            return known[employee]
        return self.keys.subject_for(*employee)

    def subjects_of(self, lines: Sequence[InterchangeLine]) -> dict[Employee, UUID]:
        """The subjects of every employee reported sick in ``lines``, in a few statements."""
        if self.keys is None:
            return {}
        employees = [e for e in map(_reported_employee, lines) if e is not None]
        return self.keys.subjects_for(employees) if employees else {}

    # --- commands ---------------------------------------------------------

    def append(
        self,
        line: InterchangeLine,
        expected_version: int | None = None,
        *,
        read: Case | None = None,
    ) -> Appended:
        """Record one interchange event; a repeated ``event_id`` appends nothing.

        With ``expected_version`` the case must be at that version (0: must not exist);
        a concurrent writer that saved first also raises ``VersionConflictError``.
        ``read`` is the case as the caller just loaded it (to authorise the command), so
        that it is not loaded twice; a writer that saved since is refused as above.
        """
        fresh = read is not None and read.id == line.case_id
        if self.keys is not None and not fresh:
            self.keys.refresh()  # an erasure by another process counts at once
        # (A caller's ``read`` came after its own refresh; an erasure since then appended
        # to the file, so the store refuses the stale version below.)
        case = read if fresh else self.find_case(line.case_id)
        if case is not None and line.event_id in case.events_by_id:
            return Appended(self.same_as_stored(case, line), duplicate=True)
        current = case.version if case is not None else 0
        if expected_version is not None and expected_version != current:
            raise VersionConflictError(line.case_id, expected_version, current)
        before = case.current if case is not None else None
        case = offer(case, line, self.subject_of(line))
        claimed = self.claim_open_file(case) if opens_file(before, case.current) else False
        try:
            self.save(case)
        except BaseException as error:
            if claimed and self.find_case(case.id) is None:  # not another writer's file
                self.release_open_files([case.id])
            if not isinstance(error, IntegrityError):
                raise
            if is_event_id_clash(error):
                raise DuplicateEventError(used_elsewhere(line.event_id)) from None
            latest = self.find_case(line.case_id)
            raise VersionConflictError(
                line.case_id, expected_version, latest.version if latest else 0
            ) from None
        return Appended(case.events_by_id[line.event_id], duplicate=False)

    def claim_open_file(self, case: Case, pending: Mapping[UUID, bool] | None = None) -> bool:
        """Claim the employee's one open file at the employer for ``case``, which a write is
        about to open (rule one_open_file_per_employee); whether a claim was made (not for
        a ledger without keys, which knows no employees). Raises ``FileAlreadyOpenError``
        while another file holds it. ``pending``: files the same write (an import) stores
        too, by whether they are open after it."""
        subject = case.current.subject_id
        if self._claims is None or subject is None:
            return False

        def still_holds(holder: Holder) -> bool:
            if pending is not None and holder.case_id in pending:
                return pending[holder.case_id]
            found = self.find_case(holder.case_id)
            if found is None:  # claimed by a writer that has not written it (yet)
                return time.time() - holder.claimed_at < ABANDONED_CLAIM_SECONDS
            return holds_open_file(found.current)

        open_files.claim(self._claims, subject, case.current.employer_id, case.id, still_holds)
        return True

    def claim_free_files(self, cases: Sequence[Case]) -> set[UUID]:
        """``claim_open_file`` for many cases at once, where no file holds the employee's
        row yet (a few statements); the cases claimed. The rest need ``claim_open_file``."""
        claims = [(c.current.subject_id, c.current.employer_id, c.id) for c in cases]
        free = [(s, e, c) for s, e, c in claims if s is not None]
        if self._claims is None or not free:
            return set()
        return open_files.claim_free(self._claims, free)

    def release_open_files(self, case_ids: Sequence[UUID]) -> None:
        """Give up the open-file claims of cases a refused write did not store."""
        if self._claims is not None and case_ids:
            open_files.release(self._claims, list(case_ids))

    def append_retrying(
        self, line: InterchangeLine, attempts: int = 5, *, read: Case | None = None
    ) -> Appended:
        """``append``, reading the case again when another writer saved first."""
        for attempt in range(attempts):
            try:
                return self.append(line, read=read if attempt == 0 else None)
            except VersionConflictError:
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def open_new_files(self, events: Sequence[ev.CaseEvent]) -> dict[UUID, str]:
        """Open the keys of the files these events' sickness reports start, in one statement;
        the token of each key row this call created (``drop_unwritten_files``)."""
        if self.keys is None:
            return {}
        self.keys.refresh()
        return self.keys.open_files([
            (e.originator_id, e.subject_id)
            for e in events
            if isinstance(e, ev.SicknessReported) and e.subject_id is not None
        ])  # fmt: skip

    def seal(self, events: Sequence[ev.CaseEvent]) -> list[StoredEvent]:
        """The events as they will be stored (protected fields sealed), written later by
        ``write_sealed``. Open new files first with ``open_new_files`` (one statement);
        else the mapper opens each file as it seals its report."""
        return [self.mapper.to_stored_event(event) for event in events]

    def write_sealed(self, stored: Sequence[StoredEvent]) -> None:
        """Store sealed events exactly in the given order, in one transaction."""
        self.recorder.insert_events(stored)

    def drop_unwritten_files(self, opened: Sequence[tuple[UUID, str]]) -> int:
        """Take back the key rows a refused import created for files it never wrote; how
        many."""
        if self.keys is None or not opened:
            return 0
        written = self.existing_case_ids([case_id for case_id, _ in opened])
        unwritten = [pair for pair in opened if pair[0] not in written]
        if unwritten:
            self.keys.drop_unused_files(unwritten)
        return len(unwritten)

    def drop_abandoned_files(self, older_than_seconds: int = ORPHAN_AFTER_SECONDS) -> int:
        """Key rows of files opened a day ago or more and never written (an import killed
        between checking and writing): taken back, so no key outlives a file never
        stored; how many. Rows an earlier sweep looked at are not read again."""
        if self.keys is None:
            return 0
        until = time.time() - older_than_seconds
        dropped = self.drop_unwritten_files(self.keys.files_opened_unswept(until))
        self.keys.swept(until)
        return dropped

    # --- queries ----------------------------------------------------------

    def get_case(self, case_id: UUID) -> Case:
        case = self.find_case(case_id)
        if case is None:
            raise UnknownCaseError(case_id)
        return case

    def find_case(self, case_id: UUID) -> Case | None:
        try:
            return cast(Case, self.repository.get(case_id))
        except AggregateNotFoundError:
            return None

    def existing_case_ids(self, case_ids: Sequence[UUID]) -> set[UUID]:
        return existing_aggregate_ids(self.recorder, case_ids)

    def cases_of_event_ids(self, event_ids: Sequence[UUID]) -> dict[UUID, UUID]:
        """The case already storing each of ``event_ids`` (the store's one-id index)."""
        return cases_of_event_ids(self.recorder, event_ids)

    @property
    def notifications(self) -> NotificationLog:
        """The notification log, read in pages (``infra.log_consumer``)."""
        return NotificationLog(self.recorder, self.mapper)

    def stored_events(self, batch_size: int = 1000) -> Iterator[ev.CaseEvent]:
        """Every stored event in store (notification) order, tolerating id gaps."""
        return self.notifications.events(page_size=batch_size)

    def employee_ids(self, case_ids: Sequence[UUID]) -> dict[UUID, str | ev.Withheld]:
        """Each case's employee id, read from its sealed sickness report (read models keep
        none): the value, or withheld once erased."""
        found: dict[UUID, str | ev.Withheld] = {}
        for case_id in case_ids:
            first = self.recorder.select_events(case_id, lte=1)
            if first:
                report = self.mapper.to_domain_event(first[0])
                assert isinstance(report, ev.SicknessReported)
                found[case_id] = report.employee_id
        return found

    def same_as_stored(self, case: Case, line: InterchangeLine) -> ev.CaseEvent:
        """``same_as_stored``, comparing a withheld medical field with its sealed value. The
        answer (same or not) goes to a writer who holds the text already."""
        stored = case.events_by_id[line.event_id]
        medical = None
        if self.keys is not None and Protection.MEDICAL in protected_fields(type(stored)).values():
            medical = self._medical_fields(case.id).get(stored.event_id)
        return same_as_stored(case, line, medical)

    def medical_fields(self, case_id: UUID, principal: Principal) -> dict[UUID, dict[str, Any]]:
        """The opened medical fields of a case by event id: for the occupational physician
        only (rules reference section 5); erased ones stay withheld."""
        decision = may_read_medical(principal)
        if not decision:
            raise PermissionError(decision.reason)
        return self._medical_fields(case_id)

    def _medical_fields(self, case_id: UUID) -> dict[UUID, dict[str, Any]]:
        opened: dict[UUID, dict[str, Any]] = {}
        mapper = cast(PydanticMapper, self.mapper)
        for stored in self.recorder.select_events(case_id):
            event_class = ev.CATALOGUE.get(stored.topic.rsplit(":", 1)[-1])
            fields = protected_fields(event_class) if event_class else {}
            medical = [name for name, kind in fields.items() if kind is Protection.MEDICAL]
            if not medical or mapper.keyring is None:
                continue
            state = mapper.open_fields(stored, mapper.decode_state(stored), medical=True)
            opened[UUID(state["event_id"])] = {name: state.get(name) for name in medical}
        return opened

    def export(self, case_id: UUID | None = None) -> Iterator[dict[str, Any]]:
        """Interchange objects: one case's events by version, or all in store order."""
        events = self.get_case(case_id).history if case_id else self.stored_events()
        for event in events:
            yield to_line(event)


def _reported_employee(line: InterchangeLine) -> Employee | None:
    """(employee id, employer id) of a sickness report."""
    if line.type != "SicknessReported":
        return None
    employee = getattr(line.data, "employee_id", None)
    employer = getattr(line.data, "employer_id", None)
    if isinstance(employee, str) and isinstance(employer, str):
        return employee, employer
    return None


def offer(case: Case | None, line: InterchangeLine, subject_id: UUID | None = None) -> Case:
    """Apply an interchange line to its case (new when ``case`` is None); a sickness
    report gets the ledger's ``subject_id`` of its employee."""
    event_class = ev.CATALOGUE[line.type]
    if event_class is ev.PersonalDataErased:
        raise RuleViolation(
            Violation(ERASURE_ONLY_BY_COMMAND, "use `ledger erase`", "type", line.event_id)
        )
    if line.recorded_at is not None:  # a writer's own clock: checked against the ledger's
        future = recorded_at_problem(line.recorded_at, datetime_now_with_tzinfo())
        if future is not None:
            raise RuleViolation(
                Violation(RECORDED_NOT_IN_FUTURE, future, "recorded_at", line.event_id)
            )
    fields = event_fields(line)
    if event_class is ev.SicknessReported:
        fields["subject_id"] = subject_id
    return record_fact(case, line.case_id, event_class, **fields)


def used_elsewhere(event_id: UUID) -> str:
    """Why an ``event_id`` stored in another case cannot be used (naming no case: the caller
    may not be allowed to know it exists)."""
    return (
        f"event_id {event_id} is already used by an event of another case; event ids are "
        "unique across the ledger: use a new event_id"
    )


def same_as_stored(
    case: Case, line: InterchangeLine, medical: dict[str, Any] | None = None
) -> ev.CaseEvent:
    """The stored event with this line's id, if the line says the same; else raise.
    ``medical`` holds the stored event's opened medical fields, to compare with."""
    stored = case.events_by_id[line.event_id]
    offered: dict[str, Any] = {
        "type": line.type,
        "occurred_on": line.occurred_on.isoformat(),
        "actor": line.actor.model_dump(mode="json"),
        "data": line.data.model_dump(mode="json"),
    }
    known = to_line(stored)
    known["data"].update(medical or {})
    for name, value in known["data"].items():  # an erased value cannot be compared
        if value == {"withheld": "erased"} and name in offered["data"]:
            offered["data"][name] = value
    if line.recorded_at is not None:
        offered["recorded_at"] = line.recorded_at
        known["recorded_at"] = stored.recorded_at
    differs = sorted(key for key, value in offered.items() if known[key] != value)
    if differs:
        raise DuplicateEventError(
            f"event_id {line.event_id} is already stored with different {', '.join(differs)} "
            f"({stored.type} on {stored.occurred_on}); use a new event_id, "
            "or EventCorrected to correct the stored event"
        )
    return stored
