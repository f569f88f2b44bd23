"""A rebuild as a bulk job: every case folded once, its rows copied into fresh tables.

The replaying rebuild applies the log page by page, so a case touched by several pages
is folded and written again for each, and every write first deletes the rows it
replaces. Here the log up to its head is read in case order (the store's primary key),
each case is folded once from its first event, each projection is asked once for the
case's rows (``CaseProjection.changes`` with all its events: the same function the
incremental runner calls), and the rows are copied into fresh tables without keys or
indexes. The keys and indexes are built once at the end, and the tables are swapped in
with the positions in one transaction (``ReadModelStore.swap_in``).

Rows of one case depend only on the case's events (``projections.base``), so the result
equals the incremental one row for row (``tests/test_bulk_rebuild.py``). A case the fold
or a projection refuses would be set aside by the replaying rebuild, page by page; the
bulk job does not imitate that: it gives up (``CannotFold``) and the runner replays.

With ``workers`` above 1 the cases are decoded, folded and turned into rows in that many
processes (cases are independent), a chunk of whole cases at a time, and this process
only reads and copies; the rows are the same, in the same order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import chain, groupby
from operator import attrgetter
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Notification, PersistenceError

from domain import events as ev
from infra.log_consumer import NotificationLog, Progress, ProgressCallback
from infra.process_pool import in_order
from infra.readmodel import ReadModelStore, Table, values_of
from infra.store import notifications_by_case
from projections.base import CaseProjection, from_scratch
from projections.set_aside import describe

ROWS_PER_COPY = 20_000  # rows held before they are copied: bounds the memory
EVENTS_PER_CHUNK = 2_000  # whole cases sent to a worker at once
CHUNKS_PER_WORKER = 3  # chunks in flight per worker: busy workers, bounded memory

TableRows = list[tuple[str, list[tuple[Any, ...]]]]  # (table name, values) of some cases
# how a process decodes a stored notification (sealed: read models keep no personal data)
Decode = Callable[[Notification], Any]
# opens the ledger again, in a worker process (picklable: a class and its arguments)
Reopen = Callable[[], Application[UUID]]


class CannotFoldError(RuntimeError):
    """A case the fold or a projection refused: the replaying rebuild sets it aside."""


def tables_of(projections: Sequence[CaseProjection]) -> list[Table]:
    return [table for projection in projections for table in projection.tables]


def fill_shadows(
    log: NotificationLog,
    store: ReadModelStore,
    projections: Sequence[CaseProjection],
    head: int,
    progress: ProgressCallback | None = None,
    *,
    workers: int = 1,
    reopen: Reopen | None = None,
) -> int:
    """Fold every case up to notification ``head`` into the tables' fresh copies
    (``ReadModelStore.create_shadows``, made before); the number of events folded.
    ``workers`` above 1 needs ``reopen``, which opens the ledger in a worker."""
    started, done = time.monotonic(), 0
    rows = _Rows(store, tables_of(projections))
    chunks = _chunks(notifications_by_case(log.recorder, head))
    if workers > 1:
        if reopen is None:
            raise ValueError("folding in worker processes needs a way to reopen the ledger")
        folded = _in_workers(chunks, projections, workers, reopen)
    else:
        decode = log.sealed_decoder()
        folded = (_chunk_rows(projections, decode, chunk) for chunk in chunks)
    for events, table_rows in folded:
        rows.add(table_rows)
        done += events
        if rows.flush_if_full() and progress:
            progress(Progress(min(done, head), head, done, time.monotonic() - started))
    rows.flush()
    if progress:
        progress(Progress(head, head, done, time.monotonic() - started))
    return done


def _chunks(pages: Iterable[list[Notification]]) -> Iterator[list[Notification]]:
    """The notifications in chunks of whole cases, about ``EVENTS_PER_CHUNK`` each."""
    chunk: list[Notification] = []
    for _, case in groupby(chain.from_iterable(pages), key=attrgetter("originator_id")):
        chunk.extend(case)
        if len(chunk) >= EVENTS_PER_CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _chunk_rows(
    projections: Sequence[CaseProjection], decode: Decode, chunk: list[Notification]
) -> tuple[int, TableRows]:
    """The rows of a chunk's cases, per table, in case order; and how many events."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    events = (cast(ev.CaseEvent, decode(n)) for n in chunk)
    for _, case_events in groupby(events, key=attrgetter("originator_id")):
        for table, rows in _case_rows(projections, list(case_events)):
            found.setdefault(table.name, []).extend(values_of(table, rows))
    return len(chunk), list(found.items())


def _case_rows(
    projections: Sequence[CaseProjection], events: list[ev.CaseEvent]
) -> list[tuple[Table, Sequence[dict[str, Any]]]]:
    case_id: UUID = events[0].originator_id
    try:
        case = from_scratch(events)
        changes = [change for p in projections for change in p.changes(case, events)]
    except PersistenceError:
        raise
    except Exception as error:
        raise CannotFoldError(f"case {case_id}: {describe(error)}") from error
    # the copies start empty, so a case's Replace is its rows, as an Append is
    return [(change.table, change.rows) for change in changes]


class _Rows:
    """Rows waiting to be copied, per table, written once enough have come."""

    def __init__(self, store: ReadModelStore, tables: Sequence[Table]) -> None:
        self.store = store
        self.tables = {table.name: table for table in tables}
        self.waiting: dict[str, list[tuple[Any, ...]]] = {}
        self.count = 0

    def add(self, rows: TableRows) -> None:
        for name, values in rows:
            self.waiting.setdefault(name, []).extend(values)
            self.count += len(values)

    def flush_if_full(self) -> bool:
        if self.count < ROWS_PER_COPY:
            return False
        self.flush()
        return True

    def flush(self) -> None:
        for name, values in self.waiting.items():
            if values:
                self.store.copy_rows(self.tables[name], values)
        self.waiting, self.count = {}, 0


# --- worker processes -------------------------------------------------------------------

_worker: tuple[Sequence[CaseProjection], Decode] | None = None


def _open_worker(projections: Sequence[CaseProjection], reopen: Reopen) -> None:
    global _worker
    ledger = reopen()
    _worker = (projections, NotificationLog(ledger.recorder, ledger.mapper).sealed_decoder())


def _fold_chunk(chunk: list[Notification]) -> tuple[int, TableRows]:
    assert _worker is not None, "the worker opens its ledger when it starts"
    projections, decode = _worker
    return _chunk_rows(projections, decode, chunk)


def _in_workers(
    chunks: Iterable[list[Notification]],
    projections: Sequence[CaseProjection],
    workers: int,
    reopen: Reopen,
) -> Iterator[tuple[int, TableRows]]:
    """Each chunk's rows, worked out in one of ``workers`` processes, in chunk order."""
    return in_order(_fold_chunk, chunks, workers, start=_open_worker,
                    start_args=(list(projections), reopen),
                    in_flight_per_worker=CHUNKS_PER_WORKER)  # fmt: skip
