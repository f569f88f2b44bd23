"""Read-side benchmarks, each next to its baseline measured in the same run.

1. Rebuild: ``ledger project --rebuild`` (all read models) in events/s, against
   the plain ``select_notifications`` read rate of the same log (pages of 1,000).
2. Point-in-time replay of a case with 200 events: ``--as-of`` and
   ``--as-of --known-at`` (with and without the event index), against the plain
   ``repository.get`` of that case. p50/p95/p99 of repeated runs (``--repeat``).
3. Deadline view of one employer with 10,000 open cases: the first page (100 rows)
   of the overdue list, the whole overdue list, due in the next two weeks, and
   "overdue since yesterday", against the raw SQL select of the same rows (no
   status computation). p50/p95 of ``--view-repeat`` runs.

Prints a table and appends a dated entry to BENCHMARKS.md.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

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
from domain.deadlines import DeadlineStatus, case_deadlines
from infra.readmodel import ReadModelStore
from projections.catalogue import all_projections
from projections.deadlines import DeadlineQuery, find_deadlines
from projections.runner import ReadModelRunner
from services.application.case_views import case_as_known
from services.application.importer import import_lines, numbered
from services.application.ledger import Ledger
from services.bootstrap import Runtime, bootstrap

TODAY = date(2026, 11, 2)
BIG_EMPLOYER = "ER-BIG"


def latency_ms(action: Callable[[], Any], repeat: int) -> dict[str, float]:
    """p50, p95 and p99 of ``repeat`` runs, in ms (after one warm-up run)."""
    action()  # warm caches and prepared statements
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50": statistics.median(samples), "p95": cuts[94], "p99": cuts[98]}


def read_rate(ledger: Ledger) -> float:
    def read_all() -> int:
        count, start = 0, 0
        while page := ledger.recorder.select_notifications(start, 1000, inclusive_of_start=False):
            count += len(page)
            start = page[-1].id
        return count

    events = read_all()
    return events / timed(read_all)


def rebuild(rt: Runtime, *, bulk: bool, workers: int = 1) -> tuple[int, float]:
    """``ledger project --rebuild [--workers N]`` as a bulk job, or (``bulk=False``) the
    page-by-page replay it replaced (``--rebuild --replay``): before and after, one run."""
    runner = rt.runner()
    started = time.perf_counter()
    summary = runner.rebuild(bulk=bulk, workers=workers)
    return summary.events, summary.events / (time.perf_counter() - started)


def _event(case_id: str, kind: str, on: date, **data: Any) -> str:
    recorded = datetime.combine(on, day_time(12), UTC)
    return json.dumps(
        {
            "event_id": str(uuid4()),
            "case_id": case_id,
            "type": kind,
            "occurred_on": on.isoformat(),
            "recorded_at": recorded.isoformat(),
            "actor": {"role": "case_manager", "id": "cm-1"},
            "data": data,
        }
    )


def long_case(events: int) -> tuple[str, list[str]]:
    """One case of ``events`` events: the first steps, then evaluations every 3 days."""
    case_id, first = str(uuid4()), TODAY - timedelta(days=3 * events + 60)
    lines = [
        _event(case_id, "SicknessReported", first, employee_id="E1", employer_id="ER-LONG",
               first_sick_day=first.isoformat()),
        _event(case_id, "ReportedToOccupationalPhysician", first + timedelta(days=2)),
        _event(case_id, "ProblemAnalysisCompleted", first + timedelta(days=30)),
        _event(case_id, "PlanOfApproachAgreed", first + timedelta(days=40), goal="own_work"),
    ]  # fmt: skip
    on = first + timedelta(days=43)
    while len(lines) < events:
        lines.append(_event(case_id, "PlanEvaluated", on, adjustment="none"))
        on += timedelta(days=3)
    return case_id, lines


def replay_latencies(
    ledger: Ledger, store: ReadModelStore, repeat: int
) -> dict[str, dict[str, float]]:
    case_id, lines = long_case(200)
    import_lines(ledger, numbered(lines))
    ReadModelRunner(ledger, store, all_projections()).run()
    uuid = UUID(case_id)
    middle = json.loads(lines[100])
    as_of = date.fromisoformat(middle["occurred_on"])
    known_at = datetime.fromisoformat(middle["recorded_at"])

    def as_of_only() -> None:
        case = ledger.get_case(uuid)
        case.state(as_of=as_of)
        case_deadlines(case.timeline(), as_of)

    def known_at_replay(index: ReadModelStore | None) -> Callable[[], None]:
        def run() -> None:
            case = case_as_known(ledger, uuid, known_at, index)
            case.state(as_of=as_of, known_at=known_at)
            case_deadlines(case.timeline(known_at=known_at), as_of)

        return run

    return {
        "repository_get": latency_ms(lambda: ledger.repository.get(uuid), repeat),
        "as_of": latency_ms(as_of_only, repeat),
        "known_at_full_load": latency_ms(known_at_replay(None), repeat),
        "known_at_with_index": latency_ms(known_at_replay(store), repeat),
    }


def employer_population(cases: int) -> list[str]:
    """``cases`` open cases of one employer, first sick days over two years, early steps."""
    lines: list[str] = []
    for n in range(cases):
        case_id, first = str(uuid4()), TODAY - timedelta(days=1 + (n * 7) % 700)
        lines.append(
            _event(case_id, "SicknessReported", first, employee_id=f"E{n}",
                   employer_id=BIG_EMPLOYER, first_sick_day=first.isoformat())
        )  # fmt: skip
        if n % 3:
            lines.append(_event(case_id, "ReportedToOccupationalPhysician", first))
    return lines


def view_latencies(ledger: Ledger, store: ReadModelStore, repeat: int) -> dict[str, Any]:
    import_lines(ledger, numbered(employer_population(10_000)))
    ReadModelRunner(ledger, store, all_projections()).run()

    def replay(case_id: UUID, on: date) -> list[Any]:
        return case_deadlines(ledger.get_case(case_id).timeline(), on)

    overdue = DeadlineQuery(TODAY, employer_id=BIG_EMPLOYER, status=DeadlineStatus.OVERDUE)
    queries = {
        "overdue, first 100": replace(overdue, limit=100),
        "overdue": overdue,
        "due_in_14_days": DeadlineQuery(
            TODAY, employer_id=BIG_EMPLOYER, status=DeadlineStatus.OPEN,
            due_before=TODAY + timedelta(days=14),
        ),
        "overdue_since_yesterday": DeadlineQuery(
            TODAY, employer_id=BIG_EMPLOYER, became_overdue=True
        ),
    }  # fmt: skip
    overdue_sql = (
        "SELECT * FROM {deadline} WHERE employer_id = ? AND last_event_on <= ? AND "
        "is_task = 1 AND done_on IS NULL AND file_ended_on IS NULL AND due_on < ? ORDER BY due_on"
    )
    raw = {
        "overdue, first 100": (
            overdue_sql + " LIMIT 100", [BIG_EMPLOYER, TODAY.isoformat(), TODAY.isoformat()]
        ),
        "overdue": (
            "SELECT * FROM {deadline} WHERE employer_id = ? AND last_event_on <= ? AND "
            "is_task = 1 AND done_on IS NULL AND file_ended_on IS NULL AND due_on < ? "
            "ORDER BY due_on",
            [BIG_EMPLOYER, TODAY.isoformat(), TODAY.isoformat()],
        ),
        "due_in_14_days": (
            "SELECT * FROM {deadline} WHERE employer_id = ? AND last_event_on <= ? AND "
            "done_on IS NULL AND file_ended_on IS NULL AND due_on >= ? AND due_on < ? "
            "ORDER BY due_on",
            [BIG_EMPLOYER, TODAY.isoformat(), TODAY.isoformat(),
             (TODAY + timedelta(days=14)).isoformat()],
        ),
        "overdue_since_yesterday": (
            "SELECT * FROM {deadline} WHERE employer_id = ? AND last_event_on <= ? AND "
            "is_task = 1 AND done_on IS NULL AND file_ended_on IS NULL AND due_on = ? "
            "ORDER BY due_on",
            [BIG_EMPLOYER, TODAY.isoformat(), (TODAY - timedelta(days=1)).isoformat()],
        ),
    }  # fmt: skip
    results: dict[str, Any] = {}
    for name, query in queries.items():
        rows = find_deadlines(store, query, replay)
        sql, params = raw[name]
        assert len(store.query(sql, params)) == len(rows), name  # same rows, both ways
        results[name] = {
            "rows": len(rows),
            "view": latency_ms(partial(find_deadlines, store, query, replay), repeat),
            "raw": latency_ms(partial(store.query, sql, params), repeat),
        }
    return results


def run(
    kind: str, base: str, events: int, workdir: Path, repeat: int, view_repeat: int
) -> dict[str, Any]:
    url = fresh_url(base, kind, workdir)
    result: dict[str, Any] = {"store": kind}
    try:
        with bootstrap(database_url=url) as rt:
            ledger, store = rt.ledger, rt.store
            import_lines(ledger, lines_for(events))
            result["read_rate"] = read_rate(ledger)
            _, result["replay_rate"] = rebuild(rt, bulk=False)
            result["events"], result["rebuild_rate"] = rebuild(rt, bulk=True)
            _, result["workers_rate"] = rebuild(rt, bulk=True, workers=2)
            result["replay"] = replay_latencies(ledger, store, repeat)
            result["view"] = view_latencies(ledger, store, view_repeat)
    finally:
        drop(url)
    return result


def report(results: list[dict[str, Any]], version: str) -> str:
    stamp = datetime.now().isoformat(timespec="seconds")
    out = [
        f"### Read side: rebuild, replay, deadline view - {stamp}",
        "",
        f"Machine: {machine()}; {version}; commit {commit()}",
        "",
        "| store | events | replay rebuild, before (ev/s) | bulk rebuild (ev/s) "
        "| bulk, 2 workers (ev/s) | select_notifications (ev/s) | best / read "
        "| best / replay |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        best = max(r["rebuild_rate"], r["workers_rate"])
        out.append(
            f"| {r['store']} | {r['events']:,} | {r['replay_rate']:,.0f} "
            f"| {r['rebuild_rate']:,.0f} | {r['workers_rate']:,.0f} | {r['read_rate']:,.0f} "
            f"| {best / r['read_rate']:.3f} | {best / r['replay_rate']:.2f} |"
        )
    out += [
        "",
        "Replay of a 200-event case (ms, p50 / p99; ratio of p50 to `repository.get`):",
        "",
        "| store | repository.get | --as-of | --known-at, full load | --known-at, event index |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        p = r["replay"]
        base = p["repository_get"]
        cells = [f"{p[k]['p50']:.2f} / {p[k]['p99']:.2f} ({p[k]['p50'] / base['p50']:.2f}x)"
                 for k in ("as_of", "known_at_full_load", "known_at_with_index")]  # fmt: skip
        out.append(
            f"| {r['store']} | {base['p50']:.2f} / {base['p99']:.2f} | " + " | ".join(cells) + " |"
        )
    out += [
        "",
        f"Deadline view of one employer with 10,000 open cases (ms; as of {TODAY}):",
        "",
        "| store | query | rows | view p50 | view p95 | raw SQL p50 | raw SQL p95 "
        "| view / raw (p50) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for name, v in r["view"].items():
            view, raw = v["view"], v["raw"]
            out.append(
                f"| {r['store']} | {name} | {v['rows']:,} | {view['p50']:.1f} | {view['p95']:.1f} "
                f"| {raw['p50']:.1f} | {raw['p95']:.1f} | {view['p50'] / raw['p50']:.2f} |"
            )
    return "\n".join(out) + "\n"


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--events", type=int, default=50_000, help="log size for the rebuild")
    parser.add_argument("--repeat", type=int, default=200, help="runs per replay latency")
    parser.add_argument("--view-repeat", type=int, default=40, help="runs per deadline query")
    args = parser.parse_args()
    base = args.database_url.split("?")[0]
    workdir = ROOT / "bench" / "out"
    workdir.mkdir(parents=True, exist_ok=True)
    results = [
        run(kind, base, args.events, workdir, args.repeat, args.view_repeat)
        for kind in args.stores.split(",")
    ]
    text = report(results, pg_version(base))
    finish(text, args)


if __name__ == "__main__":
    main()
