"""``ledger case`` and ``ledger deadlines``: reading one case, or the deadline lists."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from datetime import date, datetime
from typing import Any
from uuid import UUID

from domain.case import Case
from domain.deadlines import Deadline, DeadlineStatus, case_deadlines
from domain.state import CaseStatus
from infra.readmodel import ReadModelStore, read_models
from projections.case_state import CaseStateProjection
from projections.deadlines import (
    CaseDeadline,
    DeadlineProjection,
    DeadlineQuery,
    find_deadlines,
)
from projections.runner import ProjectionRunner
from services.case_views import (
    case_as_known,
    case_list,
    case_view,
    deadline_replay,
    diff_view,
    timeline_view,
)
from services.ledger import Ledger

EXIT_USAGE = 2


def cmd_case(args: argparse.Namespace) -> int:
    as_of = args.as_of or date.today()
    if args.diff_known_at and (args.known_at or args.timeline):
        print(
            "ledger case: --diff-known-at compares two knowledge times itself; "
            "drop --known-at and --timeline",
            file=sys.stderr,
        )
        return EXIT_USAGE
    with Ledger() as ledger, read_models(ledger.database_url) as index:
        if args.diff_known_at:
            before, after = args.diff_known_at
            case = ledger.get_case(args.case_id)
            _print(diff_view(case, before, after, as_of), _diff_text, as_json=args.json)
            return 0
        case = case_as_known(ledger, args.case_id, args.known_at, index)
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
    with Ledger() as ledger:
        if args.case:
            case = ledger.get_case(args.case)
            found = [
                (case.id, row) for row in case_deadlines(case.timeline(known_at=args.known_at), on)
            ]
            found = [item for item in found if _case_filter(args, on, item[1])]
            if args.limit is not None:  # the first ones by due date, as the view's lists
                found = sorted(found, key=lambda item: item[1].due_on)[: args.limit]
            title = f"deadlines of case {case.id} on {on.isoformat()}"
        else:
            with read_models(ledger.database_url) as store:
                found = _from_view(ledger, store, args, on)
            who = (
                f"employer {args.employer}"
                if args.employer
                else f"case manager {args.case_manager}"
            )
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


def _query(args: argparse.Namespace, on: date) -> DeadlineQuery:
    return DeadlineQuery(
        on=on,
        employer_id=args.employer,
        case_manager_id=args.case_manager,
        status=DeadlineStatus(args.status) if args.status else None,
        due_before=args.due_before,
        became_overdue=args.overdue_since_yesterday,
        limit=args.limit,
        history=getattr(args, "history", False),
    )


def _case_filter(args: argparse.Namespace, on: date, row: Deadline) -> bool:
    """One case asked for by id: all of its deadlines, whether or not the file ended."""
    return replace(_query(args, on), history=True).matches(CaseDeadline(UUID(int=0), row))


def _from_view(
    ledger: Ledger, store: ReadModelStore, args: argparse.Namespace, on: date
) -> list[tuple[UUID, Deadline]]:
    if not args.no_refresh:
        ProjectionRunner(ledger, store, [DeadlineProjection()]).run()

    return [
        (row.case_id, row.deadline)
        for row in find_deadlines(store, _query(args, on), deadline_replay(ledger))
    ]


def cmd_cases(args: argparse.Namespace) -> int:
    on = args.on or date.today()
    with Ledger() as ledger, read_models(ledger.database_url) as store:
        if not args.no_refresh:
            ProjectionRunner(ledger, store, [CaseStateProjection()]).run()
        rows = case_list(
            ledger,
            store,
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
