"""What a projection is: a function from a case's events to read-model rows.

The runner brings each case touched by a batch up to date (``CaseCache``) and
asks every projection for the rows of that case. The rows depend only on the
events applied so far, never on the clock, so a rebuild from zero gives the
same rows as years of incremental updates.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Sequence
from uuid import UUID

from domain import events as ev
from domain.case import Case
from infra.readmodel import Change, Table

# Loads a case at a version from the event store (``repository.get``).
CaseLoader = Callable[[UUID, int], Case]


class CaseProjection(ABC):
    """A read model kept per case: each batch gives it the cases that changed."""

    name: str
    tables: tuple[Table, ...]

    @property
    def tracking_name(self) -> str:
        """The position's key: it names the tables' versions, so that a new shape of a
        table starts from zero instead of continuing from the old table's position."""
        return ":".join([self.name, *(table.physical for table in self.tables)])

    @abstractmethod
    def changes(self, case: Case, new_events: Sequence[ev.CaseEvent]) -> list[Change]:
        """How the tables change now that ``case`` has ``new_events`` (already applied)."""


class CaseCache:
    """The cases a runner has seen recently, advanced event by event.

    A case whose next version is not the cached one (cache evicted, another
    runner, a failed batch) is loaded from the store at the version needed, so
    the cache can be stale but never wrong.
    """

    def __init__(self, load: CaseLoader, capacity: int = 20_000) -> None:
        self._load = load
        self._capacity = capacity
        self._cases: OrderedDict[UUID, Case] = OrderedDict()

    def advance(self, case_id: UUID, events: Sequence[ev.CaseEvent]) -> Case:
        """The case after ``events``: consecutive versions of one case, oldest first."""
        case = self._cases.pop(case_id, None)
        first = events[0].originator_version
        if case is not None and case.version == first - 1:
            for event in events:
                event.mutate(case)
        elif first == 1:
            case = from_scratch(events)
        else:
            case = self._load(case_id, events[-1].originator_version)
        self._cases[case_id] = case
        if len(self._cases) > self._capacity:
            self._cases.popitem(last=False)
        return case

    def clear(self) -> None:
        self._cases.clear()


def from_scratch(events: Sequence[ev.CaseEvent]) -> Case:
    case = events[0].mutate(None)
    assert isinstance(case, Case)
    for event in events[1:]:
        event.mutate(case)
    return case
