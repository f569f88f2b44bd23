"""``ledger case``, ``ledger cases`` and ``ledger deadlines``: one case, or the lists."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime
from typing import Any
from uuid import UUID

from domain.case import Case
from domain.deadlines import Deadline, DeadlineStatus, case_deadlines
from domain.state import CaseStatus
from services.application import queries
from services.application.case_views import (
    case_as_known,
    case_list,
    case_view,
    diff_view,
    timeline_view,
)
from services.application.read_models import chosen
from services.bootstrap import Runtime
from services.cli.common import (
    EXIT_USAGE,
    Commands,
    add_json,
    aware_datetime,
    command,
    positive,
    runtime,
)


def register(commands: Commands) -> None:
    p = command(
        commands, "case", cmd_case,
        help="show a case: its state, its timeline, what changed between two times",
        description="Show what the file of one case says: the state derived from its\n"
        "effective events (after corrections and retractions), and every event.\n"
        "--as-of keeps facts that happened by that date; --known-at keeps what the\n"
        "ledger had recorded by that time (for disputes: 'what did the file say on\n"
        "1 March, as known on 1 April?'). --timeline lists every recorded event in\n"
        "business order, marking what was corrected or retracted and by which event.\n"
        "--diff-known-at shows what changed in the state and the deadlines between\n"
        "two knowledge times.",
        examples=[
            "ledger case 5b1c...e2",
            "ledger case 5b1c...e2 --as-of 2026-03-01 --known-at 2026-04-01T00:00:00+02:00 --json",
            "ledger case 5b1c...e2 --timeline",
            "ledger case 5b1c...e2 --diff-known-at 2026-04-01T00:00Z 2026-04-13T00:00Z",
        ],
    )  # fmt: skip
    p.add_argument("case_id", type=UUID, metavar="ID")
    p.add_argument(
        "--as-of", type=date.fromisoformat, help="business date YYYY-MM-DD (default today)"
    )
    p.add_argument(
        "--known-at", type=aware_datetime, help="ISO-8601 time with offset (default now)"
    )
    view = p.add_mutually_exclusive_group()
    view.add_argument("--timeline", action="store_true", help="every recorded event, marked")
    view.add_argument(
        "--diff-known-at",
        nargs=2,
        type=aware_datetime,
        metavar=("T1", "T2"),
        help="what changed between knowledge times T1 and T2",
    )
    add_json(p)
    _register_lists(commands)


def _register_lists(commands: Commands) -> None:
    p = command(
        commands, "deadlines", cmd_deadlines,
        help="Poortwachter deadlines of a case, an employer or a case manager",
        description="Deadlines as of a date (default today), with due date, status (done,\n"
        "done_late, open, overdue, missed, not_applicable), the rule they come from and\n"
        "the rule set that governs the case. --case replays one case from the ledger;\n"
        "--employer and --case-manager read the deadline view (brought up to date\n"
        "first unless --no-refresh), sorted by due date: the work of running files,\n"
        "or with --history of ended ones too.",
        examples=[
            "ledger deadlines --case 5b1c...e2 --on 2026-03-01 --json",
            "ledger deadlines --employer ER00017 --status overdue",
            "ledger deadlines --case-manager cm-1 --due-before 2026-12-01",
            "ledger deadlines --employer ER00017 --overdue-since-yesterday",
        ],
    )  # fmt: skip
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--case", type=UUID, metavar="ID", help="one case")
    who.add_argument("--employer", metavar="ID", help="every case of an employer")
    who.add_argument("--case-manager", metavar="ID", help="every case of a case manager")
    p.add_argument("--on", type=date.fromisoformat, help="date YYYY-MM-DD (default today)")
    p.add_argument("--known-at", type=aware_datetime, help="ISO-8601 time (with --case)")
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
        "--limit", type=positive, metavar="N", help="only the first N by due date (a page)"
    )
    p.add_argument(
        "--history",
        action="store_true",
        help="ended files too (closed, or recovered): their deadlines are done, missed or "
        "not applicable; by default a list holds the work of running files only",
    )
    p.add_argument("--no-refresh", action="store_true", help="read the view as it is")
    add_json(p, "print JSON rows")

    p = command(
        commands, "cases", cmd_cases,
        help="list cases from the case-state read model",
        description="Cases with their status, phase, counted sick days and next deadline,\n"
        "from the case-state read model (brought up to date first unless --no-refresh),\n"
        "longest-running first.",
        examples=["ledger cases --status open", "ledger cases --employer ER00017 --json",
                  "ledger cases --case-manager cm-1 --limit 20"],
    )  # fmt: skip
    p.add_argument("--employer", metavar="ID", help="only this employer's cases")
    p.add_argument("--case-manager", metavar="ID", help="only this case manager's cases")
    p.add_argument("--status", choices=[s.value for s in CaseStatus], help="only this status")
    p.add_argument("--on", type=date.fromisoformat, help="count sick days to DATE (default today)")
    p.add_argument("--limit", type=int, metavar="N", help="at most N cases")
    p.add_argument("--no-refresh", action="store_true", help="read the view as it is")
    add_json(p, "print JSON rows")


class _Views:
    """The runtime as a use case's context, catching up only the read models a command
    reads (none with --no-refresh)."""

    def __init__(self, rt: Runtime, names: list[str], refresh: bool) -> None:
        self.rt, self.names, self.refresh = rt, names, refresh
        self.ledger, self.store = rt.ledger, rt.store

    def catch_up(self) -> None:
        if self.refresh:
            self.rt.runner(chosen(self.names)).run()


def cmd_case(args: argparse.Namespace) -> int:
    as_of = args.as_of or date.today()
    if args.diff_known_at and (args.known_at or args.timeline):
        print(
            "ledger case: --diff-known-at compares two knowledge times itself; "
            "drop --known-at and --timeline",
            file=sys.stderr,
        )
        return EXIT_USAGE
    with runtime() as rt:
        if args.diff_known_at:
            before, after = args.diff_known_at
            case = rt.ledger.get_case(args.case_id)
            _print(diff_view(case, before, after, as_of), _diff_text, as_json=args.json)
            return 0
        case = case_as_known(rt.ledger, args.case_id, args.known_at, rt.store)
    if args.timeline:
        rows = timeline_view(case, args.known_at)
        _print(rows, lambda r: _timeline_text(case, r), as_json=args.json)
    else:
        _print(case_view(case, as_of, args.known_at), _case_text, as_json=args.json)
    return 0


def _print(value: Any, as_text: Any, *, as_json: bool) -> None:
    print(json.dumps(value, indent=2) if as_json else as_text(value))


def case_text(case: Case, as_of: date, known_at: datetime | None) -> str:
    return _case_text(case_view(case, as_of, known_at))


def _case_text(view: dict[str, Any]) -> str:
    s = view["state"]
    lines = [
        f"case {s['case_id']}  [{s['status']}, {s['phase']}]  as of {view['as_of']}"
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


def _timeline_text(case: Case, rows: list[dict[str, Any]]) -> str:
    short = {row["event_id"]: f"v{row['version']}" for row in rows}
    lines = [
        f"timeline of case {case.id}: every recorded event in business order",
        f"  {'v':>4}  {'occurred':10}  {'event':30}  {'recorded by':28}  {'recorded at':25}  note",
    ]
    for row in rows:
        actor = f"{row['actor']['role']}:{row['actor']['id']}"
        lines.append(
            f"  {'v' + str(row['version']):>4}  {row['effective_on']:10}  {row['type']:30}  "
            f"{actor:28}  {row['recorded_at']:25}  {_note(row, short)}"
        )
    return "\n".join(lines)


def _note(row: dict[str, Any], short: dict[str, str]) -> str:
    notes = []
    if row["status"] == "retracted":
        notes.append(f"RETRACTED by {short.get(row['retracted_by'], row['retracted_by'])}")
    for correction in row["corrected_by"]:
        notes.append(f"CORRECTED by {short.get(correction, correction)}")
    if row["effective_on"] != row["occurred_on"]:
        notes.append(f"recorded as {row['occurred_on']}")
    if "corrects" in row:
        notes.append(f"corrects {short.get(row['corrects'], row['corrects'])}")
    if "retracts" in row:
        notes.append(f"retracts {short.get(row['retracts'], row['retracts'])}")
    return "; ".join(notes)


def _diff_text(diff: dict[str, Any]) -> str:
    lines = [
        f"case {diff['case_id']} as of {diff['as_of']}: known at {diff['known_at_before']} "
        f"-> known at {diff['known_at_after']}",
        f"  {len(diff['recorded_between'])} event(s) recorded in between:",
    ]
    for e in diff["recorded_between"]:
        lines.append(f"    {e['recorded_at']}  {e['type']} (occurred {e['occurred_on']})")
    lines.append("  state:" if diff["state"] else "  state: unchanged")
    for key, change in diff["state"].items():
        lines.append(f"    {key}: {change['before']} -> {change['after']}")
    lines.append("  deadlines:" if diff["deadlines"] else "  deadlines: unchanged")
    for change in diff["deadlines"]:
        lines.append(
            f"    {change['deadline']} (round {change['round']}): "
            f"{_deadline_brief(change['before'])} -> {_deadline_brief(change['after'])}"
        )
    return "\n".join(lines)


def _deadline_brief(row: dict[str, Any] | None) -> str:
    if row is None:
        return "none"
    done = f", done {row['done_on']}" if row["done_on"] else ""
    return f"{row['status']} (due {row['due_on']}{done})"


def cmd_deadlines(args: argparse.Namespace) -> int:
    on = args.on or date.today()
    if args.known_at and not args.case:
        print("ledger deadlines: --known-at replays one case; use it with --case", file=sys.stderr)
        return EXIT_USAGE
    wanted = queries.DeadlineList(
        on=on, employer_id=args.employer, case_manager_id=args.case_manager,
        status=DeadlineStatus(args.status) if args.status else None,
        due_before=args.due_before, became_overdue=args.overdue_since_yesterday,
        limit=args.limit, history=args.history,
    )  # fmt: skip
    with runtime() as rt:
        if args.case:
            found = _of_case(rt.ledger.get_case(args.case), args.known_at, wanted)
            title = f"deadlines of case {args.case} on {on.isoformat()}"
        else:
            views = _Views(rt, ["deadlines"], refresh=not args.no_refresh)
            found = [(r.case_id, r.deadline)
                     for r in queries.list_deadlines(views, queries.OPERATOR, wanted)]  # fmt: skip
            who = (f"employer {args.employer}" if args.employer
                   else f"case manager {args.case_manager}")  # fmt: skip
            title = f"deadlines of {who} on {on.isoformat()}"
    rows = [{"case_id": str(case_id), **row.to_json()} for case_id, row in found]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{title}: {len(rows)} deadline(s)")
    for row in rows:
        late = f"  {row['days_late']} days late" if row["days_late"] else ""
        done = f"  done {row['done_on']}" if row["done_on"] else ""
        case_column = "" if args.case else f"{row['case_id']}  "
        print(
            f"  {row['due_on']}  {case_column}{row['deadline']:34}  {row['status']:14}{done}{late}"
        )
    return 0


def _of_case(
    case: Case, known_at: datetime | None, wanted: queries.DeadlineList
) -> list[tuple[UUID, Deadline]]:
    """One case asked for by id: all of its deadlines that match, ended file or not, the
    first ``limit`` by due date as the view's lists."""
    rows = case_deadlines(case.timeline(known_at=known_at), wanted.on)
    found = [(case.id, row) for row in rows if queries.matches(wanted, row)]
    if wanted.limit is not None:
        found = sorted(found, key=lambda item: item[1].due_on)[: wanted.limit]
    return found


def cmd_cases(args: argparse.Namespace) -> int:
    on = args.on or date.today()
    with runtime() as rt:
        _Views(rt, ["case_state"], refresh=not args.no_refresh).catch_up()
        rows = case_list(
            rt.ledger,
            rt.store,
            on,
            employer_id=args.employer,
            case_manager_id=args.case_manager,
            status=CaseStatus(args.status) if args.status else None,
            limit=args.limit,
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{len(rows)} case(s) on {on.isoformat()}")
    for s in rows:
        next_due = f"next {s['next_deadline']} {s['next_due_on']}" if s["next_due_on"] else ""
        print(
            f"  {s['case_id']}  {s['status']:9} {s['phase']:20} since {s['first_sick_day']}  "
            f"{s['counted_sick_days']:>4} sick days  {s['employer_id']:10} {next_due}"
        )
    return 0
