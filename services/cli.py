"""The ``ledger`` command line.

Exit codes: 0 done; 1 input refused (nothing stored); 2 wrong usage;
3 unknown case; 4 the store cannot be reached or is misconfigured.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO
from uuid import UUID

from eventsourcing.persistence import PersistenceError

from domain.case import Case
from domain.deadlines import case_deadlines
from domain.interchange import json_schema
from infra.config import ConfigurationError
from services.importer import ImportRejectedError, import_lines, numbered
from services.ledger import Ledger, UnknownCaseError
from services.simulate import simulate

EXIT_REFUSED, EXIT_USAGE, EXIT_UNKNOWN, EXIT_STORE = 1, 2, 3, 4

DESCRIPTION = """\
The re-integration ledger: an event-sourced record of Dutch sickness-absence
cases under the Wet verbetering poortwachter.

The store is chosen by LEDGER_DATABASE_URL (default sqlite:///ledger.db in the
working directory; for PostgreSQL: postgresql://postgres@127.0.0.1:5432/ledger).
"""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ledger", description=DESCRIPTION, formatter_class=_Formatter
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser(
        "import",
        formatter_class=_Formatter,
        help="import interchange events (JSON Lines)",
        description="Validate every line, then append the events in batched transactions.\n"
        "On any bad line nothing is stored and each problem is reported as\n"
        "'line N: FIELD: what is wrong'. Events whose event_id is already stored\n"
        "are skipped, so an import can safely be run again.",
        epilog="examples:\n  ledger import cases.jsonl\n"
        "  ledger simulate --cases 100 | ledger import - --json",
    )
    p.add_argument("file", help="a JSON Lines file, or - for standard input")
    p.add_argument(
        "--batch-size", type=int, default=5000, help="events per transaction (default 5000)"
    )
    p.add_argument("--json", action="store_true", help="print a JSON summary (or JSON problems)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output on stderr")

    p = commands.add_parser(
        "export",
        formatter_class=_Formatter,
        help="export events as JSON Lines",
        description="Write stored events as interchange JSON Lines to standard output:\n"
        "all events in store order, or one case's events in recording order.\n"
        "export, then import into an empty store, then export gives identical output.",
        epilog="examples:\n  ledger export > all.jsonl\n"
        "  ledger export --case 5b1c...e2 > case.jsonl",
    )
    p.add_argument("--case", type=UUID, help="only this case")

    p = commands.add_parser(
        "case",
        formatter_class=_Formatter,
        help="show a case: its state and its events",
        description="Show what the file of one case says: the state derived from its\n"
        "effective events (after corrections and retractions), and every event.\n"
        "--as-of keeps facts that happened by that date; --known-at keeps what the\n"
        "ledger had recorded by that time (for disputes).",
        epilog="examples:\n  ledger case 5b1c...e2\n"
        "  ledger case 5b1c...e2 --as-of 2026-03-01 --known-at 2026-04-01T00:00:00+02:00 --json",
    )
    p.add_argument("case_id", type=UUID, metavar="ID")
    p.add_argument(
        "--as-of", type=date.fromisoformat, help="business date YYYY-MM-DD (default today)"
    )
    p.add_argument(
        "--known-at", type=_aware_datetime, help="ISO-8601 time with offset (default now)"
    )
    p.add_argument("--json", action="store_true", help="print JSON")

    p = commands.add_parser(
        "simulate",
        formatter_class=_Formatter,
        help="generate realistic cases as JSON Lines",
        description="Write generated cases to standard output: mostly short absences, some\n"
        "long cases with second track, sanctions, relapses and corrections.\n"
        "The same seed gives the same output.",
        epilog="example:\n  ledger simulate --cases 20000 --seed 7 > cases.jsonl",
    )
    p.add_argument("--cases", type=int, default=100, help="number of cases (default 100)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--start",
        type=date.fromisoformat,
        default=date(2023, 1, 2),
        help="earliest first sick day (default 2023-01-02)",
    )
    p.add_argument(
        "--today", type=date.fromisoformat, help="last day of simulated events (default yesterday)"
    )

    p = commands.add_parser(
        "deadlines",
        formatter_class=_Formatter,
        help="the Poortwachter deadlines of a case",
        description="Every deadline of a case as of a date (default today), with its due date,\n"
        "status (done, done_late, open, overdue, not_applicable), the rule it comes\n"
        "from and the rule set that governs the case.",
        epilog="examples:\n  ledger deadlines --case 5b1c...e2\n"
        "  ledger deadlines --case 5b1c...e2 --on 2026-03-01 --json",
    )
    p.add_argument("--case", type=UUID, required=True, metavar="ID")
    p.add_argument("--on", type=date.fromisoformat, help="date YYYY-MM-DD (default today)")
    p.add_argument("--known-at", type=_aware_datetime, help="ISO-8601 time with offset")
    p.add_argument("--json", action="store_true", help="print JSON rows")

    commands.add_parser(
        "schema",
        formatter_class=_Formatter,
        help="print the JSON Schema of an interchange line",
        description="Print the JSON Schema (draft 2020-12) of one interchange line.",
        epilog="example:\n  ledger schema > interchange-event.json",
    )

    p = commands.add_parser(
        "demo",
        formatter_class=_Formatter,
        help="load demo cases and show what the ledger holds",
        description="Import a fixed set of simulated cases (idempotent) and print an overview.",
        epilog="example:\n  ledger demo --cases 300",
    )
    p.add_argument("--cases", type=int, default=300)
    return parser


def _aware_datetime(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        msg = f"{text!r} has no UTC offset; write e.g. {text}+01:00 or {text}Z"
        raise argparse.ArgumentTypeError(msg)
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = COMMANDS[args.command]
    try:
        return handler(args)
    except ConfigurationError as error:
        print(f"ledger: {error}", file=sys.stderr)
        return EXIT_STORE
    except PersistenceError as error:
        print(
            f"ledger: the store cannot be reached: {error}\n"
            "Check LEDGER_DATABASE_URL and that the database server is running.",
            file=sys.stderr,
        )
        return EXIT_STORE
    except UnknownCaseError as error:
        print(f"ledger: {error}", file=sys.stderr)
        return EXIT_UNKNOWN


def _progress(stream: TextIO) -> Callable[[str, int, int], None]:
    def report(stage: str, done: int, total: int) -> None:
        print(f"import: {stage} {done:,}/{total:,}", file=stream, flush=True)

    return report


def _read(file: str) -> list[bytes]:
    if file == "-":
        return sys.stdin.buffer.read().splitlines()
    return Path(file).read_bytes().splitlines()


def cmd_import(args: argparse.Namespace) -> int:
    try:
        raw = _read(args.file)
    except OSError as error:
        print(f"ledger import: cannot read {args.file}: {error.strerror}", file=sys.stderr)
        return EXIT_USAGE
    lines = numbered(raw)
    show_progress = not args.quiet and len(lines) >= 10_000
    with Ledger() as ledger:
        try:
            summary = import_lines(
                ledger,
                lines,
                batch_size=args.batch_size,
                progress=_progress(sys.stderr) if show_progress else None,
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
    with Ledger() as ledger:
        for line in ledger.export(args.case):
            out.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
    return 0


def cmd_case(args: argparse.Namespace) -> int:
    with Ledger() as ledger:
        case = ledger.get_case(args.case_id)
    as_of = args.as_of or date.today()
    print(
        json.dumps(case_view(case, as_of, args.known_at), indent=2)
        if args.json
        else _case_text(case, as_of, args.known_at)
    )
    return 0


def case_view(case: Case, as_of: date, known_at: datetime | None) -> dict[str, Any]:
    state = case.state(as_of=as_of, known_at=known_at)
    return {
        "as_of": as_of.isoformat(),
        "known_at": known_at.isoformat() if known_at else None,
        "version": case.version,
        "state": state.to_json(as_of),
        "events": [
            {
                "event_id": str(e.event_id),
                "type": e.type,
                "occurred_on": e.occurred_on.isoformat(),
                "recorded_at": e.recorded_at.isoformat(),
                "actor": e.actor.model_dump(mode="json"),
                "data": e.payload(),
            }
            for e in case.timeline(as_of=as_of, known_at=known_at)
        ],
    }


def _case_text(case: Case, as_of: date, known_at: datetime | None) -> str:
    view = case_view(case, as_of, known_at)
    s = view["state"]
    lines = [
        f"case {s['case_id']}  [{s['status']}]  as of {view['as_of']}"
        + (f", as known at {view['known_at']}" if view["known_at"] else ""),
        f"  employee {s['employee_id']}  employer {s['employer_id']}  sector {s['sector'] or '-'}",
        f"  first sick day {s['first_sick_day']}  counted sick days {s['counted_sick_days']}"
        f"  incapacity {s['incapacity_percent']}%",
        f"  case manager {s['case_manager_id'] or '-'}  goal {s['goal'] or '-'}"
        f"  second track {s['second_track']}  wages {s['wage_payment']}",
        f"  end of wage continuation {s['end_of_wage_continuation']}"
        + (f"  sanction until {s['sanction']['ends_on']}" if s["sanction"] else ""),
        "",
        f"  {'occurred':10}  {'event':32}  {'recorded by':28}  recorded at",
    ]
    for e in view["events"]:
        actor = f"{e['actor']['role']}:{e['actor']['id']}"
        lines.append(f"  {e['occurred_on']:10}  {e['type']:32}  {actor:28}  {e['recorded_at']}")
    return "\n".join(lines)


def cmd_deadlines(args: argparse.Namespace) -> int:
    with Ledger() as ledger:
        case = ledger.get_case(args.case)
    on = args.on or date.today()
    rows = [
        {"case_id": str(case.id), **row.to_json()}
        for row in case_deadlines(case.timeline(known_at=args.known_at), on)
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"deadlines of case {case.id} on {on.isoformat()}")
    for row in rows:
        late = f"  {row['days_late']} days late" if row["days_late"] else ""
        done = f"  done {row['done_on']}" if row["done_on"] else ""
        print(f"  {row['due_on']}  {row['deadline']:34}  {row['status']:14}{done}{late}")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    out = sys.stdout
    for line in simulate(args.cases, seed=args.seed, start=args.start, today=args.today):
        out.write(json.dumps(line, separators=(",", ":")) + "\n")
    return 0


def cmd_schema(_args: argparse.Namespace) -> int:
    print(json.dumps(json_schema(), indent=2))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    lines = numbered(json.dumps(line) for line in simulate(args.cases, seed=2026))
    with Ledger() as ledger:
        summary = import_lines(ledger, lines)
        cases = [ledger.get_case(case_id) for case_id in _case_ids(lines)]
        print(f"ledger: {ledger.database_url}")
        print(f"demo import: {summary.appended:,} new events, {summary.duplicates:,} already there")
        _overview(cases)
    return 0


def _case_ids(lines: Sequence[tuple[int, bytes | str]]) -> list[UUID]:
    return list(dict.fromkeys(UUID(json.loads(text)["case_id"]) for _, text in lines))


def _overview(cases: Sequence[Case]) -> None:
    today = date.today()
    states = [case.state(as_of=today) for case in cases]
    by_status: dict[str, int] = {}
    for state in states:
        by_status[state.status.value] = by_status.get(state.status.value, 0) + 1
    print(f"{len(cases)} cases: " + ", ".join(f"{n} {k}" for k, n in sorted(by_status.items())))
    longest = max(cases, key=lambda case: len(case.history))
    print(f"\nthe longest file ({len(longest.history)} events):\n")
    print(_case_text(longest, today, None))
    print(f"\nnext: ledger case {longest.id} --json | ledger export --case {longest.id}")


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "import": cmd_import,
    "export": cmd_export,
    "case": cmd_case,
    "deadlines": cmd_deadlines,
    "simulate": cmd_simulate,
    "schema": cmd_schema,
    "demo": cmd_demo,
}

if __name__ == "__main__":
    raise SystemExit(main())
