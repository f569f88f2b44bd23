"""Read-model tables with their tracking position, on SQLite and PostgreSQL.

The recorders extend the library's tracking recorders: a batch's rows and the
position it reached are written in one transaction (``apply``), so a crash
loses nothing and nothing is applied twice; the library's own rule that a
position never repeats or goes back (``IntegrityError``) keeps two runners of
one projection from both applying a batch.

Dates are stored as ISO text and documents as JSON text on both stores, so the
rows of a rebuilt model compare equal across stores and across runs.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast

from eventsourcing.persistence import (
    InfrastructureFactory,
    IntegrityError,
    Tracking,
    TrackingRecorder,
)
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteTrackingRecorder
from eventsourcing.utils import Environment

from infra.config import database_url, eventsourcing_env
from infra.pg_pool import use_socket_check
from infra.pg_recorder import retried_unless_lock_timeout

ColumnKind = Literal["text", "integer", "json"]
Row = dict[str, Any]
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"  # how side-store rows keep a moment: UTC, sortable text


def stamp_at(unix_time: float) -> str:
    """The stored text of a moment (``created_at``, ``claimed_at`` and the like)."""
    return datetime.fromtimestamp(unix_time, UTC).strftime(STAMP)


def unix_time_of(stamp: str) -> float:
    return datetime.strptime(stamp, STAMP).replace(tzinfo=UTC).timestamp()


class UnknownTableError(LookupError):
    """A query named a table the store's schema does not list."""


@dataclass(frozen=True)
class Table:
    """A read-model table: columns by kind, the primary key, the indexes queries need."""

    name: str
    columns: tuple[tuple[str, ColumnKind], ...]
    key: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...] = ()
    version: int = 1  # a new shape gets a new version, so a new table that is rebuilt

    def __post_init__(self) -> None:
        for name in (self.name, *(column for column, _ in self.columns)):
            if not _NAME.match(name):
                raise ValueError(f"read-model name {name!r} must be lower_snake_case")

    @property
    def physical(self) -> str:
        """The table's name in the database: one table per version of its shape."""
        return self.name if self.version == 1 else f"{self.name}_v{self.version}"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column for column, _ in self.columns)


@dataclass(frozen=True)
class Replace:
    """Replace every row of ``table`` matching ``where`` by ``rows`` (for one case, say)."""

    table: Table
    where: Mapping[str, Any]
    rows: Sequence[Row]


@dataclass(frozen=True)
class Append:
    """Insert ``rows`` into ``table``; a row whose key exists already fails the batch."""

    table: Table
    rows: Sequence[Row]


Change = Replace | Append


class PositionConflict(RuntimeError):
    """Another runner moved the projection since this one read its position."""

    def __init__(self, projection: str, expected: int | None, found: int | None) -> None:
        super().__init__(
            f"{projection} is at {found}, not {expected}: another runner moved it; read again"
        )
        self.projection, self.expected, self.found = projection, expected, found


@dataclass(frozen=True)
class PageWrite:
    """A projection's changes for one page of the log, and the position they reach."""

    projection: str
    expected: int | None
    position: int
    changes: Sequence[Change]


class ReadModelStore(ABC):
    """What a projection runner needs from a store of read models.

    Queries name tables as ``{name}``; the store resolves the name through the tables of
    its schema (``use_schema``), each in its current version.
    """

    schema: Mapping[str, Table] = {}

    def use_schema(self, tables: Sequence[Table]) -> None:
        self.schema = {table.name: table for table in tables}

    def physical_name(self, name: str) -> str:
        table = self.schema.get(name)
        if table is None:
            msg = f"table {{{name}}} is not in this store's schema (services/schema.py)"
            raise UnknownTableError(msg)
        return table.physical

    @abstractmethod
    def create_tables(self, tables: Sequence[Table]) -> None: ...

    @abstractmethod
    def position(self, projection: str) -> int | None:
        """The last notification id applied to ``projection``; None before the first."""

    @abstractmethod
    def positions_starting(self, prefix: str) -> dict[str, int]:
        """Every stored position whose name starts with ``prefix`` (the feed's per topic,
        the Kafka workers' per partition)."""

    def apply(
        self, projection: str, expected: int | None, position: int, changes: Sequence[Change]
    ) -> None:
        """Write ``changes`` and move ``projection`` from ``expected`` to ``position``, in one
        transaction; ``PositionConflict`` (nothing written) if another runner moved it."""
        self.apply_pages([PageWrite(projection, expected, position, changes)])

    @abstractmethod
    def apply_pages(self, writes: Sequence[PageWrite]) -> None:
        """``apply`` for several projections in one transaction (one commit per page of the
        log, not one per projection); any conflict writes nothing."""

    @abstractmethod
    def _lock_position(self, cursor: Any, projection: str) -> int | None:
        """Read the position and hold it until the transaction ends (each store its way)."""

    def _check_position(self, cursor: Any, write: PageWrite) -> None:
        found = self._lock_position(cursor, write.projection)
        if found != write.expected:
            raise PositionConflict(write.projection, write.expected, found)

    @abstractmethod
    def reset(self, projection: str, tables: Sequence[Table], *, only_if_new: bool = False) -> bool:
        """Empty the tables and forget the position, in one transaction (for a rebuild).
        With ``only_if_new``, only while the projection has no position; whether it did."""

    # A bulk rebuild fills fresh copies of the tables (``shadow_name``), then swaps them in
    # with the positions in one transaction: readers see the old rows until then.

    @abstractmethod
    def create_shadows(self, tables: Sequence[Table]) -> None:
        """Fresh, empty copies of ``tables`` (any left by a rebuild that died are dropped)."""

    @abstractmethod
    def copy_rows(self, table: Table, values: Sequence[tuple[Any, ...]]) -> None:
        """Add rows (``values`` in the order of ``table.column_names``) to the copy of
        ``table``, in one transaction (``COPY`` on PostgreSQL)."""

    @abstractmethod
    def drop_shadows(self, tables: Sequence[Table]) -> None: ...

    @abstractmethod
    def swap_in(
        self, tables: Sequence[Table], positions: Mapping[str, int], changes: Sequence[Change]
    ) -> None:
        """Replace ``tables`` by their filled copies (keys and indexes built now), apply
        ``changes`` and set each projection's position, in one transaction."""

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a read query written with ``?`` placeholders and ``{table}`` names."""

    @abstractmethod
    def write(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one write statement in its own transaction; the number of rows changed.
        For tables outside any projection (access log, idempotency keys)."""

    @abstractmethod
    def write_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one write statement for each of ``rows``, all in one transaction."""

    @abstractmethod
    def close(self) -> None: ...


_KINDS = {
    "sqlite": {"text": "TEXT", "integer": "INTEGER", "json": "TEXT"},
    "postgres": {"text": "text", "integer": "bigint", "json": "text"},
}


def _columns(table: Table, dialect: str) -> str:
    kinds = _KINDS[dialect]
    return ", ".join(f"{name} {kinds[kind]}" for name, kind in table.columns)


def _ddl(table: Table, qualified: str, dialect: str) -> list[str]:
    columns = _columns(table, dialect)
    statements = [
        f"CREATE TABLE IF NOT EXISTS {qualified} ({columns}, PRIMARY KEY ({', '.join(table.key)}))"
    ]
    for index in table.indexes:
        statements.append(
            f"CREATE INDEX IF NOT EXISTS {table.physical}_{'_'.join(index)}_idx "
            f"ON {qualified} ({', '.join(index)})"
        )
    return statements


def _delete(table: Table, qualified: str, where: Mapping[str, Any], mark: str) -> str:
    condition = " AND ".join(f"{column} = {mark}" for column in where) or "TRUE"
    return f"DELETE FROM {qualified} WHERE {condition}"


DELETE_CHUNK = 500  # keys per DELETE ... IN (...); SQLite allows 999 parameters


def _planned(changes: Sequence[Change]) -> list[tuple[str, Table, list[Any]]]:
    """The statements for a batch, in order: deletes of replaced rows, grouped per table
    and key column (one statement per 500 keys instead of one per case), then inserts
    grouped per table. Rows of one batch never overlap across changes of one table."""
    deletes: dict[tuple[str, str], list[Any]] = {}
    other_deletes: list[Replace] = []
    inserts: dict[str, tuple[Table, list[Row]]] = {}
    for change in changes:
        if isinstance(change, Replace):
            if len(change.where) == 1:
                ((column, value),) = change.where.items()
                deletes.setdefault((change.table.name, column), []).append(value)
                inserts.setdefault(change.table.name, (change.table, []))
            else:
                other_deletes.append(change)
        inserts.setdefault(change.table.name, (change.table, []))[1].extend(change.rows)
    tables = {name: table for name, (table, _) in inserts.items()}
    plan: list[tuple[str, Table, list[Any]]] = [
        ("delete_in", tables[name], [column, keys[i : i + DELETE_CHUNK]])
        for (name, column), keys in deletes.items()
        for i in range(0, len(keys), DELETE_CHUNK)
    ]
    plan += [("delete", change.table, [change.where]) for change in other_deletes]
    plan += [("insert", table, rows) for table, rows in inserts.values() if rows]
    return plan


def _insert(table: Table, qualified: str, mark: str) -> str:
    marks = ", ".join(mark for _ in table.columns)
    return f"INSERT INTO {qualified} ({', '.join(table.column_names)}) VALUES ({marks})"


def values_of(table: Table, rows: Sequence[Row]) -> list[tuple[Any, ...]]:
    return [tuple(row[column] for column in table.column_names) for row in rows]


def _run_plan(
    cursor: Any,
    changes: Sequence[Change],
    name_of: Callable[[Table], str],
    mark: str,
    delete_in: Callable[[str, str, list[Any]], tuple[str, list[Any]]],
) -> None:
    """Execute a batch's statements (``_planned``) in the dialect given by its parts."""
    for action, table, args in _planned(changes):
        name = name_of(table)
        if action == "delete_in":
            column, keys = args
            cursor.execute(*delete_in(name, column, keys))
        elif action == "delete":
            (where,) = args
            cursor.execute(_delete(table, name, where, mark), [*where.values()])
        else:
            cursor.executemany(_insert(table, name, mark), values_of(table, args))


def _delete_in_sqlite(name: str, column: str, keys: list[Any]) -> tuple[str, list[Any]]:
    marks = ", ".join("?" for _ in keys)
    return f"DELETE FROM {name} WHERE {column} IN ({marks})", keys


def _delete_in_pg(name: str, column: str, keys: list[Any]) -> tuple[str, list[Any]]:
    return f"DELETE FROM {name} WHERE {column} = ANY(%s)", [keys]


def shadow_name(table: Table) -> str:
    """Where a bulk rebuild writes ``table`` before swapping it in."""
    return f"{table.physical}__bulk"


def _in_lock_order(writes: Sequence[PageWrite]) -> list[PageWrite]:
    """One order for taking the positions' locks, so that two runners cannot deadlock."""
    return sorted(writes, key=lambda write: write.projection)


@contextmanager
def _relaxed_sync(connection: Any) -> Iterator[None]:
    """Commit a page of read models without waiting for the disk (``synchronous=NORMAL``;
    the file is in WAL mode): a crash can lose the last pages written, never mix them up,
    since rows and position commit together, and the runner applies them again. The
    connection is pooled and other tables (keys) share it, so it is set back after."""
    connection.cursor().execute("PRAGMA synchronous = NORMAL")
    try:
        yield
    finally:
        connection.cursor().execute("PRAGMA synchronous = FULL")


class SQLiteReadModelRecorder(SQLiteTrackingRecorder, ReadModelStore):
    def create_tables(self, tables: Sequence[Table]) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            for table in tables:
                for statement in _ddl(table, table.physical, "sqlite"):
                    cursor.execute(statement)

    def position(self, projection: str) -> int | None:
        return self.max_tracking_id(projection)

    def positions_starting(self, prefix: str) -> dict[str, int]:
        rows = self.query(
            "SELECT application_name, MAX(notification_id) AS at FROM tracking "
            "WHERE substr(application_name, 1, ?) = ? GROUP BY application_name",
            [len(prefix), prefix],
        )
        return {str(r["application_name"]): int(r["at"]) for r in rows}

    def _lock_position(self, cursor: Any, projection: str) -> int | None:
        """Take the write lock first (a no-op write), then read the position under it."""
        cursor.execute(
            "UPDATE tracking SET notification_id = notification_id WHERE application_name = ?",
            (projection,),
        )
        cursor.execute(
            "SELECT notification_id FROM tracking WHERE application_name = ?", (projection,)
        )
        row = cursor.fetchone()
        return None if row is None else int(row[0])

    def apply_pages(self, writes: Sequence[PageWrite]) -> None:
        with (
            self.datastore.get_connection(commit=True) as connection,
            _relaxed_sync(connection),
            connection.transaction(commit=True) as cursor,
        ):
            for write in _in_lock_order(writes):
                self._check_position(cursor, write)
                _run_plan(cursor, write.changes, lambda t: t.physical, "?", _delete_in_sqlite)
                self._insert_tracking(cursor, Tracking(write.projection, write.position))

    def reset(self, projection: str, tables: Sequence[Table], *, only_if_new: bool = False) -> bool:
        with self.datastore.transaction(commit=True) as cursor:
            if only_if_new and self._lock_position(cursor, projection) is not None:
                return False
            for table in tables:
                cursor.execute(f"DELETE FROM {table.physical}")
            cursor.execute("DELETE FROM tracking WHERE application_name = ?", (projection,))
            return True

    def create_shadows(self, tables: Sequence[Table]) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            for table in tables:
                cursor.execute(f"DROP TABLE IF EXISTS {shadow_name(table)}")
                cursor.execute(_ddl(table, shadow_name(table), "sqlite")[0])  # with its key

    def copy_rows(self, table: Table, values: Sequence[tuple[Any, ...]]) -> None:
        with (
            self.datastore.get_connection(commit=True) as connection,
            _relaxed_sync(connection),
            connection.transaction(commit=True) as cursor,
        ):
            cursor.executemany(_insert(table, shadow_name(table), "?"), values)

    def drop_shadows(self, tables: Sequence[Table]) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            for table in tables:
                cursor.execute(f"DROP TABLE IF EXISTS {shadow_name(table)}")

    def swap_in(
        self, tables: Sequence[Table], positions: Mapping[str, int], changes: Sequence[Change]
    ) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            for name in sorted(positions):
                self._lock_position(cursor, name)  # the write lock, before any follower
            for table in tables:
                cursor.execute(f"DROP TABLE {table.physical}")
                cursor.execute(f"ALTER TABLE {shadow_name(table)} RENAME TO {table.physical}")
                for statement in _ddl(table, table.physical, "sqlite")[1:]:
                    cursor.execute(statement)
            _run_plan(cursor, changes, lambda t: t.physical, "?", _delete_in_sqlite)
            for name, position in sorted(positions.items()):
                cursor.execute("DELETE FROM tracking WHERE application_name = ?", (name,))
                self._insert_tracking(cursor, Tracking(name, position))

    def _sql(self, sql: str) -> str:
        return re.sub(r"\{(\w+)\}", lambda m: self.physical_name(m.group(1)), sql)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self._sql(sql), list(params))
            return [dict(row) for row in cursor.fetchall()]

    def write(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(self._sql(sql), list(params))
            return int(cursor.sqlite_cursor.rowcount)

    def write_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.executemany(self._sql(sql), [list(row) for row in rows])

    def close(self) -> None:
        self.datastore.close()


DDL_LOCK = "SELECT pg_advisory_xact_lock(hashtext('ledger-read-model-ddl'))"


class PostgresReadModelRecorder(PostgresTrackingRecorder, ReadModelStore):
    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        use_socket_check(datastore)

    # The library tries ten times, each waiting out the pool's timeout: a store that is
    # not there took close to a minute to say so. One wait for a connection is the answer.
    max_tracking_id = retried_unless_lock_timeout(PostgresTrackingRecorder.max_tracking_id)

    def position(self, projection: str) -> int | None:
        found: int | None = self.max_tracking_id(projection)
        return found

    def _qualified(self, table: str) -> str:
        return f'"{self.datastore.schema}".{table}'

    def create_tables(self, tables: Sequence[Table]) -> None:
        """``CREATE ... IF NOT EXISTS`` is not safe against itself: two sessions creating
        one table at once collide on the catalogue (a duplicate key, or "type already
        exists"). The sessions of one database take turns (an advisory lock held to the
        end of the transaction); a collision with anything else is tried again."""
        for attempt in range(3):
            try:
                with self.datastore.transaction(commit=True) as cursor:
                    cursor.execute(DDL_LOCK)
                    for table in tables:
                        for statement in _ddl(table, self._qualified(table.physical), "postgres"):
                            cursor.execute(cast(Any, statement))
                return
            except IntegrityError:
                if attempt == 2:
                    raise

    def positions_starting(self, prefix: str) -> dict[str, int]:
        rows = self.query(
            "SELECT application_name, MAX(notification_id) AS at FROM "
            f"{self._qualified(self.tracking_table_name)} "
            "WHERE left(application_name, ?) = ? GROUP BY application_name",
            [len(prefix), prefix],
        )
        return {str(r["application_name"]): int(r["at"]) for r in rows}

    def _lock_position(self, cursor: Any, projection: str) -> int | None:
        """Read the position and lock its row until the transaction ends."""
        cursor.execute(
            f"SELECT notification_id FROM {self._qualified(self.tracking_table_name)} "
            "WHERE application_name = %s FOR UPDATE",
            (projection,),
        )
        row = cursor.fetchone()
        return None if row is None else int(row["notification_id"])

    def apply_pages(self, writes: Sequence[PageWrite]) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            for write in _in_lock_order(writes):
                self._check_position(cursor, write)
                _run_plan(
                    cursor, write.changes, lambda t: self._qualified(t.physical), "%s",
                    _delete_in_pg,
                )  # fmt: skip
                self._insert_tracking(cursor, Tracking(write.projection, write.position))

    def reset(self, projection: str, tables: Sequence[Table], *, only_if_new: bool = False) -> bool:
        with self.datastore.transaction(commit=True) as cursor:
            if only_if_new and self._lock_position(cursor, projection) is not None:
                return False
            for table in tables:
                cursor.execute(cast(Any, f"DELETE FROM {self._qualified(table.physical)}"))
            cursor.execute(
                cast(
                    Any,
                    f"DELETE FROM {self._qualified(self.tracking_table_name)} "
                    "WHERE application_name = %s",
                ),
                (projection,),
            )
            return True

    def create_shadows(self, tables: Sequence[Table]) -> None:
        """Without key or indexes: ``COPY`` into a bare table, then build them once."""
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(DDL_LOCK)
            for table in tables:
                shadow = self._qualified(shadow_name(table))
                cursor.execute(cast(Any, f"DROP TABLE IF EXISTS {shadow}"))
                columns = _columns(table, "postgres")
                cursor.execute(cast(Any, f"CREATE TABLE {shadow} ({columns})"))

    def copy_rows(self, table: Table, values: Sequence[tuple[Any, ...]]) -> None:
        names = ", ".join(table.column_names)
        statement = f"COPY {self._qualified(shadow_name(table))} ({names}) FROM STDIN"
        with (
            self.datastore.transaction(commit=True) as cursor,
            cursor.copy(cast(Any, statement)) as copy,
        ):
            for row in values:
                copy.write_row(row)

    def drop_shadows(self, tables: Sequence[Table]) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(DDL_LOCK)
            for table in tables:
                shadow = self._qualified(shadow_name(table))
                cursor.execute(cast(Any, f"DROP TABLE IF EXISTS {shadow}"))

    def swap_in(
        self, tables: Sequence[Table], positions: Mapping[str, int], changes: Sequence[Change]
    ) -> None:
        """Locks in a follower's order (positions, then tables), so that neither waits on
        the other for ever; a follower then finds its position moved and reads it again."""
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(DDL_LOCK)
            for name in sorted(positions):
                self._lock_position(cursor, name)
            for table in tables:
                live = self._qualified(table.physical)
                cursor.execute(cast(Any, f"DROP TABLE {live}"))
                cursor.execute(cast(Any,
                    f"ALTER TABLE {self._qualified(shadow_name(table))} RENAME TO {table.physical}"
                ))  # fmt: skip
                key = ", ".join(table.key)
                cursor.execute(cast(Any, f"ALTER TABLE {live} ADD PRIMARY KEY ({key})"))
                for statement in _ddl(table, live, "postgres")[1:]:
                    cursor.execute(cast(Any, statement))
            _run_plan(cursor, changes, lambda t: self._qualified(t.physical), "%s", _delete_in_pg)
            tracking = self._qualified(self.tracking_table_name)
            for name, position in sorted(positions.items()):
                cursor.execute(
                    cast(Any, f"DELETE FROM {tracking} WHERE application_name = %s"), (name,)
                )
                self._insert_tracking(cursor, Tracking(name, position))

    def _sql(self, sql: str) -> str:
        named = re.sub(
            r"\{(\w+)\}", lambda m: self._qualified(self.physical_name(m.group(1))), sql
        )
        # psycopg takes %s; a literal % must be doubled. Queries hold no literal "?".
        return named.replace("%", "%%").replace("?", "%s")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        # One statement on the pool's autocommit connection is a snapshot of its own; a
        # transaction around it would add BEGIN and ROLLBACK, and psycopg forgets its
        # prepared statements at every ROLLBACK.
        with self.datastore.get_connection() as connection:
            cursor = connection.execute(cast(Any, self._sql(sql)), list(params))
            return [dict(row) for row in cursor.fetchall()]

    def write(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(cast(Any, self._sql(sql)), list(params))
            return int(cursor.rowcount)

    def write_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.executemany(cast(Any, self._sql(sql)), [list(row) for row in rows])

    def close(self) -> None:
        self.datastore.close()


def open_read_models(url: str | None = None, tables: Sequence[Table] = ()) -> ReadModelStore:
    """The side store (read models, keys, service tables) in the ledger's database
    (``LEDGER_DATABASE_URL``), naming ``tables`` in its queries. ``services.bootstrap``
    opens it with the whole schema, created at start."""
    env = Environment(name="Projections", env=eventsourcing_env(url or database_url()))
    factory = InfrastructureFactory.construct(env)
    recorder_class: type[TrackingRecorder]
    if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        recorder_class = SQLiteReadModelRecorder
    else:
        recorder_class = PostgresReadModelRecorder
    store = factory.tracking_recorder(recorder_class)
    assert isinstance(store, ReadModelStore)
    store.use_schema(tables)
    return store
