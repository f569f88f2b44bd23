"""Every table of the side store, in one list, and the migrations that create them.

The side store lives in the ledger's database beside the event store: the read models
(each defined beside its projection), the key tables, the service tables of the API
(access log, idempotency keys), the audit tree, headcounts and the feed's status.
``migrate`` runs once at start (``services.bootstrap``): it applies the steps the store
has not seen, in order, and records the version reached, so that an upgrade is an
explicit, numbered step and an older ledger refuses a newer store.

A read model that changes shape gets a new table version (``Table.version``) and a new
migration step that creates it; its projection starts from zero beside the old table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from infra.audit import AUDIT_CHECKPOINT, AUDIT_LEAF
from infra.headcount import HEADCOUNT
from infra.kafka import FEED_STATUS, KAFKA_PARTITION
from infra.keys import KEY_TABLES
from infra.open_files import OPEN_FILE, backfill
from infra.readmodel import ReadModelStore, Table, open_read_models
from infra.revocations import REVOKED_TOKEN
from infra.service_tables import CASE_ACCESS, IDEMPOTENCY, REMINDER, SCHEDULED_RUN
from projections.catalogue import all_projections
from projections.set_aside import SET_ASIDE

SCHEMA_VERSION_TABLE = Table(
    name="schema_version",
    columns=(("name", "text"), ("version", "integer")),
    key=("name",),
)
READ_MODELS: tuple[Table, ...] = tuple(t for p in all_projections() for t in p.tables)
TABLES: tuple[Table, ...] = (
    SCHEMA_VERSION_TABLE,
    *READ_MODELS,
    SET_ASIDE,
    *KEY_TABLES,
    OPEN_FILE,
    CASE_ACCESS,
    IDEMPOTENCY,
    AUDIT_LEAF,
    AUDIT_CHECKPOINT,
    HEADCOUNT,
    FEED_STATUS,
    REVOKED_TOKEN,
    KAFKA_PARTITION,
    SCHEDULED_RUN,
    REMINDER,
)


@dataclass(frozen=True)
class Migration:
    version: int
    what: str
    apply: Callable[[ReadModelStore], None]


def _create_every_table(store: ReadModelStore) -> None:
    """Version 1: the tables as issue 18 found them (each ``IF NOT EXISTS``, so a store
    written before versions were recorded is brought under them unchanged)."""
    store.create_tables([t for t in TABLES if t not in LATER])
    store.write("INSERT INTO {key_epoch} (name, n) VALUES ('erasures', 0) ON CONFLICT DO NOTHING")


def _create_set_aside(store: ReadModelStore) -> None:
    """Version 2 (issue 19): events a projection set aside instead of stalling."""
    store.create_tables([SET_ASIDE])


def _create_open_file(store: ReadModelStore) -> None:
    """Version 3 (issue 19): one open file per employee at an employer, claimed by every
    writer; the files the case-state read model shows open claim theirs (a store whose
    read model lags gets the claims of the files it shows)."""
    store.create_tables([OPEN_FILE])
    backfill(store)


def _create_revoked_token(store: ReadModelStore) -> None:
    """Version 4 (issue 19): the revocation list of bearer tokens (``ledger revoke``)."""
    store.create_tables([REVOKED_TOKEN])


def _create_kafka_partition(store: ReadModelStore) -> None:
    """Version 5 (issue 22): the partition ends scale-out workers see, for their lag."""
    store.create_tables([KAFKA_PARTITION])


def _create_scheduled_run(store: ReadModelStore) -> None:
    """Version 6 (issue 22): the slots ``ledger schedule`` claimed and ran."""
    store.create_tables([SCHEDULED_RUN])


def _create_reminder(store: ReadModelStore) -> None:
    """Version 7 (issue 21): the reminders ``ledger signals`` claimed and sent."""
    store.create_tables([REMINDER])


LATER: tuple[Table, ...] = (SET_ASIDE, OPEN_FILE, REVOKED_TOKEN, KAFKA_PARTITION, SCHEDULED_RUN,
                            REMINDER)  # fmt: skip
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "create every table of the side store", _create_every_table),
    Migration(2, "create the set_aside table of the projection runner", _create_set_aside),
    Migration(3, "create the open_file claims and claim the open files", _create_open_file),
    Migration(4, "create the revoked_token list of bearer tokens", _create_revoked_token),
    Migration(5, "create the kafka_partition ends of scale-out workers", _create_kafka_partition),
    Migration(6, "create the scheduled_run slots of ledger schedule", _create_scheduled_run),
    Migration(7, "create the reminder outbox of ledger signals", _create_reminder),
)
SCHEMA_VERSION = MIGRATIONS[-1].version


class SchemaTooNewError(RuntimeError):
    """The store was migrated by a newer ledger than this one."""


@dataclass(frozen=True)
class MigrationResult:
    before: int  # 0: a store no ledger has set up yet
    after: int
    applied: tuple[str, ...]


def schema_version(store: ReadModelStore) -> int:
    """The version the store is at (0 before the first migration)."""
    store.create_tables([SCHEMA_VERSION_TABLE])
    rows = store.query("SELECT version FROM {schema_version} WHERE name = 'side_store'")
    return int(rows[0]["version"]) if rows else 0


def migrate(store: ReadModelStore) -> MigrationResult:
    """Apply every step after the store's version, in order; each step is idempotent, so
    two processes starting at once both succeed."""
    found = schema_version(store)
    if found > SCHEMA_VERSION:
        msg = (
            f"the database's side store is at schema version {found}, newer than this "
            f"ledger's {SCHEMA_VERSION}: upgrade the ledger"
        )
        raise SchemaTooNewError(msg)
    pending = [m for m in MIGRATIONS if m.version > found]
    for step in pending:
        step.apply(store)
        store.write(
            "INSERT INTO {schema_version} (name, version) VALUES ('side_store', ?) "
            "ON CONFLICT (name) DO UPDATE SET version = excluded.version",
            [step.version],
        )
    return MigrationResult(found, max(found, SCHEMA_VERSION), tuple(m.what for m in pending))


def open_store(url: str | None = None) -> ReadModelStore:
    """The side store of the ledger at ``url`` (``LEDGER_DATABASE_URL``), its schema
    migrated: every process opens it through here (``services.bootstrap``)."""
    store = open_read_models(url, TABLES)
    try:
        migrate(store)
    except BaseException:
        store.close()
        raise
    return store


@contextmanager
def side_store(url: str | None = None) -> Iterator[ReadModelStore]:
    store = open_store(url)
    try:
        yield store
    finally:
        store.close()
