"""``ledger stats`` and ``ledger headcount``."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from services.application.errors import HeadcountRejectedError
from services.application.queries import OPERATOR
from services.application.stats_views import as_rows, import_headcounts, statistics, to_csv
from services.cli.common import EXIT_REFUSED, EXIT_USAGE, Commands, command, runtime


def register(commands: Commands) -> None:
    p = command(
        commands, "stats", cmd_stats,
        help="outcome statistics, sanctions, deadline performance, absence KPIs",
        description="Statistics as of a date (default today), from the read models:\n"
        "  second-track  trajectories by outcome (Panteia 2016 categories, reference beside)\n"
        "  sanctions     wage sanctions per year by kind, shortened, mean length\n"
        "  deadlines     share of each deadline met on time, median days late\n"
        "  kpi           absence %, report frequency, duration, zero absence of an employer\n"
        "                in a period (needs its headcount: ledger headcount import)",
        examples=["ledger stats second-track --by band provider", "ledger stats sanctions --json",
                  "ledger stats deadlines --csv > deadlines.csv",
                  "ledger stats kpi --employer ER00017 --period 2026-Q1"],
    )  # fmt: skip
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

    p = command(
        commands, "headcount", cmd_headcount,
        help="import employer headcounts (for the absence KPIs)",
        description="Import a CSV with the header employer_id,period,headcount,part_time_factor\n"
        "(period: 2026, 2026-Q1 or 2026-03). Every line is checked first; on any problem\n"
        "nothing is stored. A later import for the same employer and period replaces it.",
        examples=["ledger headcount import headcount.csv"],
    )  # fmt: skip
    p.add_argument("action", choices=["import"])
    p.add_argument("file", help="a CSV file, or - for standard input")


class _NoRefresh:
    """The runtime as a context whose catch-up does nothing (``--no-refresh``)."""

    def __init__(self, rt: Any) -> None:
        self.ledger, self.store = rt.ledger, rt.store

    def catch_up(self) -> None:
        pass


def cmd_stats(args: argparse.Namespace) -> int:
    on = args.on or date.today()
    with runtime() as rt:
        ctx = _NoRefresh(rt) if args.no_refresh else rt
        result = statistics(ctx, OPERATOR, args.report, on, by=args.by,
                            employer_id=args.employer, period=args.period)  # fmt: skip
    if args.json:
        print(json.dumps(result, indent=2))
    elif args.csv:
        sys.stdout.write(to_csv(as_rows(args.report, result)))
    else:
        print(_text(args.report, result, on))
    return 0


def _text(kind: str, result: Any, on: date) -> str:
    rows = as_rows(kind, result)
    if not rows:
        return f"{kind} on {on}: nothing to count yet"
    columns = list(dict.fromkeys(k for row in rows for k in row))
    widths = {c: max(len(c), *(len(_cell(r.get(c))) for r in rows)) for c in columns}
    lines = [f"{kind} on {on}"]
    if kind == "second-track":
        reference = result["reference"]
        shares = ", ".join(f"{k} {v:.0%}" for k, v in reference["shares"].items())
        lines.append(f"reference: {reference['source']}, n={reference['n']}: {shares}")
    lines.append("  ".join(c.ljust(widths[c]) for c in columns))
    lines += ["  ".join(_cell(r.get(c)).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def cmd_headcount(args: argparse.Namespace) -> int:
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text()
    except OSError as error:
        print(f"ledger headcount: cannot read {args.file}: {error.strerror}", file=sys.stderr)
        return EXIT_USAGE
    except UnicodeDecodeError as error:
        print(f"ledger headcount: {args.file} is not UTF-8 text (byte {error.start}); save it "
              "as UTF-8 CSV", file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    with runtime() as rt:
        try:
            rows = import_headcounts(rt, text)
        except HeadcountRejectedError as rejected:
            for problem in rejected.problems:
                print(problem, file=sys.stderr)
            print(f"ledger headcount: {rejected}", file=sys.stderr)
            return EXIT_REFUSED
    print(f"stored headcount for {len(rows)} employer period(s)")
    return 0
