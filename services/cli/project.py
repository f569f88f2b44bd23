"""``ledger project``: keep the read models up to date, rebuild them, show their lag."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from typing import Any

from services.application.read_models import (
    SCALE_OUT,
    KafkaBuilt,
    Progress,
    ReadModelRunner,
    RunSummary,
    behind,
    chosen,
    kafka_built,
    scale_out,
)
from services.bootstrap import configure_logging
from services.cli.common import (
    Commands,
    add_json,
    command,
    runtime,
    stop_on_signals,
    worker_count,
)


def register(commands: Commands) -> None:
    p = command(
        commands, "project", cmd_project,
        help="update, rebuild or follow the read models",
        description="Apply new events from the ledger's log to the read models (case state,\n"
        "deadlines, event index, statistics). Each page of events is written with the\n"
        "position it reached in one transaction, so an interrupted run resumes where it\n"
        "stopped. --rebuild rebuilds them from the whole log as a bulk job: each case\n"
        "folded once into fresh tables, swapped in at the end (readers see the old rows\n"
        "until then; killed, it leaves them as they were). --rebuild --replay empties\n"
        "them and replays the log page by page instead (resumable). --follow\n"
        "keeps running and applies new events as they arrive (stop with Ctrl-C or\n"
        "SIGTERM). --source kafka runs a scale-out worker of the "
        f"{' and '.join(SCALE_OUT)}\nread models in consumer group --group: start several; "
        "each owns some partitions.",
        examples=["ledger project", "ledger project --rebuild",
                  "ledger project --rebuild --replay",
                  "ledger project --follow --poll 0.5", "ledger project --status --json"],
    )  # fmt: skip
    p.add_argument("--rebuild", action="store_true", help="rebuild from the whole log (bulk)")
    p.add_argument("--workers", type=worker_count, default=1, metavar="N",
                   help="with --rebuild: fold cases in N processes (default 1; 'auto': one "
                   "per core)")  # fmt: skip
    p.add_argument("--replay", action="store_true",
                   help="with --rebuild: empty the tables and replay page by page")  # fmt: skip
    p.add_argument("--follow", action="store_true", help="keep running; apply new events")
    p.add_argument("--status", action="store_true", help="show positions and lag, change nothing")
    p.add_argument("--only", nargs="+", metavar="NAME", help="only these read models")
    p.add_argument(
        "--page-size", type=int, default=5000, help="events per transaction (default 5000)"
    )
    p.add_argument("--poll", type=float, default=1.0, help="seconds between polls (--follow)")
    add_json(p, "print JSON summaries")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output on stderr")
    p.add_argument("--source", choices=["log", "kafka"], default="log",
                   help="kafka: run as a scale-out worker reading the feed topic")  # fmt: skip
    p.add_argument("--group", default="ledger-projections", help="kafka consumer group")


class _Reporter:
    """Progress on stderr, at most once a second, and always for the last page."""

    def __init__(self, label: str, quiet: bool) -> None:
        self.label, self.quiet, self.last = label, quiet, 0.0

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        if self.quiet or (now - self.last < 1.0 and progress.position < progress.head):
            return
        self.last = now
        share = 100.0 * progress.position / progress.head if progress.head else 100.0
        print(
            f"{self.label}: notification {progress.position:,}/{progress.head:,} ({share:.1f} %), "
            f"{progress.events:,} events, {progress.rate:,.0f} events/s",
            file=sys.stderr,
            flush=True,
        )


def cmd_project(args: argparse.Namespace) -> int:
    if args.follow or args.source == "kafka":
        configure_logging()
    if args.source == "kafka":
        return _kafka_worker(args)
    if args.replay and not args.rebuild:
        print("ledger project: --replay is a way of rebuilding; give --rebuild --replay",
              file=sys.stderr)  # fmt: skip
        return 2
    projections = chosen(args.only)
    with runtime() as rt:
        runner = rt.runner(projections, page_size=args.page_size)
        if args.status:
            return _status(runner, as_json=args.json)
        reporter = _Reporter("rebuild" if args.rebuild else "project", args.quiet)
        if args.rebuild:
            summary = runner.rebuild(reporter, bulk=not args.replay, workers=args.workers)
        else:
            summary = runner.run(reporter)
        _summary(summary, as_json=args.json)
        if args.follow:
            _follow(runner, args)
    return 0


def _kafka_worker(args: argparse.Namespace) -> int:
    projections = scale_out(args.only)
    stop = stop_on_signals()
    with runtime() as rt:
        worker = rt.kafka_worker(projections, args.group)
        print(f"worker in group {args.group} on {worker.settings.topic}; Ctrl-C stops",
              file=sys.stderr, flush=True)  # fmt: skip

        def report(batch: Any) -> None:
            if not args.quiet:
                print(json.dumps(vars(batch)), flush=True)

        try:
            worker.run(stop, report)
        finally:
            worker.close()
    return 0


def _status(runner: ReadModelRunner, *, as_json: bool) -> int:
    head, held = runner.head(), runner.set_aside()
    lag = behind(runner.store, runner, head)
    over_kafka = kafka_built(runner.store, runner, head)
    rows = []
    for name, pos in runner.positions().items():
        row: dict[str, Any] = {"projection": name, "position": pos, "head": head,
                               "behind": lag[name],
                               "set_aside": [asdict(h) for h in held[name]]}  # fmt: skip
        if name in over_kafka:
            built = over_kafka[name]
            row["kafka"] = {"group": built.group, "topic": built.topic,
                            "applied": built.applied, "ends": built.ends,
                            "feed_behind": built.feed_behind, "seen_at": built.seen_at}  # fmt: skip
        rows.append(row)
    if as_json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        print(f"{row['projection']:12}  at {row['position'] or 0:,} of {head:,}  "
              f"({row['behind']:,} notification ids behind)")  # fmt: skip
        if row["projection"] in over_kafka:
            _print_kafka(over_kafka[row["projection"]])
        for h in held[str(row["projection"])]:
            print(f"    set aside: notification {h.notification_id} ({h.event_type}, case "
                  f"{h.case_id}): {h.reason}")  # fmt: skip
    if any(held.values()):
        print("set-aside events are applied once the case's events can be: record a correction "
              "(ledger record EventCorrected ...) of the event that is wrong")  # fmt: skip
    return 0


def _print_kafka(built: KafkaBuilt) -> None:
    applied, on_topic = sum(built.applied.values()), sum(built.ends.values())
    print(f"    over Kafka: group {built.group}, topic {built.topic}, {applied:,} of "
          f"{on_topic:,} messages applied in {len(built.ends)} partitions (seen "
          f"{built.seen_at or 'never'}); the feed is {built.feed_behind:,} behind")  # fmt: skip


def _summary(summary: RunSummary, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"positions": summary.positions, "events": summary.events,
                          "seconds": round(summary.seconds, 3)}), flush=True)  # fmt: skip
        return
    rate = summary.events / summary.seconds if summary.seconds > 0 else 0.0
    names = ", ".join(summary.positions)
    position = max((p or 0 for p in summary.positions.values()), default=0)
    print(
        f"{names}: at notification {position:,}; applied {summary.events:,} events "
        f"in {summary.seconds:.2f}s ({rate:,.0f} events/s)",
        flush=True,
    )


def _follow(runner: ReadModelRunner, args: argparse.Namespace) -> None:
    stop = stop_on_signals()
    print(f"following the log every {args.poll}s; Ctrl-C to stop", file=sys.stderr, flush=True)
    runner.follow_runs(stop, poll_seconds=args.poll,
                       on_run=lambda s: _summary(s, as_json=args.json))  # fmt: skip
    print("stopped", file=sys.stderr, flush=True)
