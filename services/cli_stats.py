"""``ledger stats`` and ``ledger headcount``."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from infra.headcount import HeadcountRejectedError, parse_csv, store_headcount
from infra.readmodel import read_models
from projections.catalogue import all_projections
from projections.reports import MissingHeadcount
from projections.runner import ProjectionRunner
from services.ledger import Ledger
from services.stats_views import as_rows, report, to_csv

EXIT_REFUSED, EXIT_USAGE = 1, 2


def cmd_stats(args: argparse.Namespace) -> int:
    on = args.on or date.today()
    with Ledger() as ledger, read_models(ledger.database_url) as store:
        if not args.no_refresh:
            ProjectionRunner(ledger, store, all_projections()).run()
        try:
            result = report(store, args.report, on, by=args.by, employer_id=args.employer,
                            period=args.period)  # fmt: skip
        except MissingHeadcount as missing:
            print(f"ledger stats: {missing}", file=sys.stderr)
            return EXIT_USAGE
        except ValueError as error:
            print(f"ledger stats: {error}", file=sys.stderr)
            return EXIT_USAGE
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
    try:
        rows = parse_csv(text)
    except HeadcountRejectedError as rejected:
        for problem in rejected.problems:
            print(problem, file=sys.stderr)
        print(f"ledger headcount: {rejected}", file=sys.stderr)
        return EXIT_REFUSED
    with Ledger() as ledger, read_models(ledger.database_url) as store:
        store_headcount(store, rows)
    print(f"stored headcount for {len(rows)} employer period(s)")
    return 0
