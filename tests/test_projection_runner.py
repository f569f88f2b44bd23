"""The projection runner on both stores: rebuild equals incremental, crashes lose and
duplicate nothing, gaps in notification ids are skipped, the position is committed
with the rows."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from domain import events as ev
from domain.case import Case
from infra.readmodel import (
    Append,
    Change,
    PositionConflict,
    PostgresReadModelRecorder,
    ReadModelStore,
    Table,
)
from projections.base import CaseProjection
from projections.case_state import CaseStateProjection
from projections.catalogue import all_projections
from projections.event_index import CASE_EVENT, EventIndexProjection
from projections.runner import Progress, ReadModelRunner
from services.application.importer import import_lines, numbered
from services.application.ledger import Ledger
from services.schema import side_store as read_models
from services.tools.simulate import simulate

TODAY = date(2026, 11, 1)


def _population(cases: int, seed: int) -> list[str]:
    return [json.dumps(item) for item in simulate(cases, seed=seed, today=TODAY)]


def _import(ledger: Ledger, lines: Sequence[str]) -> None:
    import_lines(ledger, numbered(lines))


def dump(store: ReadModelStore, projections: Sequence[CaseProjection]) -> dict[str, Any]:
    """Every row of every read model, in key order."""
    tables: dict[str, Any] = {}
    for projection in projections:
        for table in projection.tables:
            order = ", ".join(table.key)
            tables[table.name] = store.query(f"SELECT * FROM {{{table.name}}} ORDER BY {order}")
    return tables


@pytest.fixture
def store(database_url: str) -> Iterator[ReadModelStore]:
    with read_models(database_url) as opened:
        yield opened


def test_rebuild_from_zero_gives_the_rows_built_incrementally(
    ledger: Ledger, store: ReadModelStore, database_url: str
) -> None:
    lines = _population(80, seed=11)
    runner = ReadModelRunner(ledger, store, all_projections(), page_size=37)
    for start in range(0, len(lines), len(lines) // 4 + 1):  # four imports, a run after each
        _import(ledger, lines[start : start + len(lines) // 4 + 1])
        runner.run()
    incremental = dump(store, runner.projections)

    with read_models(database_url) as other:
        rebuilt = ReadModelRunner(ledger, other, all_projections(), page_size=1000)
        seen: list[Progress] = []
        summary = rebuilt.rebuild(seen.append)
        assert dump(other, rebuilt.projections) == incremental
    assert summary.events == len(lines)
    assert seen[-1].position == seen[-1].head == ledger.recorder.max_notification_id()
    assert len(incremental["case_state"]) == 80
    assert len(incremental["case_event"]) == len(lines)
    assert set(summary.positions.values()) == {ledger.recorder.max_notification_id()}


class PoisonedIndex(EventIndexProjection):
    """The event index that, on its ``fail_on``-th batch, adds a row that breaks its key
    after the batch's good rows: the database refuses the transaction half-way."""

    def __init__(self, fail_on: int) -> None:
        self.calls = 0
        self.fail_on = fail_on

    def changes(self, case: Case, new_events: Sequence[ev.CaseEvent]) -> list[Change]:
        self.calls += 1
        found = super().changes(case, new_events)
        if self.calls == self.fail_on:
            first = found[0]
            assert isinstance(first, Append)
            found.append(Append(CASE_EVENT, [first.rows[0]]))
        return found


class Crash(BaseException):
    """The process dies in the middle of a batch (an exception a projection raises is set
    aside instead, tests/test_poison_events.py; this one stops the runner)."""


class Exploding(CaseProjection):
    """A projection whose process dies in the middle of a batch."""

    name = "case_state"

    def __init__(self, real: CaseProjection, fail_on: int) -> None:
        self.real, self.tables, self.calls, self.fail_on = real, real.tables, 0, fail_on

    def changes(self, case: Case, new_events: Sequence[ev.CaseEvent]) -> list[Change]:
        self.calls += 1
        if self.calls == self.fail_on:
            raise Crash("crash in the middle of a batch")
        return self.real.changes(case, new_events)


@pytest.mark.parametrize("fault", ["database refuses", "process dies"])
def test_a_crash_mid_batch_loses_and_duplicates_nothing(
    ledger: Ledger, store: ReadModelStore, database_url: str, fault: str
) -> None:
    lines = _population(40, seed=5)
    _import(ledger, lines)
    real = all_projections()
    broken: list[CaseProjection]
    if fault == "database refuses":
        broken = [*real[:2], PoisonedIndex(fail_on=25)]
        error: type[BaseException] = IntegrityError
    else:
        broken = [Exploding(real[0], fail_on=25), *real[1:]]
        error = Crash
    crashed = ReadModelRunner(ledger, store, broken, page_size=50)
    with pytest.raises(error):
        crashed.run()

    positions = crashed.positions()
    assert min(p or 0 for p in positions.values()) < (ledger.recorder.max_notification_id() or 0)
    indexed = store.query("SELECT COUNT(*) AS n FROM {case_event}")[0]["n"]
    index_position = positions["event_index"] or 0
    assert indexed == len(ledger.recorder.select_notifications(0, 10**6, stop=index_position))

    restarted = ReadModelRunner(ledger, store, all_projections(), page_size=50)
    restarted.run()  # the key on the event index would refuse any event applied twice
    with read_models(database_url) as clean:
        fresh = ReadModelRunner(ledger, clean, all_projections(), page_size=50)
        fresh.rebuild()
        assert dump(store, real) == dump(clean, real)
    assert store.query("SELECT COUNT(*) AS n FROM {case_event}")[0]["n"] == len(lines)


def test_the_position_never_moves_back_so_a_batch_is_not_applied_twice(
    ledger: Ledger, store: ReadModelStore
) -> None:
    _import(ledger, _population(5, seed=2))
    runner = ReadModelRunner(ledger, store, all_projections())
    runner.run()
    head = ledger.recorder.max_notification_id()
    assert head is not None
    name = CaseStateProjection().tracking_name
    with pytest.raises(IntegrityError):
        store.apply(name, head, head, [])  # the same position again
    with pytest.raises(PositionConflict):
        store.apply(name, head - 1, head + 1, [])  # a runner that read an old position
    assert runner.positions() == dict.fromkeys(runner.positions(), head)


def _store_filler(ledger: Ledger, size: int) -> UUID:
    originator = uuid4()
    ledger.recorder.insert_events(
        [StoredEvent(originator, version, "tests:Nothing", b"{}") for version in range(1, size + 1)]
    )
    return originator


def _delete_filler(ledger: Ledger, originator: UUID) -> None:
    """Delete a throw-away aggregate's events, leaving a gap in the notification ids."""
    recorder: Any = ledger.recorder
    table = recorder.events_table_name
    with recorder.datastore.transaction(commit=True) as cursor:
        if ledger.database_url.startswith("sqlite"):
            cursor.execute(f"DELETE FROM {table} WHERE originator_id = ?", (originator.hex,))
        else:
            schema = recorder.datastore.schema
            cursor.execute(
                f'DELETE FROM "{schema}".{table} WHERE originator_id = %s', (originator,)
            )


def test_gaps_in_notification_ids_are_skipped(ledger: Ledger, store: ReadModelStore) -> None:
    lines = _population(12, seed=8)
    half = len(lines) // 2
    _import(ledger, lines[:half])
    filler = _store_filler(ledger, 30)
    _import(ledger, lines[half:])
    _delete_filler(ledger, filler)
    ids = [n.id for n in ledger.recorder.select_notifications(0, 10**6)]
    assert len(ids) == len(lines)
    assert ids[-1] - ids[0] + 1 == len(lines) + 30

    runner = ReadModelRunner(ledger, store, all_projections(), page_size=7)
    summary = runner.run()
    assert summary.events == len(lines)
    assert store.query("SELECT COUNT(*) AS n FROM {case_event}")[0]["n"] == len(lines)
    assert set(summary.positions.values()) == {ids[-1]}


def test_a_new_table_version_is_built_from_zero_beside_the_old_one(
    ledger: Ledger, store: ReadModelStore
) -> None:
    """A change of a read model's shape gets a new table and a new position (rebuilt),
    and rows left in a table whose projection has no position are cleared first."""
    from dataclasses import replace

    from projections.case_state import CASE_STATE

    _import(ledger, _population(6, seed=12))
    old = CaseStateProjection()
    old.tables = (replace(CASE_STATE, version=1),)  # the shape before employee_id
    legacy = Table(CASE_STATE.name, CASE_STATE.columns[:1], ("case_id",), version=1)
    store.create_tables([legacy])
    schema = getattr(getattr(store, "datastore", None), "schema", None)
    v1 = f'"{schema}".case_state' if isinstance(store, PostgresReadModelRecorder) else "case_state"
    store.write(f"INSERT INTO {v1} (case_id) VALUES (?)", ["from-the-old-shape"])

    current = CaseStateProjection()
    assert current.tracking_name != old.tracking_name
    assert CASE_STATE.physical == "case_state_v4"
    store.create_tables(current.tables)
    store.write("INSERT INTO {case_state} (case_id, version) VALUES (?, ?)", ["left-over", 1])
    ReadModelRunner(ledger, store, [current]).run()
    rows = store.query("SELECT case_id FROM {case_state}")
    assert len(rows) == 6
    assert "left-over" not in {row["case_id"] for row in rows}
    assert store.query(f"SELECT case_id FROM {v1}") == [{"case_id": "from-the-old-shape"}]


class RebuildsMeanwhile(CaseProjection):
    """Case state, but on its ``at``-th batch another runner rebuilds every read model
    to the head of the log: this runner's positions are then stale."""

    name = "case_state"

    def __init__(self, at: int, rebuild: Any) -> None:
        self.real, self.tables, self.calls, self.at, self.rebuild = (
            CaseStateProjection(), CaseStateProjection.tables, 0, at, rebuild
        )  # fmt: skip

    def changes(self, case: Case, new_events: Sequence[ev.CaseEvent]) -> list[Change]:
        self.calls += 1
        if self.calls == self.at:
            self.rebuild()
        return self.real.changes(case, new_events)


def test_a_rebuild_by_another_runner_meanwhile_loses_nothing(
    ledger: Ledger, store: ReadModelStore, database_url: str
) -> None:
    """Review finding: a runner holding old positions must not write on top of a reset."""
    lines = _population(40, seed=21)
    _import(ledger, lines)
    with read_models(database_url) as other:
        rival = ReadModelRunner(ledger, other, all_projections(), page_size=500)
        meanwhile = RebuildsMeanwhile(at=30, rebuild=rival.rebuild)
        follower = ReadModelRunner(
            ledger, store, [meanwhile, *all_projections()[1:]], page_size=20
        )
        follower.run()
    assert meanwhile.calls >= 30  # the rival's rebuild happened mid-run
    rows = dump(store, all_projections())
    assert len(rows["case_state"]) == 40
    assert len(rows["case_event"]) == len(lines)
    with read_models(database_url) as again:  # a clean rebuild of the same log, row for row
        ReadModelRunner(ledger, again, all_projections()).rebuild()
        assert dump(again, all_projections()) == rows


def test_sqlite_read_models_relax_sync_for_their_pages_only(tmp_path: Any) -> None:
    """Pages of read models commit with synchronous=NORMAL; the pooled connection is set
    back to FULL after, since the key tables (erasure) write through the same pool."""
    url = f"sqlite:///{tmp_path / 'sync.db'}"
    with Ledger(url) as ledger:
        import_lines(ledger, numbered([json.dumps(x) for x in simulate(5, seed=3)]))
        with read_models(url) as store:
            ReadModelRunner(ledger, store, all_projections()).run()
            datastore = store.datastore  # type: ignore[attr-defined]
            with datastore.get_connection(commit=True) as connection:
                cursor = connection.cursor()
                cursor.execute("PRAGMA synchronous")
                assert cursor.fetchone()[0] == 2  # FULL
