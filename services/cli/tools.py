"""``ledger simulate`` and ``ledger demo``: generated cases, for trying the ledger out and
for the benchmarks (the simulator lives in ``services.tools``)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from uuid import UUID

from domain.case import Case
from services.application.importer import import_lines, numbered
from services.application.queries import OPERATOR
from services.application.stats_views import record_headcount
from services.cli.common import EXIT_USAGE, Commands, command, runtime
from services.tools.showcase import EMPLOYER as SHOWCASE_EMPLOYER
from services.tools.showcase import SHOWCASE_HEADCOUNT, STORIES, demo_periods, showcase
from services.tools.simulate import (
    DEFAULTS,
    WORKFORCE,
    headcount_rows,
    simulate,
    simulate_population,
)


def register(commands: Commands) -> None:
    p = command(
        commands, "simulate", cmd_simulate,
        help="generate realistic cases as JSON Lines",
        description="Write generated cases to standard output: mostly short absences, some\n"
        "long cases with second track, sanctions, relapses and corrections.\n"
        "With --employees: a whole workforce (--employers x --employees people over\n"
        "--years), each falling ill at the rate in services/tools/simulate.py\n"
        "(SimulationParameters); --headcount writes the matching headcount CSV.\n"
        "The same seed gives the same output.",
        examples=[
            "ledger simulate --cases 20000 --seed 7 > cases.jsonl",
            "ledger simulate --employers 50 --employees 200 --years 3 --seed 7 \\\n"
            "      --headcount headcount.csv > population.jsonl",
            "ledger simulate --employers 50 --employees 200 --years 3 --second-track-start-week 8",
        ],
    )  # fmt: skip
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

    p = command(
        commands, "demo", cmd_demo,
        help="load demo cases and show what the ledger holds",
        description="Import demo files whose present is today (idempotent on one day): one\n"
        f"employer ({SHOWCASE_EMPLOYER}) with open files at every phase, deadlines due this\n"
        "week and overdue, a second track, a wage sanction and a dispute with a\n"
        "correction, beside --cases simulated cases of the last 130 weeks. `make run` loads\n"
        "a new demo store each day (demo/ledger-DAY.db).",
        examples=["ledger demo", "ledger demo --cases 300 --today 2026-12-01"],
    )  # fmt: skip
    p.add_argument("--cases", type=int, default=300)
    p.add_argument("--today", type=date.fromisoformat, help="the demo's today (default today)")


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


def cmd_demo(args: argparse.Namespace) -> int:
    today = args.today or date.today()
    if today > date.today():
        print(f"ledger demo: --today {today} is to come: facts cannot be recorded in the future",
              file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    population = simulate(args.cases, seed=today.toordinal(), start=today - timedelta(weeks=130),
                          today=today - timedelta(days=1), employers=50)  # fmt: skip
    files = [*showcase(today), *population]
    lines = list(numbered(json.dumps(line) for line in files))
    with runtime() as rt:
        summary = import_lines(rt.ledger, lines)
        staff = {"headcount": SHOWCASE_HEADCOUNT, "part_time_factor": 0.8}
        for period in demo_periods(today):  # the demo employer's absence figures (s7)
            record_headcount(rt, OPERATOR, SHOWCASE_EMPLOYER, period, staff)
        cases = [rt.ledger.get_case(case_id) for case_id in _case_ids(lines)]
        print(f"ledger: {rt.ledger.database_url}")
        print(f"demo import: {summary.appended:,} new events, {summary.duplicates:,} already there")
        _overview(cases, today)
    return 0


def _case_ids(lines: Sequence[tuple[int, bytes | str]]) -> list[UUID]:
    return list(dict.fromkeys(UUID(json.loads(text)["case_id"]) for _, text in lines))


def _overview(cases: Sequence[Case], today: date) -> None:
    print(f"\nthe demo employer {SHOWCASE_EMPLOYER}, as of {today}:")
    for story, case in zip(STORIES, cases, strict=False):
        week = (today - case.current.first_sick_day).days // 7 + 1
        print(f"  {case.id}  week {week:>3}  {story.title}")
    states = [case.state(as_of=today) for case in cases]
    by_status: dict[str, int] = {}
    for state in states:
        by_status[state.status.value] = by_status.get(state.status.value, 0) + 1
    print(f"\n{len(cases)} cases in all: "
          + ", ".join(f"{n} {k}" for k, n in sorted(by_status.items())))  # fmt: skip
    disputed = cases[next(i for i, story in enumerate(STORIES) if story.dispute)]
    print(f"\nnext: ledger case {disputed.id} --timeline | ledger review-pack --case "
          f"{disputed.id} --out pack/")  # fmt: skip
    print(f"      ledger deadlines --employer {SHOWCASE_EMPLOYER}  (the demo employer's deadlines)")
