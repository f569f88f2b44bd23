"""``ledger project``: keep the read models up to date, rebuild them, show their lag."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from threading import Event
from types import FrameType
from typing import Any

from infra.readmodel import read_models
from projections.catalogue import all_projections, projections_named
from projections.runner import Progress, ProjectionRunner, RunSummary
from services.ledger import Ledger

EXIT_USAGE = 2


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


SCALE_OUT = ["deadlines", "statistics"]  # read models that replace rows per case


def cmd_project(args: argparse.Namespace) -> int:
    if args.source == "kafka":
        return _kafka_worker(args)
    try:
        projections = projections_named(args.only) if args.only else all_projections()
    except ValueError as error:
        print(f"ledger project: {error}", file=sys.stderr)
        return EXIT_USAGE
    with Ledger() as ledger, read_models(ledger.database_url) as store:
        runner = ProjectionRunner(ledger, store, projections, page_size=args.page_size)
        if args.status:
            return _status(runner, as_json=args.json)
        reporter = _Reporter("rebuild" if args.rebuild else "project", args.quiet)
        summary = runner.rebuild(reporter) if args.rebuild else runner.run(reporter)
        _summary(summary, as_json=args.json)
        if args.follow:
            _follow(runner, args)
    return 0


def _kafka_worker(args: argparse.Namespace) -> int:
    from infra.kafka import KafkaSettings
    from services.kafka_worker import KafkaWorker

    names = args.only or SCALE_OUT
    if set(names) - set(SCALE_OUT):
        print(f"ledger project: over Kafka only {', '.join(SCALE_OUT)} scale out", file=sys.stderr)
        return EXIT_USAGE
    stop = _stop_on_signals()
    with Ledger() as ledger, read_models(ledger.database_url) as store:
        worker = KafkaWorker(ledger, store, projections_named(names), KafkaSettings(), args.group)
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


def _stop_on_signals() -> Event:
    stop = Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return stop


def _status(runner: ProjectionRunner, *, as_json: bool) -> int:
    head = runner.head()
    rows = [
        {"projection": name, "position": pos, "head": head, "behind": head - (pos or 0)}
        for name, pos in runner.positions().items()
    ]
    if as_json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print(
                f"{row['projection']:12}  at {row['position'] or 0:,} of {head:,}  "
                f"({row['behind']:,} notification ids behind)"
            )
    return 0


def _summary(summary: RunSummary, *, as_json: bool) -> None:
    if as_json:
        print(
            json.dumps(
                {
                    "positions": summary.positions,
                    "events": summary.events,
                    "seconds": round(summary.seconds, 3),
                }
            ),
            flush=True,
        )
        return
    rate = summary.events / summary.seconds if summary.seconds > 0 else 0.0
    names = ", ".join(summary.positions)
    position = max((p or 0 for p in summary.positions.values()), default=0)
    print(
        f"{names}: at notification {position:,}; applied {summary.events:,} events "
        f"in {summary.seconds:.2f}s ({rate:,.0f} events/s)",
        flush=True,
    )


def _follow(runner: ProjectionRunner, args: argparse.Namespace) -> None:
    stop = _stop_on_signals()
    print(f"following the log every {args.poll}s; Ctrl-C to stop", file=sys.stderr, flush=True)
    runner.follow(stop, poll_seconds=args.poll, on_run=lambda s: _summary(s, as_json=args.json))
    print("stopped", file=sys.stderr, flush=True)
