"""``ledger schedule`` and ``ledger health``: what a deployment runs beside the server."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from datetime import date
from pathlib import Path
from typing import Any

from services.bootstrap import configure_logging, heartbeat_age
from services.cli.common import (
    EXIT_USAGE,
    Commands,
    add_json,
    command,
    print_json,
    runtime,
    stop_on_signals,
)

EXIT_UNHEALTHY = 1


def register(commands: Commands) -> None:
    p = command(
        commands, "schedule", cmd_schedule,
        help="run the periodic jobs (checkpoints, retention, reminders) at their times",
        description="Run each job at its times: every:SECONDS, or daily:HH:MM in\n"
        "LEDGER_TIMEZONE (default Europe/Amsterdam). Defaults: checkpoint=every:300,\n"
        "retention=daily:02:30 (erases the files whose retention period ended),\n"
        "signals=every:900 (ledger signals --once). Each time\n"
        "slot is claimed in the store before it runs: a restart or a second scheduler\n"
        "never runs it twice; after a pause the latest missed slot runs once.",
        examples=["ledger schedule", "ledger schedule --job checkpoint=every:60",
                  "ledger schedule --once --json", "ledger schedule --status"],
    )  # fmt: skip
    p.add_argument("--job", action="append", default=[], metavar="NAME=TIMING",
                   help="a job's timing (checkpoint, retention, signals)")  # fmt: skip
    p.add_argument("--once", action="store_true", help="run what is due now, then stop")
    p.add_argument("--status", action="store_true", help="show the latest runs, run nothing")
    p.add_argument("--tick", type=float, default=5.0, help="seconds between looks (default 5)")
    add_json(p)

    p = command(
        commands, "signals", cmd_signals,
        help="send reminders before deadlines and when overdue (e-mail, webhook)",
        description="Remind each responsible party of a deadline (domain/signals.py: who, and\n"
        "how many days before) and again once it is overdue, and send each case manager a\n"
        "daily digest. E-mail over SMTP (LEDGER_SMTP=host:port, LEDGER_SMTP_FROM), a JSON\n"
        "webhook when LEDGER_SIGNALS_WEBHOOK is set; addresses from LEDGER_SIGNALS_CONTACTS\n"
        "(JSON: \"case_manager:cm-1\": \"...\", \"employer:ER00001\": \"...\"). Every reminder is\n"
        "recorded: a restart sends none again and forgets none. No reminder names the\n"
        "employee or holds medical data. `ledger schedule` runs it too (job signals).",
        examples=["LEDGER_SMTP=127.0.0.1:25 ledger signals --once",
                  "ledger signals --every 300", "ledger signals --status --json"],
    )  # fmt: skip
    p.add_argument("--once", action="store_true", help="send what is due now, then stop")
    p.add_argument("--every", type=float, default=300.0, help="seconds between rounds")
    p.add_argument("--on", type=date.fromisoformat, help="--once as on this day (default today)")
    p.add_argument("--status", action="store_true", help="list the latest reminders")
    p.add_argument("--takeover", type=float, default=60.0, metavar="SECONDS",
                   help="take over a reminder a dead worker claimed after this long")  # fmt: skip
    add_json(p)

    p = command(
        commands, "health", cmd_health,
        help="a health check for containers: a server's URL or a worker's heartbeat",
        description="Exit 0 when healthy, 1 when not (with the reason on stderr). --url asks\n"
        "a server (its /health or /ready). --heartbeat reads the file a worker touches\n"
        "after every healthy step (LEDGER_HEARTBEAT_FILE of `ledger feed --follow`,\n"
        "`ledger project --follow`, `--source kafka` and `ledger schedule`).",
        examples=["ledger health --url http://127.0.0.1:8000/ready",
                  "ledger health --heartbeat /tmp/ledger.alive --within 60"],
    )  # fmt: skip
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="GET this URL; healthy on a 2xx answer")
    target.add_argument("--heartbeat", type=Path, metavar="FILE", help="a worker's heartbeat")
    p.add_argument("--within", type=float, default=60.0,
                   help="seconds a heartbeat may be old (default 60)")  # fmt: skip


def cmd_schedule(args: argparse.Namespace) -> int:
    with runtime() as rt:
        scheduler = rt.scheduler(args.job)
        if args.status:
            _print_runs(scheduler.recent(), as_json=args.json)
            return 0
        if args.once:
            _print_runs(scheduler.tick(), as_json=args.json)
            return 0
        configure_logging()
        print(f"ledger schedule: {', '.join(scheduler.jobs)}; Ctrl-C stops", file=sys.stderr,
              flush=True)  # fmt: skip
        scheduler.run(stop_on_signals(), args.tick)
    return 0


def cmd_signals(args: argparse.Namespace) -> int:
    with runtime() as rt:
        sender = rt.signal_sender(takeover_seconds=args.takeover)
        if args.status:
            rows = sender.recent()
            if args.json:
                print_json(rows)
            for row in [] if args.json else rows:
                print(f"{row['sent_at'] or '-':25}  {row['status']:10}  {row['reminder_key']}")
            return 0
        if not sender.mail.smtp:
            print("ledger signals: no mail server: set LEDGER_SMTP=host:port (and "
                  "LEDGER_SIGNALS_CONTACTS, the addresses)", file=sys.stderr)  # fmt: skip
            return EXIT_USAGE
        if args.once:
            outcomes = sender.run_once(args.on)
            if args.json:
                print_json([vars(o) for o in outcomes if o.status != "skipped"])
            else:
                print(sender.summary(outcomes))
            return 0
        configure_logging()
        print(f"ledger signals: a round every {args.every:g}s; Ctrl-C stops", file=sys.stderr,
              flush=True)  # fmt: skip
        sender.rounds(stop_on_signals(), args.every,
                      lambda found: print(sender.summary(found), flush=True))  # fmt: skip
    return 0


def _print_runs(runs: list[dict[str, Any]], *, as_json: bool) -> None:
    if as_json:
        print_json(runs)
        return
    if not runs:
        print("nothing ran (no slot was due that had not run)")
    for run in runs:
        print(f"{run['slot']}  {run['job']:10}  {run['outcome']:7}  {run['detail']}")


def cmd_health(args: argparse.Namespace) -> int:
    if args.url:
        problem = _url_problem(args.url)
    else:
        problem = _heartbeat_problem(args.heartbeat, args.within)
    if problem is not None:
        print(f"ledger health: {problem}", file=sys.stderr)
        return EXIT_UNHEALTHY
    return 0


def _url_problem(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return None if 200 <= answer.status < 300 else f"{url} answered {answer.status}"
    except urllib.error.HTTPError as error:
        body = error.read(500).decode(errors="replace")
        detail = json.loads(body).get("detail", body) if body.startswith("{") else body
        return f"{url} answered {error.code}: {detail}"
    except OSError as error:
        return f"{url} does not answer: {error}"


def _heartbeat_problem(path: Path, within: float) -> str | None:
    age = heartbeat_age(path)
    if age is None:
        return f"no heartbeat at {path}: the worker has not completed a step yet"
    if age > within:
        return f"the last heartbeat at {path} is {age:.0f} s old (bound {within:g} s)"
    return None
