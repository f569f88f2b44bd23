"""What every ``ledger`` command shares: how it is declared, the argument types, the
exit codes, the runtime it works on, and stopping on a signal."""

from __future__ import annotations

import argparse
import json
import os
import signal
from collections.abc import Callable
from datetime import datetime
from threading import Event
from types import FrameType
from typing import Any

from services.bootstrap import Runtime, bootstrap

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_UNKNOWN, EXIT_STORE = 0, 1, 2, 3, 4
Handler = Callable[[argparse.Namespace], int]
Commands = Any  # argparse's sub-parsers action (a private class)


class Formatter(argparse.RawDescriptionHelpFormatter):
    pass


def command(
    commands: Commands, name: str, run: Handler, *, help: str, description: str,
    examples: list[str],
) -> argparse.ArgumentParser:  # fmt: skip
    """Declare a command: its help, its description, its examples and its handler."""
    heading = "example:" if len(examples) == 1 else "examples:"
    parser: argparse.ArgumentParser = commands.add_parser(
        name, formatter_class=Formatter, help=help, description=description,
        epilog="\n  ".join([heading, *examples]),
    )  # fmt: skip
    parser.set_defaults(run=run)
    return parser


def aware_datetime(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        msg = f"{text!r} has no UTC offset; write e.g. {text}+01:00 or {text}Z"
        raise argparse.ArgumentTypeError(msg)
    return value


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def worker_count(text: str) -> int:
    """``--workers``: a number of processes, or ``auto`` for one per core."""
    if text == "auto":
        return os.cpu_count() or 1
    try:
        count = int(text)
    except ValueError:
        count = 0
    if not 1 <= count <= 64:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of processes, 1 to 64, or auto")
    return count


def add_json(parser: argparse.ArgumentParser, what: str = "print JSON") -> None:
    parser.add_argument("--json", action="store_true", help=what)


def runtime() -> Runtime:
    """The ledger of ``LEDGER_DATABASE_URL`` with its side store (one pool)."""
    return bootstrap()


def print_json(value: Any, *, indent: int | None = 2) -> None:
    print(json.dumps(value, indent=indent), flush=True)


def stop_on_signals() -> Event:
    """An event set by SIGTERM or SIGINT (Ctrl-C): long-running commands stop cleanly."""
    stop = Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return stop
