"""A bulk import's scratch space: a temporary SQLite file, so memory stays flat.

An import of a million lines must not hold a million lines, events or cases in
memory. The importer spills each line under its case, reads the lines back one
group of cases at a time, and spills the sealed events it will write. The file
lives in a private temporary directory (``TMPDIR``) and is removed when the
import ends, refused or not; an import killed before it could remove it leaves it to
the next import, which removes every scratch directory whose process is gone. The
lines in it are encrypted with a key that only the importing process holds (it dies
with the process, so a left-over file opens for nobody); the events are sealed as
they will be stored.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import StoredEvent

PREFIX = "ledger-import-"
NONCE = 12
FRESH_SECONDS = 60  # a directory without its pid file yet may be another import's, starting

SpilledLine = tuple[int, bytes | str]
SpilledCase = tuple[str, list[SpilledLine]]  # the case key, and its lines in file order

_SCHEMA = """
CREATE TABLE line (case_key TEXT NOT NULL, number INTEGER NOT NULL, text BLOB NOT NULL);
CREATE TABLE event_seen (event_id TEXT PRIMARY KEY, case_key TEXT NOT NULL,
                         number INTEGER NOT NULL);
CREATE TABLE sealed (number INTEGER PRIMARY KEY, originator_id BLOB NOT NULL,
                     originator_version INTEGER NOT NULL, topic TEXT NOT NULL,
                     state BLOB NOT NULL);
CREATE TABLE new_file (case_id TEXT PRIMARY KEY, token TEXT NOT NULL);
"""


class Spill:
    """Lines grouped by case, event ids seen, sealed events in line order."""

    def __init__(self, directory: str | None = None) -> None:
        remove_abandoned(directory)
        self._dir = tempfile.TemporaryDirectory(prefix=PREFIX, dir=directory)
        (Path(self._dir.name) / "pid").write_text(str(os.getpid()))
        self._cipher = AESGCM(AESGCM.generate_key(bit_length=256))  # never written anywhere
        self._db = sqlite3.connect(Path(self._dir.name) / "spill.db", isolation_level=None)
        self._db.executescript(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; "
            "PRAGMA temp_store = FILE; PRAGMA cache_size = -16000;" + _SCHEMA
        )
        self._db.execute("BEGIN")

    def __enter__(self) -> Spill:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()
        self._dir.cleanup()

    # --- lines, by case ------------------------------------------------------

    def add_lines(self, rows: Sequence[tuple[str, int, bytes | str]]) -> None:
        """(case key, line number, text) rows."""
        self._db.executemany(
            "INSERT INTO line VALUES (?, ?, ?)",
            [(key, number, self._seal(text)) for key, number, text in rows],
        )

    def _seal(self, text: bytes | str) -> bytes:
        raw = text.encode() if isinstance(text, str) else text
        nonce = secrets.token_bytes(NONCE)
        return nonce + self._cipher.encrypt(nonce, raw, None)

    def _open(self, sealed: bytes) -> bytes:
        return self._cipher.decrypt(sealed[:NONCE], sealed[NONCE:], None)

    def case_groups(self, cases_per_group: int) -> Iterator[list[SpilledCase]]:
        """Every case's key and lines in file order, ``cases_per_group`` cases at a time,
        cases in the order of their first line."""
        self._db.execute("CREATE INDEX line_by_case ON line (case_key, number)")
        rows = self._db.execute(
            "SELECT l.case_key, l.number, l.text FROM line l "
            "JOIN (SELECT case_key, MIN(number) AS first FROM line GROUP BY case_key) f "
            "ON f.case_key = l.case_key ORDER BY f.first, l.number"
        )
        group: list[SpilledCase] = []
        for key, number, text in rows:
            if not group or key != group[-1][0]:
                if len(group) == cases_per_group:
                    yield group
                    group = []
                group.append((key, []))
            group[-1][1].append((number, self._open(text)))
        if group:
            yield group

    # --- event ids, across cases ------------------------------------------

    def first_use(self, event_id: UUID, case_key: str, number: int) -> tuple[str, int] | None:
        """Record that line ``number`` uses ``event_id``; the case key and line of an
        earlier use, if there was one."""
        label = str(event_id)
        row = self._db.execute(
            "SELECT case_key, number FROM event_seen WHERE event_id = ?", (label,)
        ).fetchone()
        if row is not None:
            return str(row[0]), int(row[1])
        self._db.execute("INSERT INTO event_seen VALUES (?, ?, ?)", (label, case_key, number))
        return None

    # --- sealed events, in line order ------------------------------------

    def add_sealed(self, rows: Sequence[tuple[int, StoredEvent]]) -> None:
        self._db.executemany(
            "INSERT INTO sealed VALUES (?, ?, ?, ?, ?)",
            [
                (n, _uuid(e.originator_id).bytes, e.originator_version, e.topic, e.state)
                for n, e in rows
            ],
        )

    def sealed_count(self) -> int:
        row = self._db.execute("SELECT COUNT(*) FROM sealed").fetchone()
        return int(row[0])

    def sealed_batches(self, size: int) -> Iterator[list[StoredEvent]]:
        """The sealed events in the order of their lines (the table's own order: the line
        number is its key), ``size`` at a time."""
        rows = self._db.execute(
            "SELECT originator_id, originator_version, topic, state FROM sealed ORDER BY number"
        )
        while batch := rows.fetchmany(size):
            yield [
                StoredEvent(originator_id=UUID(bytes=o), originator_version=v, topic=t, state=s)
                for o, v, t, s in batch
            ]

    # --- files opened by this import --------------------------------------

    def add_new_files(self, opened: dict[UUID, str]) -> None:
        """Key rows this import created (case id, token), to take back if it is refused."""
        self._db.executemany(
            "INSERT OR IGNORE INTO new_file VALUES (?, ?)",
            [(str(c), token) for c, token in opened.items()],
        )

    def new_files(self, size: int = 500) -> Iterator[list[tuple[UUID, str]]]:
        rows = self._db.execute("SELECT case_id, token FROM new_file")
        while batch := rows.fetchmany(size):
            yield [(UUID(c), str(token)) for c, token in batch]


def remove_abandoned(directory: str | None = None) -> None:
    """Remove the scratch directories of imports whose process is gone (killed before they
    could clean up)."""
    for found in Path(directory or tempfile.gettempdir()).glob(f"{PREFIX}*"):
        try:
            pid = int((found / "pid").read_text())
        except (OSError, ValueError):  # no pid yet (just made) or an older ledger's
            if time.time() - found.stat().st_mtime < FRESH_SECONDS:
                continue
            pid = None
        if pid is not None and _alive(pid):
            continue
        shutil.rmtree(found, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: alive
    return True


def _uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)
