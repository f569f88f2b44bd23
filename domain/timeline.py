"""The effective timeline of a case: its facts after corrections and retractions.

Bitemporal reading: ``known_at`` keeps only what the ledger had recorded by then
(including only the corrections known by then); ``as_of`` keeps only facts that
had happened by that business date.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from domain.events import CaseEvent, EventCorrected, EventRetracted, RecordKeepingEvent


def known_by(history: Iterable[CaseEvent], known_at: datetime | None) -> list[CaseEvent]:
    """The events the ledger had recorded at ``known_at`` (all of them when ``None``)."""
    if known_at is None:
        return list(history)
    return [event for event in history if event.recorded_at <= known_at]


def corrected(target: CaseEvent, correction: EventCorrected) -> CaseEvent:
    """``target`` as the correction says it should have been recorded (validated again)."""
    state: dict[str, Any] = target.model_dump()
    if correction.corrected_occurred_on is not None:
        state["occurred_on"] = correction.corrected_occurred_on
    if correction.corrected_data:
        state.update(correction.corrected_data)
    return type(target).model_validate(state)


def effective_events(
    history: Sequence[CaseEvent],
    *,
    known_at: datetime | None = None,
    as_of: date | None = None,
) -> list[CaseEvent]:
    """The case's facts as they stand, in business order (``occurred_on``, then recording).

    Retracted events are left out, corrected events appear as corrected, and the
    correction, retraction and record-keeping events themselves are not facts of the case.
    """
    known = known_by(history, known_at)
    retracted = {event.retracts for event in known if isinstance(event, EventRetracted)}
    facts: dict[UUID, CaseEvent] = {
        event.event_id: event
        for event in known
        if not isinstance(event, EventCorrected | EventRetracted | RecordKeepingEvent)
    }
    for event in known:
        if (
            isinstance(event, EventCorrected)
            and event.event_id not in retracted
            and event.corrects in facts
        ):
            facts[event.corrects] = corrected(facts[event.corrects], event)
    timeline = [
        event
        for event_id, event in facts.items()
        if event_id not in retracted and (as_of is None or event.occurred_on <= as_of)
    ]
    timeline.sort(key=lambda event: (event.occurred_on, event.originator_version))
    return timeline


@dataclass(frozen=True)
class TimelineEntry:
    """One recorded event with what became of it, for the file's full timeline."""

    event: CaseEvent
    effective_on: date  # the business date after corrections
    corrected_by: tuple[UUID, ...] = ()  # corrections of this event, in recording order
    retracted_by: UUID | None = None

    @property
    def status(self) -> str:
        if self.retracted_by is not None:
            return "retracted"
        return "corrected" if self.corrected_by else "effective"


def full_timeline(
    history: Sequence[CaseEvent], *, known_at: datetime | None = None
) -> list[TimelineEntry]:
    """Every recorded event in business order, corrections and retractions included,
    each marked with the events that corrected or retracted it."""
    known = known_by(history, known_at)
    effective = {event.event_id: event for event in effective_events(known)}
    retracted_by = {e.retracts: e.event_id for e in known if isinstance(e, EventRetracted)}
    corrected_by: dict[UUID, list[UUID]] = {}
    for event in known:
        if isinstance(event, EventCorrected) and event.event_id not in retracted_by:
            corrected_by.setdefault(event.corrects, []).append(event.event_id)
    entries = [
        TimelineEntry(
            event,
            effective[event.event_id].occurred_on
            if event.event_id in effective
            else event.occurred_on,
            tuple(corrected_by.get(event.event_id, ())),
            retracted_by.get(event.event_id),
        )
        for event in known
    ]
    entries.sort(key=lambda entry: (entry.effective_on, entry.event.originator_version))
    return entries
