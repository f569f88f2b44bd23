"""A backup an admin can restore: every stored event as stored, and the side-store tables
that cannot be rebuilt, in one JSON Lines file (``ledger export --backup``,
``ledger restore``).

The interchange export is for exchange: protected values the reader may not see are
withheld, so it cannot bring back a medical note or an erased file. A backup holds the
stored bytes (sealed fields stay sealed, under the wrapped keys it also holds), the
notification ids, the key tables, the audit tree and checkpoints, the access log and the
headcounts. Restored into an empty store it gives the same rows, byte for byte; read
models are rebuilt from the events. Reading the sealed fields afterwards needs the same
master key (``LEDGER_MASTER_KEY``): the backup carries no key in the clear.

Lines: a header, one ``event`` line per stored event in notification order, one
``table`` line per kept row, and a trailer with the counts and the SHA-256 of every line
before it, so that a truncated or altered file is refused before anything is written.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from uuid import UUID

from infra.audit import AUDIT_CHECKPOINT, AUDIT_LEAF
from infra.backup import Row, StoreNotEmptyError, stored_rows, write_rows
from infra.headcount import HEADCOUNT
from infra.keys import KEY_TABLES
from infra.open_files import OPEN_FILE
from infra.readmodel import Table
from infra.revocations import REVOKED_TOKEN
from infra.service_tables import CASE_ACCESS
from services.application.context import Context
from services.schema import SCHEMA_VERSION

FORMAT = "reintegration-ledger/backup/1"
# What cannot be rebuilt from the events (read models and request caches can).
KEPT: tuple[Table, ...] = (
    *KEY_TABLES, OPEN_FILE, AUDIT_LEAF, AUDIT_CHECKPOINT, CASE_ACCESS, HEADCOUNT,
    REVOKED_TOKEN,
)
KEPT_NAMES = tuple(table.name for table in KEPT)

__all__ = ["BackupRejectedError", "BackupSummary", "StoreNotEmptyError", "restore", "write"]


class BackupRejectedError(ValueError):
    """The file is not a whole backup this ledger can restore; nothing was written."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}; nothing was restored")
        self.line = line


@dataclass(frozen=True)
class BackupSummary:
    events: int
    rows: int


def write(
    ctx: Context, out: IO[str], progress: Callable[[int], None] | None = None
) -> BackupSummary:
    """Write the backup of ``ctx``'s ledger to ``out``."""
    digest = hashlib.sha256()

    def emit(item: dict[str, Any]) -> None:
        text = json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n"
        digest.update(text.encode())
        out.write(text)

    emit({"format": FORMAT, "schema_version": SCHEMA_VERSION,
          "made_at": datetime.now(UTC).isoformat(timespec="seconds")})  # fmt: skip
    events = 0
    for n in stored_rows(ctx.ledger.recorder):
        state = base64.b64encode(n.state).decode()
        emit({"event": [n.id, str(n.originator_id), n.originator_version, n.topic, state]})
        events += 1
        if progress is not None and events % 10_000 == 0:
            progress(events)
    rows = 0
    for table in KEPT:
        order = ", ".join(table.key)
        for row in ctx.store.query(f"SELECT * FROM {{{table.name}}} ORDER BY {order}"):
            emit({"table": table.name, "row": {c: row[c] for c in table.column_names}})
            rows += 1
    out.write(json.dumps({"end": True, "events": events, "rows": rows,
                          "sha256": digest.hexdigest()}) + "\n")  # fmt: skip
    return BackupSummary(events, rows)


def restore(ctx: Context, path: Path) -> BackupSummary:
    """Restore the backup at ``path`` into ``ctx``'s empty store: checked whole first."""
    expected = _check(path)
    written = write_rows(ctx.ledger.recorder, _events(path))  # refuses a store in use
    kept = _kept_rows(path)
    rows = 0
    for table in KEPT:
        name = table.name
        found = [[row.get(c) for c in table.column_names] for row in kept.get(name, [])]
        ctx.store.write(f"DELETE FROM {{{name}}}")  # what the new store's setup put there
        if found:
            columns = ", ".join(table.column_names)
            marks = ", ".join("?" for _ in table.column_names)
            ctx.store.write_many(f"INSERT INTO {{{name}}} ({columns}) VALUES ({marks})", found)
        rows += len(found)
    ctx.catch_up()  # the read models, from the restored events
    assert (written, rows) == expected
    return BackupSummary(written, rows)


def _raw_lines(path: Path) -> Iterator[tuple[int, bytes, dict[str, Any]]]:
    """Each line as read (for the digest) and as the object it must be."""
    with path.open("rb") as file:
        for number, raw in enumerate(file, start=1):
            try:
                item = json.loads(raw)
            except ValueError as error:
                raise BackupRejectedError(number, f"not a backup line: not JSON ({error}); "
                                          "the file may be cut short") from None  # fmt: skip
            if not isinstance(item, dict):
                raise BackupRejectedError(number, "not a backup line: not a JSON object")
            yield number, raw, item


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, _, item in _raw_lines(path):
        yield number, item


def _check(path: Path) -> tuple[int, int]:
    """The counts the trailer promises, once the whole file has been checked."""
    digest, events, rows, number = hashlib.sha256(), 0, 0, 0
    for number, raw, item in _raw_lines(path):
        if number == 1 and item.get("format") != FORMAT:
            raise BackupRejectedError(1, f"not a backup (format {FORMAT}): ledger export "
                                      "--backup writes one")  # fmt: skip
        if number == 1 and item.get("schema_version") != SCHEMA_VERSION:
            raise BackupRejectedError(1, f"schema version {item.get('schema_version')}, "
                                      f"this ledger restores {SCHEMA_VERSION}")  # fmt: skip
        if item.get("end"):
            promised = (item.get("events"), item.get("rows"), item.get("sha256"))
            if promised != (events, rows, digest.hexdigest()):
                raise BackupRejectedError(number, "the trailer does not match the lines "
                                          "before it (altered or cut short)")  # fmt: skip
            return events, rows
        events += "event" in item
        rows += "table" in item
        digest.update(raw)
    raise BackupRejectedError(number, "no trailer: the file was cut short")


def _events(path: Path) -> Iterator[Row]:
    for number, item in _lines(path):
        if "event" in item:
            try:
                n, originator, version, topic, state = item["event"]
                yield int(n), UUID(originator), int(version), str(topic), base64.b64decode(state)
            except (TypeError, ValueError) as error:
                raise BackupRejectedError(number, f"not a stored event ({error})") from None


def _kept_rows(path: Path) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for number, item in _lines(path):
        if "table" in item:
            if item["table"] not in KEPT_NAMES or not isinstance(item.get("row"), dict):
                kept_tables = ", ".join(KEPT_NAMES)
                raise BackupRejectedError(number, f"not a row of a kept table ({kept_tables})")
            found.setdefault(item["table"], []).append(item["row"])
    return found
