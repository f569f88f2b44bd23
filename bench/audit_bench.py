"""Cost of the verifiable log, with its baselines in the same run.

- **append**: importing a population with and without making a signed checkpoint
  after each batch of 5,000 events (the tree is built at checkpoints, never in the
  write path), in events/s;
- **verify**: ``ledger verify`` over the whole store (recompute every leaf, the tree and
  every checkpoint), in events/s, against the plain ``select_notifications`` read of the
  same events, and the time it would take for a million events at that rate.

Prints a table and appends a dated entry to BENCHMARKS.md.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

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
)
from infra.audit import AuditLog, signing_key
from services.application.importer import import_lines
from services.application.ledger import Ledger
from services.bootstrap import bootstrap

BATCH = 5000


def _read_all(ledger: Ledger) -> int:
    count, start = 0, 0
    while page := ledger.recorder.select_notifications(start, 5000, inclusive_of_start=False):
        count += len(page)
        start = page[-1].id
    return count


def run(kind: str, base: str, events: int) -> dict[str, Any]:
    lines = lines_for(events)
    workdir = ROOT / "bench" / "out"
    workdir.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"store": kind, "events": len(lines)}
    for with_log in (False, True):
        url = fresh_url(base, kind, Path(workdir))
        try:
            with bootstrap(database_url=url) as rt:
                ledger, store = rt.ledger, rt.store
                audit = AuditLog(ledger.recorder, store, signing_key(create=True))
                started = time.perf_counter()
                for at in range(0, len(lines), BATCH):
                    import_lines(ledger, lines[at : at + BATCH])
                    if with_log:
                        audit.checkpoint()
                elapsed = time.perf_counter() - started
                result["append_with" if with_log else "append_without"] = len(lines) / elapsed
                if with_log:
                    started = time.perf_counter()
                    report = audit.verify()
                    assert report.intact, report.problems
                    result["verify"] = len(lines) / (time.perf_counter() - started)
                    started = time.perf_counter()
                    _read_all(ledger)
                    result["read"] = len(lines) / (time.perf_counter() - started)
                    result["checkpoints"] = report.checkpoints
        finally:
            drop(url)
    return result


def report(results: list[dict[str, Any]], version: str) -> str:
    stamp = datetime.now().isoformat(timespec="seconds")
    out = [
        f"### Verifiable log - {stamp}",
        "",
        f"Machine: {machine()}; {version}; commit {commit()}",
        "",
        "| store | events | import (ev/s) | import + checkpoint per 5,000 (ev/s) | ratio "
        "| verify (ev/s) | plain read (ev/s) | verify / read | a million at that rate |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        out.append(
            f"| {r['store']} | {r['events']:,} | {r['append_without']:,.0f} "
            f"| {r['append_with']:,.0f} | {r['append_with'] / r['append_without']:.2f} "
            f"| {r['verify']:,.0f} | {r['read']:,.0f} | {r['verify'] / r['read']:.2f} "
            f"| {1_000_000 / r['verify']:.0f} s |"
        )
    return "\n".join(out) + "\n"


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    base = args.database_url.split("?")[0]
    results = [run(kind, base, args.events) for kind in args.stores.split(",")]
    text = report(results, pg_version(base))
    finish(text, args)


if __name__ == "__main__":
    main()
