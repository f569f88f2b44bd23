"""Import and rebuild at scale, and their peak memory, through the commands a user runs.

For each store, on simulated files of a quarter of the scale and of the full scale
(``--scale``, default 1m events; ``national`` is a year of the Netherlands, about
9 million reports, for a bigger machine):

- ``ledger import FILE`` in its own process: events/s, and its peak RSS;
- ``ledger project --rebuild`` of every read model, in its own process, on the store
  that import filled: events/s, and its peak RSS.

Baselines measured in the same run, at full scale, on the same data:

- raw ``COPY`` (psycopg 3) of the rows the import stored, into a table of the same
  shape (PostgreSQL; on SQLite a raw ``executemany`` in one transaction): the
  physical write limit;
- the plain eventsourcing path: ``app.save`` of the same cases, built in memory
  500 at a time (storage only: the cases are built before the clock starts);
- ``select_notifications`` in pages of 1,000 over the log that was rebuilt (reading
  only, no decoding).

Memory is flat when the peak RSS at full scale is about that at a quarter of it.
Prints tables and appends a dated entry to BENCHMARKS.md.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from bench.common import ROOT, bench_parser, commit, drop, finish, fresh_url, machine, pg_version
from domain.case import Case
from domain.interchange import parse_line
from services.application.ledger import Ledger, offer
from services.bootstrap import bootstrap

EVENTS_PER_CASE = 5.56  # what `ledger simulate --cases` gives on average
NATIONAL = 9_000_000 * EVENTS_PER_CASE  # one report per employee per year (issue 10)
LEDGER = str(Path(sys.executable).parent / "ledger")


def parse_scale(text: str) -> int:
    """``1m``, ``250k``, ``50000`` or ``national``: a number of events."""
    if text == "national":
        return int(NATIONAL)
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1].lower(), 1)
    return int(float(text.rstrip("kKmM")) * factor)


def simulated_file(events: int, workdir: Path) -> Path:
    """A file of whole simulated cases, about ``events`` lines (kept for later runs)."""
    path = workdir / f"simulated-{events}.jsonl"
    if not path.exists():
        cases = max(1, round(events / EVENTS_PER_CASE))
        with path.open("wb") as out:
            subprocess.run(
                [LEDGER, "simulate", "--cases", str(cases), "--seed", "10", "--today",
                 "2026-11-01"], stdout=out, check=True,
            )  # fmt: skip
    return path


def run_command(args: list[str], url: str, workdir: Path) -> tuple[float, int, str]:
    """Run a ledger command on ``url``; its wall seconds, peak RSS (bytes) and output."""
    env = {**os.environ, "LEDGER_DATABASE_URL": url}
    started = time.perf_counter()
    process = subprocess.Popen([LEDGER, *args], env=env, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"ledger {' '.join(args)} failed ({process.returncode}): {output}")
    return seconds, usage.ru_maxrss * 1024, output


def import_and_rebuild(kind: str, base: str, file: Path, workdir: Path) -> dict[str, Any]:
    """Import ``file`` into a fresh store, then rebuild; the store's url is kept."""
    url = fresh_url(base, kind, workdir)
    seconds, rss, output = run_command(["import", "--json", "--quiet", str(file)], url, workdir)
    events = json.loads(output)["appended"]
    rebuild_seconds, rebuild_rss, _ = run_command(
        ["project", "--rebuild", "--quiet", "--json"], url, workdir
    )
    print(f"  {kind}: {events:,} events imported in {seconds:.0f}s, rebuilt in "
          f"{rebuild_seconds:.0f}s", file=sys.stderr, flush=True)  # fmt: skip
    return {"url": url, "events": events, "import": events / seconds, "import_rss": rss,
            "rebuild": events / rebuild_seconds, "rebuild_rss": rebuild_rss}  # fmt: skip


def stored_rows(url: str, page: int = 100_000) -> Iterator[list[tuple[Any, ...]]]:
    """The rows the import stored, a page at a time, read with the plain recorder."""
    with bootstrap(database_url=url, protect=False) as rt:  # rows as stored: no key is needed
        ledger = rt.ledger
        start = 0
        while notifications := ledger.recorder.select_notifications(
            start, page, inclusive_of_start=False
        ):
            yield [(n.originator_id, n.originator_version, n.topic, n.state) for n in notifications]
            start = notifications[-1].id


def raw_write_rate(kind: str, base: str, url: str, workdir: Path) -> float:
    """Rows per second of raw COPY (PostgreSQL) or executemany (SQLite) of the stored rows;
    only the writing is timed."""
    return _raw_copy(base, url) if kind == "postgres" else _raw_executemany(url, workdir)


def _raw_copy(base: str, url: str) -> float:
    total, seconds = 0, 0.0
    statement = (
        "COPY copy_baseline (originator_id, originator_version, topic, state) "
        "FROM STDIN (FORMAT BINARY)"
    )
    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(
            "CREATE TEMP TABLE copy_baseline (originator_id uuid, originator_version bigint,"
            " topic text, state bytea, notification_id bigserial, "
            "PRIMARY KEY (originator_id, originator_version))"
        )
        for rows in stored_rows(url):
            started = time.perf_counter()
            with (
                connection.transaction(),
                connection.cursor() as cursor,
                cursor.copy(statement) as copy,
            ):
                copy.set_types(["uuid", "int8", "text", "bytea"])
                for row in rows:
                    copy.write_row(row)
            seconds += time.perf_counter() - started
            total += len(rows)
    return total / seconds


def _raw_executemany(url: str, workdir: Path) -> float:
    total, seconds = 0, 0.0
    path = workdir / "raw-baseline.db"
    path.unlink(missing_ok=True)
    connection = sqlite3.connect(path)
    connection.execute(
        "CREATE TABLE raw_baseline (originator_id text, originator_version integer, topic text,"
        " state blob, notification_id integer primary key autoincrement, "
        "UNIQUE (originator_id, originator_version))"
    )
    for rows in stored_rows(url):
        started = time.perf_counter()
        with connection:
            connection.executemany(
                "INSERT INTO raw_baseline (originator_id, originator_version, topic, state) "
                "VALUES (?, ?, ?, ?)",
                [(o.hex, v, t, s) for o, v, t, s in rows],
            )
        seconds += time.perf_counter() - started
        total += len(rows)
    connection.close()
    path.unlink()
    return total / seconds


def read_rate(url: str) -> float:
    """``select_notifications`` in pages of 1,000 over the whole log, events/s."""
    with bootstrap(database_url=url, protect=False) as rt:
        ledger = rt.ledger
        started, start, count = time.perf_counter(), 0, 0
        while page := ledger.recorder.select_notifications(start, 1000, inclusive_of_start=False):
            count += len(page)
            start = page[-1].id
        return count / (time.perf_counter() - started)


def app_save_rate(kind: str, base: str, file: Path, workdir: Path) -> float:
    """The library's ``app.save`` of the file's cases, 500 cases per call; only the
    saving is timed."""
    url = fresh_url(base, kind, workdir)
    total, seconds = 0, 0.0
    try:
        with bootstrap(database_url=url) as rt:
            ledger = rt.ledger
            for cases in _cases_in_groups(ledger, file, 500):
                started = time.perf_counter()
                ledger.save(*cases)
                seconds += time.perf_counter() - started
                total += sum(case.version for case in cases)
    finally:
        drop(url)
    return total / seconds


def _cases_in_groups(ledger: Ledger, file: Path, size: int) -> Iterator[list[Case]]:
    """Whole cases of a simulated file (its cases' lines are together), ``size`` at a time."""
    cases: dict[Any, Case] = {}
    with file.open("rb") as lines:
        for text in lines:
            line = parse_line(text)
            if line.case_id not in cases and len(cases) == size:
                yield list(cases.values())
                cases = {}
            cases[line.case_id] = offer(cases.get(line.case_id), line, ledger.subject_of(line))
    if cases:
        yield list(cases.values())


def run(kind: str, base: str, scale: int, workdir: Path) -> dict[str, Any]:
    print(f"{kind}: a quarter of the scale, then the full scale", file=sys.stderr, flush=True)
    quarter = import_and_rebuild(kind, base, simulated_file(scale // 4, workdir), workdir)
    drop(quarter["url"])
    full_file = simulated_file(scale, workdir)
    full = import_and_rebuild(kind, base, full_file, workdir)
    try:
        print(f"  {kind}: baselines", file=sys.stderr, flush=True)
        raw = raw_write_rate(kind, base, full["url"], workdir)
        read = read_rate(full["url"])
    finally:
        drop(full["url"])
    save = app_save_rate(kind, base, full_file, workdir)
    return {"store": kind, "quarter": quarter, "full": full, "raw": raw, "read": read,
            "app_save": save}  # fmt: skip


def report(results: list[dict[str, Any]], version: str) -> str:
    stamp = datetime.now().isoformat(timespec="seconds")
    mib = 2**20
    out = [
        f"### Import and rebuild at scale - {stamp}",
        "",
        f"Machine: {machine()}; {version}; commit {commit()}",
        "",
        "| store | events | ledger import (ev/s) | raw write (ev/s) | import / raw "
        "| app.save (ev/s) | import / app.save | rebuild (ev/s) | select_notifications (ev/s) "
        "| rebuild / read |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        f = r["full"]
        raw = "COPY" if r["store"] == "postgres" else "executemany"
        out.append(
            f"| {r['store']} | {f['events']:,} | {f['import']:,.0f} | {r['raw']:,.0f} ({raw}) "
            f"| {f['import'] / r['raw']:.3f} | {r['app_save']:,.0f} "
            f"| {f['import'] / r['app_save']:.2f} | {f['rebuild']:,.0f} | {r['read']:,.0f} "
            f"| {f['rebuild'] / r['read']:.3f} |"
        )
    out += ["", "Peak RSS of each command (MiB), a quarter of the scale against the full scale:",
            "", "| store | events | import | rebuild | events | import | rebuild "
            "| import full / quarter | rebuild full / quarter |",
            "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in results:
        q, f = r["quarter"], r["full"]
        out.append(
            f"| {r['store']} | {q['events']:,} | {q['import_rss'] / mib:.0f} "
            f"| {q['rebuild_rss'] / mib:.0f} | {f['events']:,} | {f['import_rss'] / mib:.0f} "
            f"| {f['rebuild_rss'] / mib:.0f} | {f['import_rss'] / q['import_rss']:.2f} "
            f"| {f['rebuild_rss'] / q['rebuild_rss']:.2f} |"
        )
    return "\n".join(out) + "\n"


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument(
        "--scale", default="1m", help="events at full scale: 1m (default), 250k, national"
    )
    args = parser.parse_args()
    scale = parse_scale(args.scale)
    base = args.database_url.split("?")[0]
    workdir = ROOT / "bench" / "out"
    workdir.mkdir(parents=True, exist_ok=True)
    key = workdir / "scale-master.key"  # one master key for every store of the run,
    key.unlink(missing_ok=True)  # made by the first (empty) ledger, in process or not
    os.environ["LEDGER_MASTER_KEY_FILE"] = str(key)
    results = [run(kind, base, scale, workdir) for kind in args.stores.split(",")]
    finish(report(results, pg_version(base)), args)


if __name__ == "__main__":
    main()
