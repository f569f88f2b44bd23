"""Bulk import of interchange JSON Lines: validate everything, then write in batches.

Nothing is written unless every line is valid and every event keeps every rule
of its case. Events are then written in file order, in batched transactions;
re-importing the same ``event_id`` appends nothing, so an import interrupted by
a database failure is completed by running it again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any
from uuid import UUID

from domain.case import Case
from domain.events import CaseEvent
from domain.interchange import InterchangeLine, LineError, parse_line
from domain.rules import RuleViolation
from services.ledger import DuplicateEventError, Ledger, offer

DEFAULT_BATCH_SIZE = 5000
MAX_REPORTED_PROBLEMS = 100

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


def numbered(raw_lines: Iterable[bytes | str]) -> list[tuple[int, bytes | str]]:
    """Non-blank lines with their 1-based line numbers."""
    return [(n, text) for n, text in enumerate(raw_lines, start=1) if text.strip()]


class _Problems:
    def __init__(self) -> None:
        self.items: list[ImportProblem] = []
        self.total = 0

    def add(self, problem: ImportProblem) -> None:
        self.total += 1
        if len(self.items) < MAX_REPORTED_PROBLEMS:
            self.items.append(problem)

    def raise_if_any(self) -> None:
        if self.total:
            raise ImportRejectedError(self.items, self.total)


MAX_LINE_BYTES = 64 * 1024  # the largest event (a 5,000-character note) is far smaller


def _parse(
    lines: Sequence[tuple[int, bytes | str]], summary: ImportSummary, progress: Progress | None
) -> list[tuple[int, InterchangeLine]]:
    problems = _Problems()
    parsed: list[tuple[int, InterchangeLine]] = []
    first_seen: dict[UUID, tuple[int, InterchangeLine]] = {}
    for index, (number, text) in enumerate(lines, start=1):
        if progress and index % 10_000 == 0:
            progress("validate", index, len(lines))
        if len(text) > MAX_LINE_BYTES:
            problems.add(ImportProblem(number, "line", f"longer than {MAX_LINE_BYTES:,} bytes; "
                                       "no event is that large"))  # fmt: skip
            continue
        try:
            line = parse_line(text)
        except LineError as error:
            problems.add(ImportProblem(number, error.field, error.message))
            continue
        earlier = first_seen.get(line.event_id)
        if earlier is None:
            first_seen[line.event_id] = (number, line)
            parsed.append((number, line))
        elif earlier[1] == line:
            summary.duplicates += 1
        else:
            problems.add(
                ImportProblem(
                    number, "event_id", f"also used on line {earlier[0]} for different content"
                )
            )
    problems.raise_if_any()
    return parsed


def _apply(
    ledger: Ledger, parsed: Sequence[tuple[int, InterchangeLine]], summary: ImportSummary
) -> list[tuple[int, CaseEvent]]:
    """Apply every line to its case in memory; return new events with their line numbers."""
    case_ids = list(dict.fromkeys(line.case_id for _, line in parsed))
    existing = ledger.existing_case_ids(case_ids)
    cases: dict[UUID, Case] = {case_id: ledger.get_case(case_id) for case_id in existing}
    stored_ids = {case_id: set(case.events_by_id) for case_id, case in cases.items()}
    subjects = ledger.subjects_of([line for _, line in parsed])
    problems = _Problems()
    failed: set[UUID] = set()
    line_of: dict[UUID, int] = {}
    for number, line in parsed:
        if line.case_id in failed:
            continue
        case = cases.get(line.case_id)
        try:
            if case is not None and line.event_id in stored_ids.get(line.case_id, ()):
                ledger.same_as_stored(case, line)
                summary.duplicates += 1
                continue
            cases[line.case_id] = offer(case, line, ledger.subject_of(line, subjects))
            line_of[line.event_id] = number
        except RuleViolation as violation:
            problems.add(
                ImportProblem(
                    number, violation.field, violation.violation.message, violation.rule.name
                )
            )
            failed.add(line.case_id)
        except DuplicateEventError as error:
            problems.add(ImportProblem(number, "event_id", str(error)))
            failed.add(line.case_id)
    problems.raise_if_any()
    summary.cases_opened = len(set(cases) - existing)
    new_events = [event for case in cases.values() for event in case.collect_case_events()]
    summary.cases_updated = len({e.originator_id for e in new_events} & existing)
    return sorted(((line_of[e.event_id], e) for e in new_events), key=lambda pair: pair[0])


def import_lines(
    ledger: Ledger,
    lines: Sequence[tuple[int, bytes | str]],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
) -> ImportSummary:
    """Import numbered interchange lines; raise ``ImportRejectedError`` if any is bad."""
    started = time.perf_counter()
    summary = ImportSummary(lines=len(lines))
    parsed = _parse(lines, summary, progress)
    events = _apply(ledger, parsed, summary)
    for start in range(0, len(events), batch_size):
        batch = [event for _, event in events[start : start + batch_size]]
        ledger.save_events(batch)
        summary.batches += 1
        summary.appended += len(batch)
        if progress:
            progress("write", summary.appended, len(events))
    summary.seconds = round(time.perf_counter() - started, 3)
    if summary.seconds:
        summary.events_per_second = round(summary.appended / summary.seconds, 1)
    return summary
