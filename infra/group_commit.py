"""Group commit: concurrent small writes share one lock and one transaction.

Each command appends one or a few events, and each append takes the store's table lock
(PostgreSQL's ``EXCLUSIVE`` lock, SQLite's write lock) and waits for its own commit to
reach the disk. Writes that arrive while another is being written wait for it, then
the first of them writes all of them together: one lock, one insert, one commit. No
timer: a write that arrives alone goes at once.

Each write is still answered on its own. If the shared transaction is refused (one
write's version is taken, one reuses an ``event_id``: ``IntegrityError``; or anything
else), nothing of it was kept, and each write of the group is tried again alone, so
every write gets exactly the answer it would have had alone. Notification ids are
handed back to each write in its own order, and the group is written in arrival order,
so commit order is still notification order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import StoredEvent

Write = Callable[[Sequence[StoredEvent]], Sequence[int] | None]
MAX_GROUP_EVENTS = 1000  # events in one shared transaction (a group of many commands)


@dataclass
class _Pending:
    events: Sequence[StoredEvent]
    done: bool = False
    ids: Sequence[int] | None = None
    error: BaseException | None = None

    def answer(self) -> Sequence[int] | None:
        if self.error is not None:
            raise self.error
        return self.ids


class GroupCommitter:
    """Writes through ``write`` (one transaction per call), grouping concurrent calls."""

    def __init__(self, write: Write, max_events: int = MAX_GROUP_EVENTS) -> None:
        self._write = write
        self._max_events = max_events
        self._queue: list[_Pending] = []
        self._writing = False
        self._changed = threading.Condition()
        self.groups = 0  # shared transactions written (for tests and metrics)
        self.grouped = 0  # writes that went in a shared transaction of two or more

    def insert(self, events: Sequence[StoredEvent]) -> Sequence[int] | None:
        pending = _Pending(events)
        with self._changed:
            self._queue.append(pending)
            while not pending.done:
                if self._writing:
                    self._changed.wait()
                    continue
                self._writing = True
                group = self._take()
                self._changed.release()
                try:
                    self._write_group(group)
                finally:
                    self._changed.acquire()
                    self._writing = False
                    self._changed.notify_all()
        return pending.answer()

    def _take(self) -> list[_Pending]:
        """The writes waiting, oldest first, up to ``max_events`` (at least one)."""
        taken, size = 0, 0
        for pending in self._queue:
            if taken and size + len(pending.events) > self._max_events:
                break
            taken, size = taken + 1, size + len(pending.events)
        group, self._queue = self._queue[:taken], self._queue[taken:]
        return group

    def _write_group(self, group: list[_Pending]) -> None:
        try:
            if len(group) == 1:
                self._write_alone(group[0])
                return
            try:
                ids = self._write([event for pending in group for event in pending.events])
            except Exception:  # nothing of the group was kept: each alone, as if alone
                for pending in group:
                    self._write_alone(pending)
                return
            self.groups += 1
            self.grouped += len(group)
            _hand_out(group, ids)
        except BaseException as error:  # the writer is dying: no one may wait for ever
            for pending in group:
                if not pending.done:
                    pending.error, pending.done = error, True
            raise

    def _write_alone(self, pending: _Pending) -> None:
        try:
            pending.ids = self._write(pending.events)
        except Exception as error:
            pending.error = error
        pending.done = True


def alone(events: Sequence[StoredEvent], kwargs: Mapping[str, Any], largest: int) -> bool:
    """Whether a write goes alone: a bulk write (``largest`` events or more), or one with a
    tracking record or other arguments the shared transaction cannot carry."""
    return len(events) >= largest or any(value is not None for value in kwargs.values())


def _hand_out(group: list[_Pending], ids: Sequence[int] | None) -> None:
    """Each write's own notification ids, in the order of its events."""
    start = 0
    for pending in group:
        end = start + len(pending.events)
        pending.ids = None if ids is None else list(ids[start:end])
        pending.done, start = True, end
