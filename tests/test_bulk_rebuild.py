"""The bulk rebuild (issue 20) gives exactly what incremental projection gives, row for
row, on both stores; it swaps its tables in whole or not at all; events appended while it
runs are applied after the swap; a case it cannot fold sends it back to the replay."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError

from domain import events as ev
from domain.case import Case
from infra.readmodel import Change, ReadModelStore, Table
from projections.bulk import fill_shadows
from projections.case_state import CaseStateProjection
from projections.catalogue import all_projections
from projections.runner import ReadModelRunner
from projections.set_aside import pending_set_aside
from services.application.ledger import Ledger
from services.schema import side_store as read_models
from tests.test_projection_runner import _import, _population, dump


@pytest.fixture
def store(database_url: str) -> Iterator[ReadModelStore]:
    with read_models(database_url) as opened:
        yield opened


def _incremental(ledger: Ledger, store: ReadModelStore, lines: list[str]) -> dict[str, Any]:
    """The read models built as a follower builds them: imports in parts, small pages."""
    runner = ReadModelRunner(ledger, store, all_projections(), page_size=23)
    step = len(lines) // 3 + 1
    for start in range(0, len(lines), step):
        _import(ledger, lines[start : start + step])
        runner.run()
    return dump(store, all_projections())


def test_the_bulk_rebuild_equals_incremental_projection_row_for_row(
    ledger: Ledger, store: ReadModelStore, database_url: str
) -> None:
    lines = _population(120, seed=5)
    incremental = _incremental(ledger, store, lines)
    runner = ReadModelRunner(ledger, store, all_projections())
    summary = runner.rebuild()  # over the incremental rows: replaced, not added to
    assert dump(store, all_projections()) == incremental
    head = ledger.recorder.max_notification_id()
    assert set(runner.positions().values()) == {head}
    assert summary.events == len(lines)
    assert len(incremental["case_event"]) == len(lines)
    assert len(incremental["case_state"]) == 120
    with read_models(database_url) as fresh:  # and from nothing, into another store handle
        ReadModelRunner(ledger, fresh, all_projections()).rebuild(bulk=False)
        assert dump(fresh, all_projections()) == incremental


def test_the_swapped_tables_keep_their_keys_and_a_second_bulk_rebuild_works(
    ledger: Ledger, store: ReadModelStore
) -> None:
    _import(ledger, _population(20, seed=6))
    runner = ReadModelRunner(ledger, store, all_projections())
    runner.rebuild()
    first = dump(store, all_projections())
    runner.rebuild()  # the key and index names of the first swap do not collide
    assert dump(store, all_projections()) == first
    row = store.query("SELECT * FROM {case_event} LIMIT 1")[0]
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    with pytest.raises(IntegrityError):  # the primary key was built on the copied table
        store.write(f"INSERT INTO {{case_event}} ({columns}) VALUES ({marks})", list(row.values()))


class _Crash(BaseException):
    """The process dies while the copies are filled."""


class _CrashingCopies:
    """The store, whose ``copy_rows`` dies on its ``at``-th call."""

    def __init__(self, real: ReadModelStore, at: int) -> None:
        self.real, self.at, self.calls = real, at, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def copy_rows(self, table: Table, values: Sequence[tuple[Any, ...]]) -> None:
        self.calls += 1
        if self.calls == self.at:
            raise _Crash("killed while filling the copies")
        self.real.copy_rows(table, values)


def test_a_bulk_rebuild_that_dies_leaves_the_read_models_as_they_were(
    ledger: Ledger, store: ReadModelStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = _population(60, seed=7)
    before = _incremental(ledger, store, lines)
    positions = ReadModelRunner(ledger, store, all_projections()).positions()
    monkeypatch.setattr("projections.bulk.ROWS_PER_COPY", 50)
    crashing = _CrashingCopies(store, at=3)
    runner = ReadModelRunner(ledger, crashing, all_projections())  # type: ignore[arg-type]
    with pytest.raises(_Crash):
        runner.rebuild()
    assert crashing.calls == 3  # it died part-way, after copying some rows
    assert dump(store, all_projections()) == before
    assert runner.positions() == positions
    store.create_shadows(CaseStateProjection.tables)  # as a SIGKILL would leave them
    ReadModelRunner(ledger, store, all_projections()).rebuild()
    assert dump(store, all_projections()) == before


def test_events_appended_while_the_copies_fill_are_applied_after_the_swap(
    ledger: Ledger, store: ReadModelStore, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = _population(50, seed=8)
    _import(ledger, lines[:300])
    real_fill = fill_shadows

    def fill_then_append(*args: Any, **kwargs: Any) -> int:
        folded = real_fill(*args, **kwargs)
        _import(ledger, lines[300:])  # recorded after the rebuild read its head
        return folded

    monkeypatch.setattr("projections.runner.fill_shadows", fill_then_append)
    summary = ReadModelRunner(ledger, store, all_projections()).rebuild()
    assert summary.events == len(lines)
    with read_models(database_url) as other:
        ReadModelRunner(ledger, other, all_projections()).rebuild(bulk=False)
        assert dump(store, all_projections()) == dump(other, all_projections())


class _RefusesOneCase(CaseStateProjection):
    """Case state, refusing the case whose id is ``refused``: a bug in a projection."""

    def __init__(self, refused: str) -> None:
        self.refused = refused

    def changes(self, case: Case, new_events: Sequence[ev.CaseEvent]) -> list[Change]:
        if str(case.id) == self.refused:
            raise ValueError("this projection cannot apply the case")
        return super().changes(case, new_events)


def test_a_case_the_bulk_job_cannot_fold_is_set_aside_as_the_replay_sets_it_aside(
    ledger: Ledger, store: ReadModelStore, database_url: str
) -> None:
    lines = _population(30, seed=9)
    _import(ledger, lines)
    case_id = str(next(iter(ledger.recorder.select_notifications(None, 1))).originator_id)
    projections = [_RefusesOneCase(case_id), *all_projections()[1:]]
    ReadModelRunner(ledger, store, projections).rebuild()
    with read_models(database_url) as other:
        ReadModelRunner(ledger, other, projections).rebuild(bulk=False)
        assert dump(store, projections) == dump(other, projections)
        assert {h.case_id for h in pending_set_aside(store)} == {case_id}
        assert pending_set_aside(store) == pending_set_aside(other)


def test_a_bulk_rebuild_in_worker_processes_gives_the_same_rows(
    ledger: Ledger, store: ReadModelStore, use_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ledger project --rebuild --workers 2``: cases folded in two processes."""
    from projections import bulk
    from services.cli import main

    incremental = _incremental(ledger, store, _population(90, seed=10))
    chunks: list[int] = []
    real = bulk._in_workers

    def counted(*args: Any) -> Iterator[Any]:
        for outcome in real(*args):
            chunks.append(outcome[0])
            yield outcome

    monkeypatch.setattr(bulk, "_in_workers", counted)
    with monkeypatched_chunk(25):
        assert main(["project", "--rebuild", "--workers", "2", "-q"]) == 0
    assert len(chunks) > 4  # the workers folded every event, chunk by chunk
    assert sum(chunks) == ledger.recorder.max_notification_id()
    assert dump(store, all_projections()) == incremental
    assert set(ReadModelRunner(ledger, store, all_projections()).positions().values()) == {
        ledger.recorder.max_notification_id()
    }


@contextmanager
def monkeypatched_chunk(events: int) -> Iterator[None]:
    """Small chunks, so that both workers get several (a worker reads the module anew, so
    only the sending side's size matters)."""
    from projections import bulk

    before, bulk.EVENTS_PER_CHUNK = bulk.EVENTS_PER_CHUNK, events
    try:
        yield
    finally:
        bulk.EVENTS_PER_CHUNK = before
