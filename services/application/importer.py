"""Bulk import of interchange JSON Lines: validate everything, then write in batches.

Nothing is written unless every line is valid and every event keeps every rule
of its case. Events are then written in file order, in batched transactions;
re-importing the same ``event_id`` appends nothing, so an import interrupted by
a database failure is completed by running it again.

Memory stays flat in the size of the file (issue 10): the lines are spilled to a
scratch file under their case (``infra.spill``), checked a group of cases at a
time, and the sealed events spilled again until every line has passed.
"""

from __future__ import annotations

import heapq
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, BinaryIO, Protocol
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from domain.case import Case, holds_open_file, opens_file
from domain.events import CaseEvent, SicknessReported, SicknessResumed
from domain.interchange import InterchangeLine, LineError, parse_line
from domain.rules import ONE_OPEN_FILE, RuleViolation
from infra.open_files import FileAlreadyOpenError
from infra.spill import Spill, SpilledCase
from services.application.ledger import DuplicateEventError, Ledger, offer, used_elsewhere

log = logging.getLogger("ledger.import")

DEFAULT_BATCH_SIZE = 5000
CASES_PER_GROUP = 500  # cases checked together: bounds the memory of the check
MAX_REPORTED_PROBLEMS = 100

# (stage, done, total); total 0 while the file is still being read
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ImportProblem:
    line: int
    field: str
    message: str
    rule: str | None = None

    def __str__(self) -> str:
        suffix = f" [rule {self.rule}]" if self.rule else ""
        return f"line {self.line}: {self.field}: {self.message}{suffix}"


class ImportRejectedError(ValueError):
    """The input was refused as a whole; nothing was written."""

    def __init__(self, problems: Sequence[ImportProblem], total: int | None = None) -> None:
        self.problems = list(problems)
        self.total = total if total is not None else len(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


@dataclass
class ImportSummary:
    lines: int = 0
    appended: int = 0
    duplicates: int = 0
    cases_opened: int = 0
    cases_updated: int = 0
    batches: int = 0
    seconds: float = 0.0
    events_per_second: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def numbered(raw_lines: Iterable[bytes | str]) -> Iterator[tuple[int, bytes | str]]:
    """Non-blank lines with their 1-based line numbers, read as they are needed."""
    return ((n, text) for n, text in enumerate(raw_lines, start=1) if text.strip())


def read_lines(stream: BinaryIO, chunk: int = 1 << 20) -> Iterator[bytes]:
    """The stream's lines, split as ``bytes.splitlines`` splits them (LF, CRLF, CR), read a
    chunk at a time. A line longer than ``MAX_LINE_BYTES`` comes back cut to one byte more
    (to be refused as too long) and the rest of it is skipped, never held whole."""
    pending, skipping = b"", False
    while block := stream.read(chunk):
        lines = (pending + block).splitlines(keepends=True)
        # the last piece may go on in the next block: no line end yet, or a CR before an LF
        pending = b"" if lines[-1].endswith(b"\n") else lines.pop()
        for line in lines:
            if skipping:  # the end of a line already given back cut
                skipping = False
                continue
            yield line
        if len(pending) > MAX_LINE_BYTES:
            if not skipping:
                yield pending[: MAX_LINE_BYTES + 1]
            pending, skipping = b"", True
    if pending and not skipping:
        yield pending


class Problems:
    """Every problem counted; the ``MAX_REPORTED_PROBLEMS`` earliest lines kept."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, ImportProblem]] = []  # (-line, order, problem)
        self.total = 0

    def add(self, problem: ImportProblem) -> None:
        self.total += 1
        item = (-problem.line, -self.total, problem)
        if len(self._heap) < MAX_REPORTED_PROBLEMS:
            heapq.heappush(self._heap, item)
        else:
            heapq.heappushpop(self._heap, item)

    def kept(self) -> list[ImportProblem]:
        """The problems kept, in line order."""
        items = sorted(self._heap, key=lambda item: (-item[0], -item[1]))
        return [problem for _, _, problem in items]

    def raise_if_any(self) -> None:
        if self.total:
            raise ImportRejectedError(self.kept(), self.total)


MAX_LINE_BYTES = 64 * 1024  # the largest event (a 5,000-character note) is far smaller
SPILL_ROWS = 5000

_CASE_ID_TEXT = re.compile(r'"case_id"\s*:\s*"([^"\\]{1,100})"')
_CASE_ID_BYTES = re.compile(rb'"case_id"\s*:\s*"([^"\\]{1,100})"')


def case_key(text: bytes | str) -> str:
    """The line's case id, read without validating the line, to group lines by case.
    A line whose key differs from the case id its validation finds is refused, so a
    key read wrongly can refuse a line but never put it in another case."""
    found: set[Any] = set(
        _CASE_ID_BYTES.findall(text) if isinstance(text, bytes) else _CASE_ID_TEXT.findall(text)
    )
    raw = found.pop() if len(found) == 1 else _case_id_from_json(text)
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    try:
        return str(UUID(raw))  # the same case however its id is spelled
    except ValueError:
        return str(raw)


def _case_id_from_json(text: bytes | str) -> str:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # validation reports the line
        return ""
    case_id = value.get("case_id") if isinstance(value, dict) else None
    return case_id if isinstance(case_id, str) else ""


def _spill_lines(
    spill: Spill,
    lines: Iterable[tuple[int, bytes | str]],
    summary: ImportSummary,
    problems: Problems,
    progress: Progress | None,
) -> None:
    rows: list[tuple[str, int, bytes | str]] = []
    for number, text in lines:
        summary.lines += 1
        if progress and summary.lines % 100_000 == 0:
            progress("read", summary.lines, 0)
        if len(text) > MAX_LINE_BYTES:
            problems.add(ImportProblem(number, "line", f"longer than {MAX_LINE_BYTES:,} bytes; "
                                       "no event is that large"))  # fmt: skip
            continue
        rows.append((case_key(text), number, text))
        if len(rows) == SPILL_ROWS:
            spill.add_lines(rows)
            rows = []
    spill.add_lines(rows)


CaseLines = tuple[UUID, list[tuple[int, InterchangeLine]]]


class CheckOutput(Protocol):
    """Where checking a group of cases puts what it finds: the scratch file (``Spill``), or,
    in a worker process, a record of it for the importing process (``import_workers``)."""

    def first_use(self, event_id: UUID, case_key: str, number: int) -> tuple[str, int] | None: ...

    def add_new_files(self, opened: dict[UUID, str]) -> None: ...

    def add_sealed(self, rows: Sequence[tuple[int, StoredEvent]]) -> None: ...


def _parse_case(
    spill: CheckOutput, case: SpilledCase, summary: ImportSummary, problems: Problems
) -> CaseLines | None:
    """One case's valid lines, repeats removed; None if any of its lines is bad."""
    key, lines = case
    parsed: list[tuple[int, InterchangeLine]] = []
    first: dict[UUID, tuple[int, InterchangeLine]] = {}
    bad = False
    for number, text in lines:
        try:
            line = parse_line(text)
        except LineError as error:
            problems.add(ImportProblem(number, error.field, error.message))
            bad = True
            continue
        if str(line.case_id) != key:  # the grouping read it otherwise
            problems.add(ImportProblem(number, "case_id", "given more than once in the line"))
            bad = True
            continue
        earlier = first.get(line.event_id)
        if earlier is None:
            first[line.event_id] = (number, line)
            parsed.append((number, line))
            bad |= used_by_another_case(spill, line.event_id, key, number, problems)
        elif earlier[1] == line:
            summary.duplicates += 1
        else:
            problems.add(ImportProblem(
                number, "event_id", f"also used on line {earlier[0]} for different content"
            ))  # fmt: skip
            bad = True
    return None if bad or not parsed else (parsed[0][1].case_id, parsed)


def used_by_another_case(
    spill: CheckOutput, event_id: UUID, case_key: str, number: int, problems: Problems
) -> bool:
    earlier = spill.first_use(event_id, case_key, number)
    if earlier is None or earlier[0] == case_key:
        return False
    later, first = max(number, earlier[1]), min(number, earlier[1])
    problems.add(
        ImportProblem(later, "event_id", f"also used on line {first} for different content")
    )
    return True


def _stored_in_other_cases(
    ledger: Ledger, cases: list[tuple[UUID, list[tuple[int, InterchangeLine]]]], problems: Problems
) -> None:
    """Lines whose ``event_id`` another case of the store holds (one query per group): the
    store would refuse them half-way through the write, so the file is refused now."""
    lines = [item for _, case_lines in cases for item in case_lines]
    owners = ledger.cases_of_event_ids([line.event_id for _, line in lines])
    for number, line in lines:
        owner = owners.get(line.event_id)
        if owner is not None and owner != line.case_id:
            problems.add(ImportProblem(number, "event_id", used_elsewhere(line.event_id)))


def _apply_case(
    ledger: Ledger,
    case: Case | None,
    lines: list[tuple[int, InterchangeLine]],
    subject_of: SubjectOf,
    summary: ImportSummary,
    problems: Problems,
) -> tuple[Case | None, list[tuple[int, CaseEvent]]]:
    """Offer a case's lines to it in file order: the case after them and its new events
    with their line numbers (none, and the case as stored, if a line is refused)."""
    line_of: dict[UUID, int] = {}
    for number, line in lines:
        try:
            if case is not None and line.event_id in case.events_by_id:  # stored before
                ledger.same_as_stored(case, line)
                summary.duplicates += 1
                continue
            case = offer(case, line, subject_of(line))
            line_of[line.event_id] = number
        except RuleViolation as violation:
            problems.add(ImportProblem(
                number, violation.field, violation.violation.message, violation.rule.name
            ))  # fmt: skip
            return None, []
        except DuplicateEventError as error:
            problems.add(ImportProblem(number, "event_id", str(error)))
            return None, []
    events = case.collect_case_events() if case is not None else []
    return case, [(line_of[event.event_id], event) for event in events]


@dataclass
class OpenFiles:
    """The files this import opens, claimed once every case is checked (rule
    one_open_file_per_employee): a file may give up its claim later in the same import
    (closed, recovered), so each is judged by its state after the whole file."""

    opening: list[tuple[int, Case]] = field(default_factory=list)  # (line, case after)
    open_after: dict[UUID, bool] = field(default_factory=dict)  # every case the file touches
    claimed: list[UUID] = field(default_factory=list)

    def note(self, before: Case | None, after: Case, new: list[tuple[int, CaseEvent]]) -> None:
        self.open_after[after.id] = holds_open_file(after.current)
        if new and opens_file(before.current if before else None, after.current):
            opening = [n for n, e in new if isinstance(e, SicknessReported | SicknessResumed)]
            self.opening.append(((opening or [new[0][0]])[0], after))

    def claim(self, ledger: Ledger, problems: Problems) -> None:
        opening = sorted(self.opening, key=lambda item: item[0])
        free = ledger.claim_free_files([case for _, case in opening])
        self.claimed.extend(free)
        for number, case in opening:
            if case.id in free:
                continue
            try:
                if ledger.claim_open_file(case, self.open_after):
                    self.claimed.append(case.id)
            except FileAlreadyOpenError as error:
                held = f"case {error.holder}"
                problems.add(ImportProblem(
                    number, "data.employee_id",
                    f"the employee already has an open file at this employer ({held}): "
                    "record the sickness there, or close or recover that file first",
                    ONE_OPEN_FILE.name,
                ))  # fmt: skip


SubjectOf = Callable[[InterchangeLine], UUID | None]
NOT_SEALED = UUID(int=0)  # the subject of a report in a file already refused: never stored


def _subjects(ledger: Ledger, lines: list[InterchangeLine], problems: Problems) -> SubjectOf:
    """Where the employees' subjects come from: the ledger (created on first use), or, once
    the file is refused anyway, a placeholder, so that a refused file creates none."""
    if problems.total:
        return lambda line: NOT_SEALED
    known = ledger.subjects_of(lines)
    return lambda line: ledger.subject_of(line, known)


def check_group(
    ledger: Ledger,
    spill: CheckOutput,
    group: list[SpilledCase],
    summary: ImportSummary,
    problems: Problems,
    files: OpenFiles,
) -> None:
    """Validate a group of cases, apply their rules and, while the file is clean so far,
    spill their new events sealed."""
    cases = [c for c in (_parse_case(spill, case, summary, problems) for case in group) if c]
    _stored_in_other_cases(ledger, cases, problems)
    existing = ledger.existing_case_ids([case_id for case_id, _ in cases])
    subject_of = _subjects(ledger, [line for _, lines in cases for _, line in lines], problems)
    new: list[tuple[int, CaseEvent]] = []
    for case_id, lines in cases:
        stored = ledger.get_case(case_id) if case_id in existing else None
        after, events = _apply_case(ledger, stored, lines, subject_of, summary, problems)
        if after is not None:
            files.note(stored, after, events)
        if events:
            summary.cases_updated += case_id in existing
            summary.cases_opened += case_id not in existing
        new.extend(events)
    if problems.total or not new:
        return  # the file will be refused: check the rest, seal nothing more
    fresh = [event for _, event in new]
    spill.add_new_files(ledger.open_new_files(fresh))  # recorded before sealing can fail
    sealed = ledger.seal(fresh)
    spill.add_sealed([(number, s) for (number, _), s in zip(new, sealed, strict=True)])


def import_lines(
    ledger: Ledger,
    lines: Iterable[tuple[int, bytes | str]],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
    scratch_dir: str | None = None,
    workers: int = 1,
) -> ImportSummary:
    """Import numbered interchange lines; raise ``ImportRejectedError`` if any is bad.
    ``scratch_dir`` holds the import's scratch file (default: ``TMPDIR``), encrypted
    with a key that dies with the process. ``workers`` above 1 checks groups of cases in
    that many processes (``import_workers``); what is stored is the same."""
    started = time.perf_counter()
    summary = ImportSummary()
    problems = Problems()
    ledger.drop_abandoned_files()  # an import killed earlier: its keys of unwritten files
    files = OpenFiles()
    with Spill(scratch_dir) as spill:  # (and its scratch directory: Spill removes it)
        try:
            _spill_lines(spill, lines, summary, problems, progress)
            checked = 0
            for lines_checked in _check_groups(ledger, spill, summary, problems, files, workers):
                before, checked = checked, checked + lines_checked
                if progress and checked // 10_000 > before // 10_000:
                    progress("check", checked, summary.lines)
            if not problems.total:
                files.claim(ledger, problems)
            problems.raise_if_any()
        except BaseException:
            _take_back_keys(ledger, spill)
            _take_back_claims(ledger, files)
            raise
        try:
            _write(ledger, spill, summary, batch_size, progress)
        except BaseException:
            _take_back_claims(ledger, files)
            raise
    summary.seconds = round(time.perf_counter() - started, 3)
    if summary.seconds:
        summary.events_per_second = round(summary.appended / summary.seconds, 1)
    return summary


def _check_groups(
    ledger: Ledger,
    spill: Spill,
    summary: ImportSummary,
    problems: Problems,
    files: OpenFiles,
    workers: int,
) -> Iterator[int]:
    """Check every group of cases, in file order; the lines of each group as it is done."""
    groups = spill.case_groups(CASES_PER_GROUP)
    if workers <= 1:
        for group in groups:
            check_group(ledger, spill, group, summary, problems, files)
            yield sum(len(lines) for _, lines in group)
        return
    from services.application.import_workers import checked_in_workers  # (spawns processes)

    for outcome in checked_in_workers(ledger, groups, workers):
        outcome.merge_into(spill, summary, problems, files)
        yield outcome.lines


def _take_back_keys(ledger: Ledger, spill: Spill) -> None:
    """Delete the key rows this refused (or failed) import created; a failure here is
    logged, never raised over the import's own error. Rows left behind hold no personal
    data; a later import of the same file reuses them."""
    try:
        for opened in spill.new_files():
            ledger.drop_unwritten_files(opened)
    except Exception:
        log.warning("import: could not take back the keys of files never written", exc_info=True)


def _take_back_claims(ledger: Ledger, files: OpenFiles) -> None:
    """Give up the open-file claims of files this import did not write; as with the keys,
    a failure is logged, and a claim left behind is taken over after a minute."""
    try:
        unwritten = set(files.claimed) - ledger.existing_case_ids(files.claimed)
        ledger.release_open_files(sorted(unwritten, key=str))
    except Exception:
        log.warning("import: could not give up the claims of files never written", exc_info=True)


def _write(
    ledger: Ledger,
    spill: Spill,
    summary: ImportSummary,
    batch_size: int,
    progress: Progress | None,
) -> None:
    total = spill.sealed_count()
    for batch in spill.sealed_batches(batch_size):
        ledger.write_sealed(batch)
        summary.batches += 1
        summary.appended += len(batch)
        if progress:
            progress("write", summary.appended, total)
