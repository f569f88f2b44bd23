"""The ``ledger`` command line.

Exit codes: 0 done; 1 input refused (nothing stored); 2 wrong usage;
3 unknown case; 4 the store cannot be reached or is misconfigured.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import BinaryIO, TextIO
from uuid import UUID

from eventsourcing.persistence import PersistenceError

from domain.access import Role
from domain.case import Case
from domain.deadlines import DeadlineStatus
from domain.interchange import json_schema
from domain.state import CaseStatus
from infra.config import ConfigurationError
from services.cli_audit import cmd_checkpoint, cmd_proof, cmd_review_pack, cmd_verify
from services.cli_cases import case_text, cmd_case, cmd_cases, cmd_deadlines
from services.cli_feed import cmd_feed
from services.cli_privacy import add_parsers as add_privacy_parsers
from services.cli_privacy import cmd_erase, cmd_keys, cmd_retention
from services.cli_project import cmd_project
from services.cli_serve import cmd_serve, cmd_token
from services.cli_stats import cmd_headcount, cmd_stats
from services.importer import ImportRejectedError, import_lines, numbered, read_lines
from services.ledger import Ledger, UnknownCaseError
from services.simulate import (
    DEFAULTS,
    WORKFORCE,
    headcount_rows,
    simulate,
    simulate_population,
)

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
    p.add_argument("--source", choices=["log", "kafka"], default="log",
                   help="kafka: run as a scale-out worker reading the feed topic")  # fmt: skip
    p.add_argument("--group", default="ledger-projections", help="kafka consumer group")

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
        help="show a case: its state, its timeline, what changed between two times",
        description="Show what the file of one case says: the state derived from its\n"
        "effective events (after corrections and retractions), and every event.\n"
        "--as-of keeps facts that happened by that date; --known-at keeps what the\n"
        "ledger had recorded by that time (for disputes: 'what did the file say on\n"
        "1 March, as known on 1 April?'). --timeline lists every recorded event in\n"
        "business order, marking what was corrected or retracted and by which event.\n"
        "--diff-known-at shows what changed in the state and the deadlines between\n"
        "two knowledge times.",
        epilog="examples:\n  ledger case 5b1c...e2\n"
        "  ledger case 5b1c...e2 --as-of 2026-03-01 --known-at 2026-04-01T00:00:00+02:00 --json\n"
        "  ledger case 5b1c...e2 --timeline\n"
        "  ledger case 5b1c...e2 --diff-known-at 2026-04-01T00:00Z 2026-04-13T00:00Z",
    )
    p.add_argument("case_id", type=UUID, metavar="ID")
    p.add_argument(
        "--as-of", type=date.fromisoformat, help="business date YYYY-MM-DD (default today)"
    )
    p.add_argument(
        "--known-at", type=_aware_datetime, help="ISO-8601 time with offset (default now)"
    )
    view = p.add_mutually_exclusive_group()
    view.add_argument("--timeline", action="store_true", help="every recorded event, marked")
    view.add_argument(
        "--diff-known-at",
        nargs=2,
        type=_aware_datetime,
        metavar=("T1", "T2"),
        help="what changed between knowledge times T1 and T2",
    )
    p.add_argument("--json", action="store_true", help="print JSON")

    p = commands.add_parser(
        "simulate",
        formatter_class=_Formatter,
        help="generate realistic cases as JSON Lines",
        description="Write generated cases to standard output: mostly short absences, some\n"
        "long cases with second track, sanctions, relapses and corrections.\n"
        "With --employees: a whole workforce (--employers x --employees people over\n"
        "--years), each falling ill at the rate in services/simulate.py\n"
        "(SimulationParameters); --headcount writes the matching headcount CSV.\n"
        "The same seed gives the same output.",
        epilog="examples:\n  ledger simulate --cases 20000 --seed 7 > cases.jsonl\n"
        "  ledger simulate --employers 50 --employees 200 --years 3 --seed 7 \\\n"
        "      --headcount headcount.csv > population.jsonl\n"
        "  ledger simulate --employers 50 --employees 200 --years 3 --second-track-start-week 8",
    )
    p.add_argument("--cases", type=int, default=100, help="number of cases (default 100)")
    p.add_argument("--employers", type=int, default=200, help="number of employers")
    p.add_argument("--employees", type=int, help="people per employer: simulate a workforce")
    p.add_argument("--years", type=int, default=2, help="workforce: years simulated (default 2)")
    p.add_argument("--second-track-start-week", type=int, metavar="W",
                   help="start every second track in week W of sickness")  # fmt: skip
    p.add_argument("--headcount", type=Path, metavar="FILE", help="workforce: write headcounts")
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
        help="Poortwachter deadlines of a case, an employer or a case manager",
        description="Deadlines as of a date (default today), with due date, status (done,\n"
        "done_late, open, overdue, not_applicable), the rule they come from and the\n"
        "rule set that governs the case. --case replays one case from the ledger;\n"
        "--employer and --case-manager read the deadline view (brought up to date\n"
        "first unless --no-refresh), sorted by due date.",
        epilog="examples:\n  ledger deadlines --case 5b1c...e2 --on 2026-03-01 --json\n"
        "  ledger deadlines --employer ER00017 --status overdue\n"
        "  ledger deadlines --case-manager cm-1 --due-before 2026-12-01\n"
        "  ledger deadlines --employer ER00017 --overdue-since-yesterday",
    )
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--case", type=UUID, metavar="ID", help="one case")
    who.add_argument("--employer", metavar="ID", help="every case of an employer")
    who.add_argument("--case-manager", metavar="ID", help="every case of a case manager")
    p.add_argument("--on", type=date.fromisoformat, help="date YYYY-MM-DD (default today)")
    p.add_argument("--known-at", type=_aware_datetime, help="ISO-8601 time (with --case)")
    p.add_argument("--status", choices=[s.value for s in DeadlineStatus], help="only this status")
    p.add_argument(
        "--due-before", type=date.fromisoformat, metavar="DATE", help="only due before DATE"
    )
    p.add_argument(
        "--overdue-since-yesterday",
        action="store_true",
        help="only deadlines that became overdue today (due yesterday, not met)",
    )
    p.add_argument(
        "--limit", type=_positive, metavar="N", help="only the first N by due date (a page)"
    )
    p.add_argument(
        "--history",
        action="store_true",
        help="ended files too (closed, or recovered): their deadlines are done, missed or "
        "not applicable; by default a list holds the work of running files only",
    )
    p.add_argument("--no-refresh", action="store_true", help="read the view as it is")
    p.add_argument("--json", action="store_true", help="print JSON rows")

    p = commands.add_parser(
        "serve",
        formatter_class=_Formatter,
        help="run the HTTP API and the web pages",
        description="Serve the API (OpenAPI at /docs) and the pages (deadline dashboard,\n"
        "case pages, statistics) on the ledger's store. Prints a sign-in link with a\n"
        "token for --role (default case_manager). Read models are kept current by a\n"
        "background runner. The token key is LEDGER_JWT_KEY (or a development key file).",
        epilog="examples:\n  ledger serve\n  ledger serve --host 0.0.0.0 --port 8080 --role admin",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--role",
        default="admin",
        choices=[r.value for r in Role],
        help="role of the sign-in link printed (default admin)",
    )

    p = commands.add_parser(
        "token",
        formatter_class=_Formatter,
        help="issue a bearer token for a role",
        description="Print a signed token (JWT, HS256, key LEDGER_JWT_KEY or the development\n"
        "key file) for a subject with a role. Employer tokens are scoped to one employer;\n"
        "case managers and physicians to the employers given (all when none).",
        epilog="examples:\n  ledger token --role employer --employer ER00017 --subject er-17\n"
        "  ledger token --role case_manager --subject cm-1 --employer ER00017 ER00018\n"
        "  ledger token --role uwv_reviewer --subject uwv-1 --hours 1",
    )
    p.add_argument("--role", required=True, choices=[r.value for r in Role])
    p.add_argument("--subject", help="who the token is for (default: the role)")
    p.add_argument("--employer", nargs="+", metavar="ID", help="employers served")
    p.add_argument("--hours", type=float, default=8.0, help="valid for (default 8)")

    p = commands.add_parser(
        "stats",
        formatter_class=_Formatter,
        help="outcome statistics, sanctions, deadline performance, absence KPIs",
        description="Statistics as of a date (default today), from the read models:\n"
        "  second-track  trajectories by outcome (Panteia 2016 categories, reference beside)\n"
        "  sanctions     wage sanctions per year by kind, shortened, mean length\n"
        "  deadlines     share of each deadline met on time, median days late\n"
        "  kpi           absence %, report frequency, duration, zero absence of an employer\n"
        "                in a period (needs its headcount: ledger headcount import)",
        epilog="examples:\n  ledger stats second-track --by band provider\n"
        "  ledger stats sanctions --json\n  ledger stats deadlines --csv > deadlines.csv\n"
        "  ledger stats kpi --employer ER00017 --period 2026-Q1",
    )
    p.add_argument("report", choices=["second-track", "sanctions", "deadlines", "kpi"])
    p.add_argument("--by", nargs="+", choices=["band", "provider", "employer", "sector", "year"],
                   help="second-track groups")  # fmt: skip
    p.add_argument("--on", type=date.fromisoformat, help="date YYYY-MM-DD (default today)")
    p.add_argument("--employer", metavar="ID", help="kpi: the employer")
    p.add_argument("--period", metavar="P", help="kpi: 2026, 2026-Q1 or 2026-03")
    p.add_argument("--no-refresh", action="store_true", help="read the views as they are")
    form = p.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="print JSON")
    form.add_argument("--csv", action="store_true", help="print CSV")

    p = commands.add_parser(
        "headcount",
        formatter_class=_Formatter,
        help="import employer headcounts (for the absence KPIs)",
        description="Import a CSV with the header employer_id,period,headcount,part_time_factor\n"
        "(period: 2026, 2026-Q1 or 2026-03). Every line is checked first; on any problem\n"
        "nothing is stored. A later import for the same employer and period replaces it.",
        epilog="example:\n  ledger headcount import headcount.csv",
    )
    p.add_argument("action", choices=["import"])
    p.add_argument("file", help="a CSV file, or - for standard input")

    p = commands.add_parser(
        "feed",
        formatter_class=_Formatter,
        help="publish the events to Kafka for analytics (pseudonymised)",
        description="Publish every stored event, in store order, to a Kafka topic: key the\n"
        "pseudonymous case key, value the interchange JSON with people replaced by\n"
        "pseudonyms and medical fields and free text removed (schemas/feed-message.json).\n"
        "The checkpoint moves only after the broker acknowledged (acks=all): at least\n"
        "once; consumers deduplicate by event_id. Settings: LEDGER_KAFKA_BOOTSTRAP,\n"
        "LEDGER_FEED_TOPIC, LEDGER_FEED_PARTITIONS, LEDGER_PSEUDONYM_KEY.",
        epilog="examples:\n  ledger feed\n  ledger feed --follow\n  ledger feed --from-start",
    )
    p.add_argument("--follow", action="store_true", help="keep publishing; retry when down")
    p.add_argument("--from-start", action="store_true", help="publish everything again")
    p.add_argument("--bootstrap", help="broker host:port (default LEDGER_KAFKA_BOOTSTRAP)")
    p.add_argument("--topic", help="topic (default reintegration.case-events)")
    p.add_argument("--partitions", type=int, help="partitions when creating the topic")
    p.add_argument("--schema", action="store_true", help="print the message JSON Schema")

    p = commands.add_parser(
        "checkpoint",
        formatter_class=_Formatter,
        help="add new events to the verifiable log and sign its head",
        description="Add every new event to the Merkle tree (RFC 9162 style) and sign a\n"
        "checkpoint (Ed25519: origin, tree size, root, time). Every checkpoint is kept.\n"
        "Key: LEDGER_SIGNING_KEY (hex seed) or a development key file.",
        epilog="examples:\n  ledger checkpoint --json\n  ledger checkpoint --every 300",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--every", type=float, metavar="SECONDS", help="keep signing at this interval")

    p = commands.add_parser(
        "verify",
        formatter_class=_Formatter,
        help="check that nothing stored was changed, removed, inserted or reordered",
        description="Recompute the tree from every stored event; compare with the recorded\n"
        "leaves and every signed checkpoint. On failure name the first position that\n"
        "does not match and what it looks like (modified, missing, inserted, reordered).\n"
        "Exit code 0 only when intact.",
        epilog="examples:\n  ledger verify --json\n"
        "  ledger verify --public-key 597f...36 --expect 12:8721acb2...ab5",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--public-key", metavar="HEX", help="the signer to pin (no private key needed)")
    p.add_argument("--expect", nargs="+", metavar="SEQ:ROOT",
                   help="checkpoints published elsewhere, which must still be here")  # fmt: skip

    p = commands.add_parser(
        "proof",
        formatter_class=_Formatter,
        help="write a proof bundle for a reviewer",
        description="--case: a case's events with their inclusion proofs and the signed\n"
        "checkpoint. --consistency N M: proof that checkpoint N is a prefix of M.\n"
        "Reviewers check bundles with services/verify_bundle.py (no ledger needed).",
        epilog="examples:\n  ledger proof --case 5b1c...e2 --out case.json\n"
        "  ledger proof --consistency 1 2 --out consistency.json",
    )
    p.add_argument("--case", type=UUID, metavar="ID")
    p.add_argument("--checkpoint", type=int, metavar="N", help="default: the latest")
    p.add_argument("--consistency", type=int, nargs=2, metavar=("N", "M"))
    p.add_argument("--out", metavar="FILE")

    p = commands.add_parser(
        "review-pack",
        formatter_class=_Formatter,
        help="the reviewer's pack of a case (RIV review)",
        description="Write review-pack.html and review-pack.json (and proof.json when a\n"
        "checkpoint covers the case) in the order a UWV reviewer checks: documents\n"
        "present or missing, each with its date and whether on time; second track;\n"
        "expert opinions; sanctions and suspensions; corrections with who and why.",
        epilog="example:\n  ledger checkpoint && ledger review-pack --case 5b1c...e2 --out pack/",
    )
    p.add_argument("--case", type=UUID, required=True, metavar="ID")
    p.add_argument("--out", type=Path, required=True, metavar="DIR")
    p.add_argument("--on", type=date.fromisoformat, help="as of (default today)")

    p = commands.add_parser(
        "cases",
        formatter_class=_Formatter,
        help="list cases from the case-state read model",
        description="Cases with their status, phase, counted sick days and next deadline,\n"
        "from the case-state read model (brought up to date first unless --no-refresh),\n"
        "longest-running first.",
        epilog="examples:\n  ledger cases --status open\n"
        "  ledger cases --employer ER00017 --json\n  ledger cases --case-manager cm-1 --limit 20",
    )
    p.add_argument("--employer", metavar="ID", help="only this employer's cases")
    p.add_argument("--case-manager", metavar="ID", help="only this case manager's cases")
    p.add_argument("--status", choices=[s.value for s in CaseStatus], help="only this status")
    p.add_argument("--on", type=date.fromisoformat, help="count sick days to DATE (default today)")
    p.add_argument("--limit", type=int, metavar="N", help="at most N cases")
    p.add_argument("--no-refresh", action="store_true", help="read the view as it is")
    p.add_argument("--json", action="store_true", help="print JSON rows")

    p = commands.add_parser(
        "project",
        formatter_class=_Formatter,
        help="update, rebuild or follow the read models",
        description="Apply new events from the ledger's log to the read models (case state,\n"
        "deadlines, event index). Each page of events is written with the position it\n"
        "reached in one transaction, so an interrupted run resumes where it stopped.\n"
        "--rebuild empties the read models and replays the whole log; --follow keeps\n"
        "running and applies new events as they arrive (stop with Ctrl-C or SIGTERM).\n"
        "--source kafka runs a scale-out worker of the deadline and statistics read\n"
        "models in consumer group --group: start several; each owns some partitions.",
        epilog="examples:\n  ledger project\n  ledger project --rebuild\n"
        "  ledger project --follow --poll 0.5\n  ledger project --status --json",
    )
    p.add_argument("--rebuild", action="store_true", help="replay the whole log from zero")
    p.add_argument("--follow", action="store_true", help="keep running; apply new events")
    p.add_argument("--status", action="store_true", help="show positions and lag, change nothing")
    p.add_argument("--only", nargs="+", metavar="NAME", help="only these read models")
    p.add_argument(
        "--page-size", type=int, default=5000, help="events per transaction (default 5000)"
    )
    p.add_argument("--poll", type=float, default=1.0, help="seconds between polls (--follow)")
    p.add_argument("--json", action="store_true", help="print JSON summaries")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output on stderr")
    p.add_argument("--source", choices=["log", "kafka"], default="log",
                   help="kafka: run as a scale-out worker reading the feed topic")  # fmt: skip
    p.add_argument("--group", default="ledger-projections", help="kafka consumer group")

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
    add_privacy_parsers(commands)
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
    except BrokenPipeError:  # the reader went away (``ledger export | head``): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


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
    with source, Ledger() as ledger:
        try:
            summary = import_lines(
                ledger,
                numbered(read_lines(source)),
                batch_size=args.batch_size,
                progress=None if args.quiet else _large_only(_progress(sys.stderr)),
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


def cmd_simulate(args: argparse.Namespace) -> int:
    out = sys.stdout
    base = DEFAULTS if args.employees is None else WORKFORCE
    params = replace(base, second_track_start_week=args.second_track_start_week)
    today = args.today or date.today() - timedelta(days=1)
    if args.employees is None:
        lines = simulate(args.cases, seed=args.seed, start=args.start, today=today,
                         employers=args.employers, params=params)  # fmt: skip
    else:
        lines = simulate_population(args.employers, args.employees, args.years, seed=args.seed,
                                    today=today, params=params)  # fmt: skip
        if args.headcount:
            rows = headcount_rows(args.employers, args.employees, args.years, today, params)
            args.headcount.write_text(
                "employer_id,period,headcount,part_time_factor\n"
                + "".join(
                    f"{r['employer_id']},{r['period']},{r['headcount']},{r['part_time_factor']}\n"
                    for r in rows
                )
            )
    for line in lines:
        out.write(json.dumps(line, separators=(",", ":")) + "\n")
    return 0


def cmd_schema(_args: argparse.Namespace) -> int:
    print(json.dumps(json_schema(), indent=2))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    lines = list(numbered(json.dumps(line) for line in simulate(args.cases, seed=2026)))
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
    print(case_text(longest, today, None))
    print(f"\nnext: ledger case {longest.id} --json | ledger export --case {longest.id}")


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "import": cmd_import,
    "export": cmd_export,
    "case": cmd_case,
    "deadlines": cmd_deadlines,
    "project": cmd_project,
    "cases": cmd_cases,
    "serve": cmd_serve,
    "stats": cmd_stats,
    "headcount": cmd_headcount,
    "feed": cmd_feed,
    "checkpoint": cmd_checkpoint,
    "verify": cmd_verify,
    "proof": cmd_proof,
    "review-pack": cmd_review_pack,
    "token": cmd_token,
    "simulate": cmd_simulate,
    "schema": cmd_schema,
    "demo": cmd_demo,
    "erase": cmd_erase,
    "retention": cmd_retention,
    "keys": cmd_keys,
}

if __name__ == "__main__":
    raise SystemExit(main())
