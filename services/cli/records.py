"""``ledger import``, ``export``, ``schema``, ``report`` and ``record``: facts in and out."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import BinaryIO, TextIO
from uuid import UUID, uuid4

from domain.interchange import json_schema
from services.application import recording, sickness
from services.application.errors import ImportRejectedError
from services.application.importer import import_lines, numbered, read_lines
from services.application.queries import OPERATOR
from services.cli.backup import export_backup
from services.cli.common import (
    EXIT_REFUSED,
    EXIT_USAGE,
    Commands,
    add_json,
    command,
    print_json,
    runtime,
    worker_count,
)


def register(commands: Commands) -> None:
    p = command(
        commands, "import", cmd_import,
        help="import interchange events (JSON Lines)",
        description="Validate every line, then append the events in batched transactions.\n"
        "On any bad line nothing is stored and each problem is reported as\n"
        "'line N: FIELD: what is wrong'. Events whose event_id is already stored\n"
        "are skipped, so an import can safely be run again.",
        examples=["ledger import cases.jsonl",
                  "ledger simulate --cases 100 | ledger import - --json"],
    )  # fmt: skip
    p.add_argument("file", help="a JSON Lines file, or - for standard input")
    p.add_argument(
        "--batch-size", type=int, default=5000, help="events per transaction (default 5000)"
    )
    p.add_argument("--workers", type=worker_count, default=1, metavar="N",
                   help="check cases in N processes (default 1; 'auto': one per core); "
                   "what is stored is the same")  # fmt: skip
    add_json(p, "print a JSON summary (or JSON problems)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output on stderr")

    p = command(
        commands, "export", cmd_export,
        help="export events as JSON Lines",
        description="Write stored events as interchange JSON Lines to standard output:\n"
        "all events in store order, or one case's events in recording order.\n"
        "export, then import into an empty store, then export gives identical output.\n"
        "--backup writes what `ledger restore` brings back byte for byte instead: the\n"
        "stored events as stored (medical notes and erasures included, still sealed),\n"
        "the wrapped keys, the audit tree and checkpoints, the access log, headcounts.\n"
        "Keep it as safe as the database; restoring it needs the same master key.",
        examples=["ledger export > all.jsonl", "ledger export --case 5b1c...e2 > case.jsonl",
                  "ledger export --backup > ledger-2026-12-02.backup"],
    )  # fmt: skip
    p.add_argument("--case", type=UUID, help="only this case")
    p.add_argument("--backup", action="store_true",
                   help="a backup for `ledger restore`, not the interchange format")  # fmt: skip


    command(
        commands, "schema", cmd_schema,
        help="print the JSON Schema of an interchange line",
        description="Print the JSON Schema (draft 2020-12) of one interchange line.",
        examples=["ledger schema > interchange-event.json"],
    )  # fmt: skip

    p = command(
        commands, "report", cmd_report,
        help="report sickness: open a case, or continue one within 28 days (samentelling)",
        description="Report an employee sick, as POST /cases does: a new case, or the\n"
        "employee's case at this employer continued when it recovered less than 28 days\n"
        "before (samentelling, art. 7:629 lid 10 BW; pregnancy leave not counted). The\n"
        "event id makes a repeat append nothing; recorded as the local operator.",
        examples=["ledger report --employee EMP-1042 --employer ER00017 "
                  "--first-sick-day 2026-11-23",
                  "ledger report --employee EMP-7 --employer ER1 --first-sick-day 2026-11-02 "
                  "--safety-net --json"],
    )  # fmt: skip
    p.add_argument("--employee", required=True, metavar="ID", help="the employee's id")
    p.add_argument("--employer", required=True, metavar="ID", help="the employer's id")
    p.add_argument("--first-sick-day", required=True, type=date.fromisoformat, metavar="DATE")
    p.add_argument("--case", type=UUID, metavar="ID", help="the new case's id (default: new)")
    p.add_argument("--event-id", type=UUID, metavar="ID", help="makes a retry append nothing")
    p.add_argument("--sector", metavar="ID")
    p.add_argument("--safety-net", action="store_true",
                   help="a safety-net provision (vangnet) applies; never say which")  # fmt: skip
    add_json(p)

    p = command(
        commands, "record", cmd_record,
        help="record one event of the catalogue for a case",
        description="Record an event as POST /cases/{id}/events does: its data as JSON (as\n"
        "in the interchange format, `ledger schema`), checked against the case's rules.",
        examples=["ledger record 5b1c...e2 ProblemAnalysisCompleted --on 2026-12-20",
                  "ledger record 5b1c...e2 PlanOfApproachAgreed --on 2026-12-28 "
                  "--data '{\"goal\": \"own_work\"}'"],
    )  # fmt: skip
    p.add_argument("case_id", type=UUID, metavar="CASE")
    p.add_argument("type", metavar="TYPE", help="an event type (ledger schema)")
    p.add_argument("--on", required=True, type=date.fromisoformat, metavar="DATE",
                   help="the day it happened")  # fmt: skip
    p.add_argument("--data", default="{}", metavar="JSON", help="the event's data")
    p.add_argument("--event-id", type=UUID, metavar="ID", help="makes a retry append nothing")
    add_json(p)


def _progress(stream: TextIO) -> Callable[[str, int, int], None]:
    def report(stage: str, done: int, total: int) -> None:
        of = f"/{total:,}" if total else ""
        print(f"import: {stage} {done:,}{of}", file=stream, flush=True)

    return report


def _large_only(report: Callable[[str, int, int], None]) -> Callable[[str, int, int], None]:
    """Progress for imports of 10,000 lines or more; a small one finishes too soon."""

    def maybe(stage: str, done: int, total: int) -> None:
        if total == 0 or total >= 10_000:
            report(stage, done, total)

    return maybe


def _open_lines(file: str) -> BinaryIO:
    """The file's lines, read as they are needed (``-``: standard input)."""
    return sys.stdin.buffer if file == "-" else Path(file).open("rb")


def cmd_import(args: argparse.Namespace) -> int:
    try:
        source = _open_lines(args.file)
    except OSError as error:
        print(f"ledger import: cannot read {args.file}: {error.strerror}", file=sys.stderr)
        return EXIT_USAGE
    with source, runtime() as rt:
        try:
            summary = import_lines(
                rt.ledger,
                numbered(read_lines(source)),
                batch_size=args.batch_size,
                progress=None if args.quiet else _large_only(_progress(sys.stderr)),
                workers=args.workers,
            )
        except ImportRejectedError as rejected:
            _report_rejection(rejected, as_json=args.json)
            return EXIT_REFUSED
    if args.json:
        print(json.dumps(summary.to_json()))
    else:
        note = f", {summary.duplicates:,} already stored (skipped)" if summary.duplicates else ""
        print(
            f"imported {summary.appended:,} events from {summary.lines:,} lines{note}; "
            f"{summary.cases_opened:,} new cases, {summary.cases_updated:,} updated; "
            f"{summary.batches} batches in {summary.seconds:.2f}s"
        )
    return 0


def _report_rejection(rejected: ImportRejectedError, *, as_json: bool) -> None:
    if as_json:
        problems = [vars(problem) for problem in rejected.problems]
        print(json.dumps({"imported": 0, "problem_count": rejected.total, "problems": problems}))
    for problem in rejected.problems:
        print(problem, file=sys.stderr)
    more = rejected.total - len(rejected.problems)
    if more > 0:
        print(f"... and {more} more problems", file=sys.stderr)
    print(f"ledger import: {rejected.total} problem(s); nothing was imported", file=sys.stderr)


def cmd_export(args: argparse.Namespace) -> int:
    out = sys.stdout
    with runtime() as rt:
        if args.backup:
            return export_backup(rt, args)
        for line in rt.ledger.export(args.case):
            out.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
    return 0


def cmd_schema(_args: argparse.Namespace) -> int:
    print(json.dumps(json_schema(), indent=2))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    data: dict[str, object] = {"safety_net": args.safety_net}
    if args.sector:
        data["sector"] = args.sector
    report = sickness.ReportSickness(
        employee_id=args.employee, employer_id=args.employer, first_sick_day=args.first_sick_day,
        event_id=args.event_id or uuid4(), case_id=args.case, new_case_id=uuid4(), data=data,
    )  # fmt: skip
    with runtime() as rt:
        result = sickness.report_sickness(rt, OPERATOR, report)
    if args.json:
        print_json({"case_id": str(result.case_id), "event_id": str(result.event_id),
                    "version": result.version, "continued": result.continued,
                    "created": result.created, "message": result.message})  # fmt: skip
    else:
        print(f"case {result.case_id}: {result.message}")
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    try:
        data = json.loads(args.data)
    except ValueError as error:
        print(f"ledger record: --data is not JSON: {error}", file=sys.stderr)
        return EXIT_USAGE
    if not isinstance(data, dict):
        print("ledger record: --data must be a JSON object", file=sys.stderr)
        return EXIT_USAGE
    append = recording.AppendEvent(case_id=args.case_id, type=args.type, occurred_on=args.on,
                                   event_id=args.event_id or uuid4(), data=data)  # fmt: skip
    with runtime() as rt:
        appended = recording.append_event(rt, OPERATOR, append)
    event = appended.event
    if args.json:
        print_json({"case_id": str(event.originator_id), "event_id": str(event.event_id),
                    "type": event.type, "version": event.originator_version,
                    "duplicate": appended.duplicate})  # fmt: skip
    else:
        state = "already stored" if appended.duplicate else "recorded"
        print(f"case {event.originator_id}: {event.type} {state} (version "
              f"{event.originator_version})")  # fmt: skip
    return 0
