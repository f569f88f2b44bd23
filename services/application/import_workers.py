"""Checking an import's cases in worker processes (``ledger import --workers N``).

Cases are independent: each group of cases is checked by ``importer.check_group``, the
function a sequential import runs, in a worker process with its own ledger over the same
store (keys and subjects are created there, as the importing process would create them).
What the check would have put in the scratch file comes back as a ``GroupOutcome`` and
is merged in file order, so the events are sealed and written in the same order, with
the same bytes, as a sequential import writes them (``tests/test_import_workers.py``).

Two checks need every case at once and stay in the importing process: an ``event_id``
used by two cases of the file (the scratch file knows every use so far), and the claims
of the employees' open files. A file refused by the first is refused as a sequential
import refuses it; the workers may then have checked a case the sequential import
skipped, so the problems listed can be more (never fewer) than a sequential run lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from infra.process_pool import in_order
from infra.spill import Spill, SpilledCase
from services.application.importer import (
    ImportProblem,
    ImportSummary,
    OpenFiles,
    Problems,
    check_group,
    used_by_another_case,
)
from services.application.ledger import Ledger

IN_FLIGHT_PER_WORKER = 2  # groups queued per worker: busy workers, bounded memory


@dataclass
class _Recorded:
    """What ``check_group`` gives the scratch file, kept for the importing process."""

    uses: list[tuple[UUID, str, int]] = field(default_factory=list)  # (event_id, case, line)
    new_files: dict[UUID, str] = field(default_factory=dict)
    sealed: list[tuple[int, StoredEvent]] = field(default_factory=list)

    def first_use(self, event_id: UUID, case_key: str, number: int) -> tuple[str, int] | None:
        self.uses.append((event_id, case_key, number))
        return None  # judged against the whole file by the importing process

    def add_new_files(self, opened: dict[UUID, str]) -> None:
        self.new_files.update(opened)

    def add_sealed(self, rows: Sequence[tuple[int, StoredEvent]]) -> None:
        self.sealed.extend(rows)


@dataclass
class GroupOutcome:
    """One group's check, as the importing process merges it."""

    lines: int
    summary: ImportSummary
    problems: list[ImportProblem]
    more_problems: int  # found beyond those kept
    recorded: _Recorded
    files: OpenFiles

    def merge_into(
        self, spill: Spill, summary: ImportSummary, problems: Problems, files: OpenFiles
    ) -> None:
        spill.add_new_files(self.recorded.new_files)  # first: taken back if refused
        for event_id, case_key, number in self.recorded.uses:
            used_by_another_case(spill, event_id, case_key, number, problems)
        for problem in self.problems:
            problems.add(problem)
        problems.total += self.more_problems
        summary.duplicates += self.summary.duplicates
        summary.cases_opened += self.summary.cases_opened
        summary.cases_updated += self.summary.cases_updated
        files.opening.extend(self.files.opening)
        files.open_after.update(self.files.open_after)
        if not problems.total:
            spill.add_sealed(self.recorded.sealed)


_worker_ledger: Ledger | None = None


def _open_ledger(url: str, protect: bool) -> None:
    global _worker_ledger
    _worker_ledger = Ledger(url, protect=protect)


def _check(group: list[SpilledCase]) -> GroupOutcome:
    assert _worker_ledger is not None, "the worker's ledger opens when the worker starts"
    summary, problems, files, recorded = ImportSummary(), Problems(), OpenFiles(), _Recorded()
    check_group(_worker_ledger, recorded, group, summary, problems, files)
    kept = problems.kept()
    return GroupOutcome(
        lines=sum(len(lines) for _, lines in group),
        summary=summary,
        problems=kept,
        more_problems=problems.total - len(kept),
        recorded=recorded,
        files=files,
    )


def checked_in_workers(
    ledger: Ledger, groups: Iterable[list[SpilledCase]], workers: int
) -> Iterator[GroupOutcome]:
    """Each group checked in one of ``workers`` processes; outcomes in the groups' order."""
    protect = ledger.keys is not None
    return in_order(_check, groups, workers, start=_open_ledger,
                    start_args=(ledger.database_url, protect),
                    in_flight_per_worker=IN_FLIGHT_PER_WORKER)  # fmt: skip
