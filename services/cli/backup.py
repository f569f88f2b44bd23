"""``ledger restore`` and the backup that ``ledger export --backup`` writes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from services.application import backup
from services.bootstrap import Runtime
from services.cli.common import EXIT_USAGE, Commands, add_json, command, print_json, runtime


def register(commands: Commands) -> None:
    p = command(
        commands, "restore", cmd_restore,
        help="restore a backup (ledger export --backup) into an empty store",
        description="Check the whole backup first (its trailer counts and hashes every\n"
        "line), then write the stored events with their notification ids and the kept\n"
        "side-store tables into the empty store of LEDGER_DATABASE_URL, and rebuild the\n"
        "read models. Refused, writing nothing, when the store holds events or the file\n"
        "is cut short or altered. Use the master key of the ledger that made it.",
        examples=["LEDGER_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/restored "
                  "ledger restore ledger-2026-12-02.backup"],
    )  # fmt: skip
    p.add_argument("file", type=Path, help="the backup file")
    add_json(p)


def export_backup(rt: Runtime, args: argparse.Namespace) -> int:
    """``ledger export --backup``: the whole ledger, to standard output."""
    if args.case:
        print("ledger export: --backup is of the whole ledger, not of one case", file=sys.stderr)
        return EXIT_USAGE
    done = backup.write(rt, sys.stdout, lambda n: print(f"backup: {n:,} events", file=sys.stderr))
    print(f"backup: {done.events:,} events and {done.rows:,} rows", file=sys.stderr)
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    with runtime() as rt:
        done = backup.restore(rt, args.file)
    if args.json:
        print_json({"events": done.events, "rows": done.rows})
    else:
        print(f"restored {done.events:,} events and {done.rows:,} rows of the kept tables; "
              "read models rebuilt")  # fmt: skip
    return 0
