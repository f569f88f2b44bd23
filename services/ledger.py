"""The ledger application: commands and queries over the event store.

Thin by design (cosmicpython's service layer, eventsourcing's ``Application``):
get the case, call one domain method, save. Rules live in ``domain``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, Mapper

from domain import events as ev
from domain.case import Case, record_fact
from domain.interchange import InterchangeLine, event_fields, to_line
from infra.config import database_url, eventsourcing_env
from infra.mapper import PydanticMapper
from infra.store import existing_aggregate_ids


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
    """The re-integration ledger over one event store."""

    name = "Ledger"

    def __init__(self, url: str | None = None, env: dict[str, str] | None = None) -> None:
        self.database_url = url or database_url()
        super().__init__({**eventsourcing_env(self.database_url), **(env or {})})

    def construct_mapper(self) -> Mapper[UUID]:
        return cast(
            Mapper[UUID],
            self.factory.mapper(
                transcoder=self.construct_transcoder(), mapper_class=PydanticMapper
            ),
        )

    # --- commands ---------------------------------------------------------

    def append(self, line: InterchangeLine, expected_version: int | None = None) -> Appended:
        """Record one interchange event; a repeated ``event_id`` appends nothing.

        With ``expected_version`` the case must be at that version (0: must not exist);
        a concurrent writer that saved first also raises ``VersionConflictError``.
        """
        case = self.find_case(line.case_id)
        if case is not None and line.event_id in case.events_by_id:
            return Appended(same_as_stored(case, line), duplicate=True)
        current = case.version if case is not None else 0
        if expected_version is not None and expected_version != current:
            raise VersionConflictError(line.case_id, expected_version, current)
        case = offer(case, line)
        try:
            self.save(case)
        except IntegrityError:
            latest = self.find_case(line.case_id)
            raise VersionConflictError(
                line.case_id, expected_version, latest.version if latest else 0
            ) from None
        return Appended(case.events_by_id[line.event_id], duplicate=False)

    def append_retrying(self, line: InterchangeLine, attempts: int = 5) -> Appended:
        """``append``, reading the case again when another writer saved first."""
        for attempt in range(attempts):
            try:
                return self.append(line)
            except VersionConflictError:
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def save_events(self, events: Sequence[ev.CaseEvent]) -> None:
        """Store events exactly in the given order, in one transaction."""
        self.events.put(list(events))

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

    def stored_events(self, batch_size: int = 1000) -> Iterator[ev.CaseEvent]:
        """Every stored event in store (notification) order, tolerating id gaps."""
        start = 0
        while True:
            page = self.recorder.select_notifications(start, batch_size, inclusive_of_start=False)
            if not page:
                return
            for notification in page:
                yield cast(ev.CaseEvent, self.mapper.to_domain_event(notification))
            start = page[-1].id

    def export(self, case_id: UUID | None = None) -> Iterator[dict[str, Any]]:
        """Interchange objects: one case's events by version, or all in store order."""
        events = self.get_case(case_id).history if case_id else self.stored_events()
        for event in events:
            yield to_line(event)


def offer(case: Case | None, line: InterchangeLine) -> Case:
    """Apply an interchange line to its case (new when ``case`` is None)."""
    event_class = ev.CATALOGUE[line.type]
    return record_fact(case, line.case_id, event_class, **event_fields(line))


def same_as_stored(case: Case, line: InterchangeLine) -> ev.CaseEvent:
    """The stored event with this line's id, if the line says the same; else raise."""
    stored = case.events_by_id[line.event_id]
    offered: dict[str, Any] = {
        "type": line.type,
        "occurred_on": line.occurred_on.isoformat(),
        "actor": line.actor.model_dump(mode="json"),
        "data": line.data.model_dump(mode="json"),
    }
    known = to_line(stored)
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
