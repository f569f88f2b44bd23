"""The read-model runner: a log consumer that feeds the case projections.

For each page of the notification log it brings each touched case up to date and,
for each projection, writes the rows of those cases together with the page's last
notification id in one transaction. A crash anywhere leaves every projection at the
end of its last committed page; the next run starts after it.

An event a projection cannot apply is set aside with its reason (``projections.set_aside``)
in the page's transaction, and the runner goes on; the case's later events are tried
with it again, so a correction lets it through.

Works the same on SQLite and PostgreSQL. On PostgreSQL the library's insert
lock makes commit order equal notification order (stack.md), so a tailing
runner cannot skip an event that commits late.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from threading import Event
from typing import cast
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError

from domain import events as ev
from domain.case import Case
from infra.log_consumer import LogConsumer, NotificationLog, Page, Progress, ProgressCallback
from infra.readmodel import Change, PageWrite, PositionConflict, ReadModelStore, Replace
from projections.base import CaseCache, CaseProjection
from projections.bulk import CannotFoldError, Reopen, fill_shadows, tables_of
from projections.set_aside import (
    SET_ASIDE,
    SetAside,
    changes_or_set_aside,
    fold_each,
    forget_set_aside,
    pending_set_aside,
)

log = logging.getLogger("ledger.projections")

__all__ = ["Progress", "ProgressCallback", "ReadModelRunner", "RunSummary"]

CONFLICT_RETRIES = 5
Held = list[tuple[SetAside, ev.CaseEvent]]


@dataclass(frozen=True)
class RunSummary:
    positions: dict[str, int | None]
    events: int
    seconds: float


class ReadModelRunner(LogConsumer):
    """Feeds case projections from the ledger's notification log (read sealed: read
    models keep no personal data). The tables come from the schema, created at start."""

    name = "projections"

    def __init__(
        self,
        ledger: Application[UUID],
        store: ReadModelStore,
        projections: Sequence[CaseProjection],
        *,
        page_size: int = 5000,
        reopen: Reopen | None = None,
    ) -> None:
        """``reopen`` opens the ledger again in another process (a bulk rebuild's workers)."""
        super().__init__(NotificationLog(ledger.recorder, ledger.mapper), page_size=page_size)
        self.reopen = reopen
        self.ledger = ledger
        self.store = store
        self.projections = list(projections)
        self.cases = CaseCache(self._load)
        self._positions: dict[str, int | None] = {}
        self._last = RunSummary({}, 0, 0.0)
        # set-aside events by (tracking name, case), valid while no other runner moved
        self._held: dict[tuple[str, UUID], Held] = {}
        self._held_at: dict[str, int | None] | None = None

    def positions(self) -> dict[str, int | None]:
        return {p.name: self.store.position(p.tracking_name) for p in self.projections}

    def head(self) -> int:
        return self.log.head()

    def set_aside(self) -> dict[str, list[SetAside]]:
        """The events each projection set aside and has not applied since."""
        names = {p.tracking_name: p.name for p in self.projections}
        found: dict[str, list[SetAside]] = {p.name: [] for p in self.projections}
        for held in pending_set_aside(self.store, list(names)):
            found[names[held.projection]].append(held)
        return found

    def lag(self) -> int:
        """Notification ids not yet applied by the slowest projection (an upper bound)."""
        return self.head() - min((pos or 0) for pos in self.positions().values())

    def run(self, progress: ProgressCallback | None = None) -> RunSummary:
        """Apply everything in the log now; return when every projection is at the head.

        When another runner moves a projection meanwhile (a rebuild, a second
        follower), this one reads the positions again and carries on from there.
        """
        for attempt in range(CONFLICT_RETRIES):
            try:
                return self._run(progress)
            except PositionConflict:
                self.cases.clear()
                if attempt == CONFLICT_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _run(self, progress: ProgressCallback | None) -> RunSummary:
        self._positions = positions = self.positions()
        for projection in self.projections:
            if positions[projection.name] is None:  # nothing applied: no rows may be left
                self.store.reset(projection.tracking_name, projection.tables, only_if_new=True)
        if positions != self._held_at:  # first run, or another runner moved a projection
            self._load_held()
        started = time.monotonic()
        try:
            applied = self.catch_up(progress)
        except BaseException:
            self.cases.clear()  # cases may be ahead of what was committed
            self._held_at = None
            raise
        self._held_at = dict(positions)
        return RunSummary(dict(positions), applied, time.monotonic() - started)

    def start(self) -> int | None:
        return min((pos or 0 for pos in self._positions.values()), default=0)

    def apply(self, page: Page) -> int:
        return self._apply_page(self._positions, page.ids, list(page.events), page.last)

    def step(self) -> int:
        self._last = self.run()
        return self._last.events

    def rebuild(
        self, progress: ProgressCallback | None = None, *, bulk: bool = True, workers: int = 1
    ) -> RunSummary:
        """Rebuild every read model from the whole log: as a bulk job (``projections.bulk``,
        folding in ``workers`` processes when the runner can ``reopen`` its ledger), falling
        back to a replay if a case cannot be folded; or (``bulk=False``) by emptying the
        tables and replaying the log into them page by page."""
        head = self.head()
        if not bulk or not head:
            return self.replay(progress)
        started = time.monotonic()
        tables = tables_of(self.projections)
        self.store.create_shadows(tables)
        try:
            folded = fill_shadows(self.log, self.store, self.projections, head, progress,
                                  workers=workers, reopen=self.reopen)  # fmt: skip
        except CannotFoldError as error:
            log.warning("bulk rebuild: %s; replaying the log instead", error)
            self.store.drop_shadows(tables)
            return self.replay(progress)
        except BaseException:
            self.store.drop_shadows(tables)
            raise
        forget = [Replace(SET_ASIDE, {"projection": p.tracking_name}, []) for p in self.projections]
        self.store.swap_in(tables, {p.tracking_name: head for p in self.projections}, forget)
        self.cases.clear()
        self._held_at = None
        tail = self.run(progress)  # what was appended while the copies were filled
        return RunSummary(tail.positions, folded + tail.events, time.monotonic() - started)

    def replay(self, progress: ProgressCallback | None = None) -> RunSummary:
        """Empty every read model and replay the whole log into it."""
        for projection in self.projections:
            self.store.reset(projection.tracking_name, projection.tables)
            forget_set_aside(self.store, projection.tracking_name)
        self.cases.clear()
        self._held_at = None
        return self.run(progress)

    def follow_runs(
        self,
        stop: Event,
        *,
        poll_seconds: float = 1.0,
        on_run: Callable[[RunSummary], None] | None = None,
    ) -> None:
        """``follow``, telling ``on_run`` the summary of each run that applied events."""
        self.follow(
            stop,
            poll_seconds=poll_seconds,
            on_step=None if on_run is None else lambda _: on_run(self._last),
        )

    def _apply_page(
        self,
        positions: dict[str, int | None],
        ids: list[int],
        events: list[ev.CaseEvent],
        end: int,
    ) -> int:
        oldest = min(pos or 0 for pos in positions.values())
        fresh = [(i, e) for i, e in zip(ids, events, strict=True) if i > oldest]
        numbers = {e.event_id: i for i, e in fresh}
        cases, broken = self._advance_cases([e for _, e in fresh])
        writes: dict[str, PageWrite] = {}  # by projection name
        for projection in self.projections:
            done = positions[projection.name]
            new = _by_case([e for i, e in fresh if i > (done or 0)])
            if not new:
                continue
            changes: list[Change] = []
            for case_id, case_events in new.items():
                changes.extend(self._case_changes(
                    projection, cases.get(case_id), case_events, numbers, end,
                    broken.get(case_id, ""),
                ))  # fmt: skip
            writes[projection.name] = PageWrite(projection.tracking_name, done, end, changes)
        self._apply(list(writes.values()))
        positions.update(dict.fromkeys(writes, end))
        return len(fresh)

    def _apply(self, writes: list[PageWrite]) -> None:
        """Every projection's rows and position for the page, in one transaction."""
        if not writes:
            return
        try:
            self.store.apply_pages(writes)
        except IntegrityError:
            for write in writes:
                found = self.store.position(write.projection)
                if found != write.expected:  # two fresh runners raced for the first position
                    raise PositionConflict(write.projection, write.expected, found) from None
            raise  # the rows themselves were refused

    def _case_changes(
        self,
        projection: CaseProjection,
        case: Case | None,
        events: list[ev.CaseEvent],
        numbers: dict[UUID, int],
        end: int,
        broken: str,
    ) -> list[Change]:
        """The case's rows with what was set aside for it before; or its events set aside
        (``broken`` says why the case could not be folded, ``case`` is then None)."""
        key = (projection.tracking_name, events[0].originator_id)
        held = self._held.pop(key, [])
        earlier = [e for _, e in held]
        changes, added = changes_or_set_aside(
            key[0],
            lambda: [] if case is None else projection.changes(case, [*earlier, *events]),
            [(numbers[e.event_id], e) for e in events],
            [h for h, _ in held],
            end,
            reason=broken,
        )
        if added:
            self._held[key] = held + list(zip(added, events, strict=True))
        return changes

    def _advance_cases(
        self, events: list[ev.CaseEvent]
    ) -> tuple[dict[UUID, Case], dict[UUID, str]]:
        """The cases after ``events``, and why those that could not be folded were not."""
        by_case = _by_case(events)
        return fold_each(by_case, lambda case_id: self.cases.advance(case_id, by_case[case_id]))

    def _load_held(self) -> None:
        self._held = {}
        names = [p.tracking_name for p in self.projections]
        for held in pending_set_aside(self.store, names):
            event = self.log.event_at(held.notification_id)
            self._held.setdefault((held.projection, UUID(held.case_id)), []).append((held, event))

    def _load(self, case_id: UUID, version: int) -> Case:
        return cast(Case, self.ledger.repository.get(case_id, version=version))


def _by_case(events: list[ev.CaseEvent]) -> dict[UUID, list[ev.CaseEvent]]:
    """Events grouped by case, cases in order of first appearance."""
    grouped: dict[UUID, list[ev.CaseEvent]] = {}
    for event in events:
        grouped.setdefault(event.originator_id, []).append(event)
    return grouped
