"""The ``ledger`` command line: one module per command group, each registering its
commands (``register``); this module builds the parser and maps errors to exit codes.

Exit codes: 0 done; 1 input refused (nothing stored); 2 wrong usage;
3 unknown case; 4 the store cannot be reached or is misconfigured.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from eventsourcing.persistence import PersistenceError

from services.application import errors
from services.cli import (
    audit,
    backup,
    cases,
    feed,
    operations,
    privacy,
    project,
    records,
    serve,
    stats,
    store,
    tools,
)
from services.cli.common import (
    EXIT_REFUSED,
    EXIT_STORE,
    EXIT_UNKNOWN,
    EXIT_USAGE,
    Formatter,
    Handler,
)

DESCRIPTION = """\
The re-integration ledger: an event-sourced record of Dutch sickness-absence
cases under the Wet verbetering poortwachter.

The store is chosen by LEDGER_DATABASE_URL (default sqlite:///ledger.db in the
working directory; for PostgreSQL: postgresql://postgres@127.0.0.1:5432/ledger).
"""
# In the order ``ledger --help`` lists them.
GROUPS = (records, backup, cases, project, serve, stats, feed, audit, privacy, tools, store,
          operations)  # fmt: skip
# (error, exit code, a hint after the message); the first that matches applies.
EXIT_CODES: tuple[tuple[type[BaseException], int, str], ...] = (
    (errors.ConfigurationError, EXIT_STORE, ""),
    (errors.SchemaTooNewError, EXIT_STORE, ""),
    (PersistenceError, EXIT_STORE,
     "\nCheck LEDGER_DATABASE_URL and that the database server is running."),
    (errors.UnknownCaseError, EXIT_UNKNOWN, ""),
    (errors.RuleViolation, EXIT_REFUSED, ""),
    (errors.Forbidden, EXIT_REFUSED, ""),
    (errors.DuplicateEventError, EXIT_REFUSED, ""),
    (errors.VersionConflictError, EXIT_REFUSED, ""),
    (errors.CaseOwnerError, EXIT_REFUSED, ""),
    (errors.FileAlreadyOpenError, EXIT_REFUSED, ""),
    (errors.UnreadableFileError, EXIT_REFUSED, ""),
    (errors.BackupRejectedError, EXIT_REFUSED, ""),
    (errors.StoreNotEmptyError, EXIT_REFUSED, ""),
    (errors.MissingHeadcount, EXIT_USAGE, ""),
    (errors.InvalidRequest, EXIT_USAGE, ""),
)  # fmt: skip


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="ledger", description=DESCRIPTION, formatter_class=Formatter)
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(commands)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    handler: Handler = args.run
    try:
        return handler(args)
    except BrokenPipeError:  # the reader went away (``ledger export | head``): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as error:
        for kind, code, hint in EXIT_CODES:
            if isinstance(error, kind):
                print(f"ledger {args.command}: {_said(error)}{hint}", file=sys.stderr)
                return code
        raise


def _said(error: BaseException) -> str:
    """The message, with each field and rule of an application error on its own line."""
    if isinstance(error, PersistenceError):
        return f"the store cannot be reached: {error}"
    issues = getattr(error, "issues", [])
    lines = [str(error)]
    lines += [f"  {i.field}: {i.message}" + (f" [rule {i.rule}]" if i.rule else "")
              for i in issues if i.message not in lines[0]]  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
