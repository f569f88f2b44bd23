"""Bulk import throughput, with its baselines measured in the same run.

- ``ledger import``: the full path (parse, validate, apply every rule, write in
  batches of 5,000 events per transaction);
- ``app.save`` per case: the plain eventsourcing path, with the aggregates
  already built (storage only), one transaction per case;
- raw ``COPY``: psycopg 3 copying the same stored-event rows into a table of the
  same shape (the physical limit). PostgreSQL only;
- ``ledger import`` without per-person keys (``Ledger(protect=False)``): what the
  envelope encryption of issue 9 costs (subject lookup, sealing, key rows).

Prints a table and appends a dated entry to BENCHMARKS.md.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from bench.common import (
    ROOT,
    bench_parser,
    commit,
    drop,
    finish,
    fresh_url,
    lines_for,
    machine,
    pg_version,
    timed,
)
from domain.case import Case
from services.application.importer import import_lines
from services.application.ledger import Ledger, offer
from services.bootstrap import bootstrap


def build_cases(ledger: Ledger, lines: list[tuple[int, bytes | str]]) -> list[Case]:
    from domain.interchange import parse_line

    cases: dict[Any, Case] = {}
    for _, text in lines:
        parsed = parse_line(text)
        subject = ledger.subject_of(parsed)
        cases[parsed.case_id] = offer(cases.get(parsed.case_id), parsed, subject)
    return list(cases.values())


def raw_copy_rate(base: str, ledger: Ledger, cases: list[Case]) -> float:
    rows = [ledger.mapper.to_stored_event(e) for case in cases for e in case.history]
    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(
            "CREATE TEMP TABLE copy_baseline (originator_id uuid, originator_version int, "
            "topic text, state bytea, notification_id bigserial, "
            "PRIMARY KEY (originator_id, originator_version))"
        )

        def copy() -> None:
            with (
                connection.transaction(),
                connection.cursor() as cursor,
                cursor.copy(
                    "COPY copy_baseline (originator_id, originator_version, topic, state) "
                    "FROM STDIN"
                ) as copy_in,
            ):
                for row in rows:
                    copy_in.write_row(
                        (row.originator_id, row.originator_version, row.topic, row.state)
                    )

        return len(rows) / timed(copy)


WORKERS = 2


def run(kind: str, base: str, events: int, workdir: Path) -> dict[str, Any]:
    lines = lines_for(events)
    result: dict[str, Any] = {"store": kind, "events": len(lines)}
    url = fresh_url(base, kind, workdir)
    try:
        with bootstrap(database_url=url) as rt:
            ledger = rt.ledger
            seconds = timed(lambda: import_lines(ledger, lines))
            result["ledger_import"] = len(lines) / seconds
    finally:
        drop(url)
    url = fresh_url(base, kind, workdir)
    try:  # issue 20: the cases checked in two worker processes
        with bootstrap(database_url=url) as rt:
            ledger = rt.ledger
            seconds = timed(lambda: import_lines(ledger, lines, workers=WORKERS))
            result["import_workers"] = len(lines) / seconds
    finally:
        drop(url)
    url = fresh_url(base, kind, workdir)
    try:
        with bootstrap(database_url=url, protect=False) as rt:
            ledger = rt.ledger
            seconds = timed(lambda: import_lines(ledger, lines))
            result["import_unprotected"] = len(lines) / seconds
    finally:
        drop(url)
    url = fresh_url(base, kind, workdir)
    try:
        with bootstrap(database_url=url) as rt:
            ledger = rt.ledger
            cases = build_cases(ledger, lines)
            seconds = timed(lambda: [ledger.save(case) for case in cases])
            result["plain_app_save"] = len(lines) / seconds
            if kind == "postgres":
                result["raw_copy"] = raw_copy_rate(base, ledger, cases)
    finally:
        drop(url)
    return result


def report(results: list[dict[str, Any]], pg_version: str) -> str:
    stamp = datetime.now().isoformat(timespec="seconds")
    out = [
        f"### Bulk import - {stamp}",
        "",
        f"Machine: {machine()}; {pg_version}; commit {commit()}",
        "",
        "| store | events | ledger import (ev/s) | --workers 2 (ev/s) | without keys (ev/s) "
        "| plain app.save per case (ev/s) | raw COPY (ev/s) | with keys / without "
        "| import / app.save | import / COPY | workers / one |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        copy = r.get("raw_copy")
        vs_copy = f"{r['ledger_import'] / copy:.2f}" if copy else "n/a"
        out.append(
            f"| {r['store']} | {r['events']:,} | {r['ledger_import']:,.0f} "
            f"| {r['import_workers']:,.0f} | {r['import_unprotected']:,.0f} "
            f"| {r['plain_app_save']:,.0f} | {f'{copy:,.0f}' if copy else 'n/a'} "
            f"| {r['ledger_import'] / r['import_unprotected']:.2f} "
            f"| {r['ledger_import'] / r['plain_app_save']:.2f} "
            f"| {vs_copy} | {r['import_workers'] / r['ledger_import']:.2f} |"
        )
    return "\n".join(out) + "\n"


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    base = args.database_url.split("?")[0]
    workdir = ROOT / "bench" / "out"
    workdir.mkdir(parents=True, exist_ok=True)
    results = [run(kind, base, args.events, workdir) for kind in args.stores.split(",")]
    text = report(results, pg_version(base))
    finish(text, args)


if __name__ == "__main__":
    main()
