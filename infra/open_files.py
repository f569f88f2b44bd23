"""One open file per employee at an employer, held by the store (rule
``one_open_file_per_employee``): a row per (subject, employer) names the file that
holds it. Every writer claims the row before it writes an event that opens a file (a
report of a new case, a relapse that resumes a recovered one), so two writers at once
cannot both open one: the row's key lets one of them in.

A claim outlives its file: the row still names a file that has since recovered or been
closed, or one whose writer died before writing it. Whether the holder still holds is
the domain's to say (``Ledger.claim_open_file``); the row is then taken over with a
compare-and-set, so that of two writers taking over the same row only one succeeds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from infra.readmodel import Table, stamp_at, unix_time_of

OPEN_FILE = Table(
    name="open_file",
    columns=(
        ("subject_id", "text"),
        ("employer_id", "text"),
        ("case_id", "text"),
        ("claimed_at", "text"),
    ),
    key=("subject_id", "employer_id"),
    indexes=(("case_id",),),
)
ATTEMPTS = 3  # a take-over that lost its compare-and-set reads the row again


class ClaimStore(Protocol):
    def query(self, sql: str, params: Any = ()) -> list[dict[str, Any]]: ...

    def write(self, sql: str, params: Any = ()) -> int: ...

    def write_many(self, sql: str, rows: Any) -> None: ...


@dataclass(frozen=True)
class Holder:
    case_id: UUID
    claimed_at: float  # Unix time


class FileAlreadyOpenError(RuntimeError):
    """The employee has another open file at this employer."""

    def __init__(self, case_id: UUID, holder: UUID) -> None:
        super().__init__(
            f"the employee already has an open file at this employer: case {holder}; "
            "record the sickness in that file (a relapse within 28 days continues a "
            "recovered one), or close or recover it first"
        )
        self.case_id = case_id
        self.holder = holder


def claim(
    store: ClaimStore,
    subject_id: UUID,
    employer_id: str,
    case_id: UUID,
    still_holds: Callable[[Holder], bool],
) -> None:
    """Make ``case_id`` the open file of the subject at the employer, or raise
    ``FileAlreadyOpenError`` while ``still_holds`` says another file holds the row."""
    key = [str(subject_id), employer_id]
    holder = Holder(case_id, 0.0)
    for _ in range(ATTEMPTS):
        now = stamp_at(time.time())
        if store.write(
            "INSERT INTO {open_file} (subject_id, employer_id, case_id, claimed_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [*key, str(case_id), now],
        ):
            return
        rows = store.query(
            "SELECT case_id, claimed_at FROM {open_file} WHERE subject_id = ? AND employer_id = ?",
            key,
        )
        if not rows:
            continue  # released meanwhile: insert again
        holder = Holder(UUID(rows[0]["case_id"]), unix_time_of(rows[0]["claimed_at"]))
        if holder.case_id == case_id:
            return  # a retry of the same file
        if still_holds(holder):
            raise FileAlreadyOpenError(case_id, holder.case_id)
        if store.write(
            "UPDATE {open_file} SET case_id = ?, claimed_at = ? "
            "WHERE subject_id = ? AND employer_id = ? AND case_id = ?",
            [str(case_id), now, *key, str(holder.case_id)],
        ):
            return
    raise FileAlreadyOpenError(case_id, holder.case_id)


CHUNK = 500  # case ids per query


def claim_free(store: ClaimStore, claims: Sequence[tuple[UUID, str, UUID]]) -> set[UUID]:
    """Claim the rows no file holds yet for these (subject, employer, case), in a few
    statements (an import); the cases that hold their row now. The others go through
    ``claim``, which judges the file that holds theirs."""
    now = stamp_at(time.time())
    store.write_many(
        "INSERT INTO {open_file} (subject_id, employer_id, case_id, claimed_at) "
        "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [[str(subject), employer, str(case_id), now] for subject, employer, case_id in claims],
    )
    ids = [str(case_id) for _, _, case_id in claims]
    held: set[UUID] = set()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        marks = ", ".join("?" * len(chunk))
        rows = store.query(f"SELECT case_id FROM {{open_file}} WHERE case_id IN ({marks})", chunk)
        held.update(UUID(row["case_id"]) for row in rows)
    return held


def release(store: ClaimStore, case_ids: list[UUID]) -> None:
    """Give up the claims of files that were not written after all (a refused write)."""
    for case_id in case_ids:
        store.write("DELETE FROM {open_file} WHERE case_id = ?", [str(case_id)])


def backfill(store: ClaimStore) -> None:
    """Claims for the files the case-state read model shows open (the upgrade step of a
    store written before claims existed); where an old store has two open files of one
    employee, one of them holds (the case ids' order picks it)."""
    store.write(
        "INSERT INTO {open_file} (subject_id, employer_id, case_id, claimed_at) "
        "SELECT subject_id, employer_id, MIN(case_id), ? FROM {case_state} "
        "WHERE status = 'open' AND subject_id IS NOT NULL "
        "GROUP BY subject_id, employer_id ON CONFLICT DO NOTHING",
        [stamp_at(time.time())],
    )
