"""``ledger migrate``: the side store's schema version, and the steps that bring it up."""

from __future__ import annotations

import argparse

from services.bootstrap import migrate_store
from services.cli.common import Commands, add_json, command, print_json


def register(commands: Commands) -> None:
    p = command(
        commands, "migrate", cmd_migrate,
        help="bring the side store's schema up to this ledger's version",
        description="Every table beside the event store (read models, keys, access log,\n"
        "idempotency keys, audit tree, headcounts, feed status) is listed in\n"
        "services/schema.py and created by numbered migration steps. Every process\n"
        "applies the steps its store lacks when it starts; this command does it on\n"
        "purpose and says which version the store was at and is at now. A store\n"
        "migrated by a newer ledger is refused.",
        examples=["ledger migrate", "ledger migrate --json"],
    )  # fmt: skip
    add_json(p)


def cmd_migrate(args: argparse.Namespace) -> int:
    result = migrate_store()
    if args.json:
        print_json({"before": result.before, "after": result.after,
                    "applied": list(result.applied)})  # fmt: skip
    elif result.applied:
        print(f"side store migrated from version {result.before} to {result.after}: "
              + "; ".join(result.applied))
    else:
        print(f"side store at schema version {result.after}: up to date")
    return 0
