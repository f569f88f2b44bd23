"""``ledger erase``, ``ledger retention`` and ``ledger keys`` (issue 9)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import date
from typing import Any

from domain import events as ev
from domain.retention import RetentionDecision
from infra.keys import MasterKey, MissingKeyError, configured_master_keys, key_file, write_key_file
from infra.readmodel import read_models
from services.erasure import (
    Erasure,
    ErasureError,
    apply_retention,
    erase_employee,
    keys_of,
    retention_review,
)
from services.ledger import Ledger

EXIT_REFUSED, EXIT_USAGE = 1, 2


def add_parsers(commands: Any) -> None:
    p = commands.add_parser(
        "erase",
        help="forget an employee: destroy their keys (crypto-shredding)",
        description="Record PersonalDataErased in every file of the employee, then destroy "
        "the files' keys. Events stay (ledger verify still passes); the employee id, "
        "free text and medical notes read as erased everywhere. Deadlines and statistics "
        "do not change. Refused (nothing erased) while a file is under legal hold, still "
        "running, or recovered less than 28 days ago (a relapse would continue it).",
    )
    p.add_argument("--employee", required=True, help="the employee id as reported")
    p.add_argument(
        "--reference", required=True,
        help="the request's reference, e.g. AVG-2026-0117 (recorded; no spaces, no names)",
    )  # fmt: skip
    p.add_argument(
        "--ground",
        choices=[g.value for g in ev.ErasureGround],
        default=ev.ErasureGround.ERASURE_REQUEST.value,
        help="legal ground (default: erasure_request, art. 17 AVG)",
    )
    p.add_argument("--by", default="admin", help="who erases (recorded as the actor id)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")

    p = commands.add_parser(
        "retention",
        help="list (and with --apply erase) employees whose retention period ended",
        description="Rules reference section 5: a re-integration file is kept at most two "
        "years after re-integration ends (closed or recovered); a legal hold "
        "(LegalHoldPlaced) keeps it longer. Each file is judged on its own; files are "
        "listed by case id and subject pseudonym, never by employee id. --apply only for "
        "today or an earlier day.",
    )
    p.add_argument("--on", type=date.fromisoformat, help="judge as on this day (default today)")
    p.add_argument("--apply", action="store_true", help="erase every employee that is due")
    p.add_argument("--all", action="store_true", help="also list those not yet due")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = commands.add_parser(
        "keys",
        help="master-key status and rotation",
        description="status: which master keys wrap the stored keys. rotate: re-wrap every "
        "data key under the first configured master key (events are not touched); with "
        "--new, a new master key is generated and put first in the key file (running "
        "processes read the changed file). retire: once `status` shows only the new key "
        "in use, drop the older keys from the key file.",
    )
    p.add_argument("action", choices=["status", "rotate", "retire"])
    p.add_argument("--new", action="store_true", help="rotate: generate a new master key first")
    p.add_argument("--json", action="store_true", help="print JSON")


def cmd_erase(args: argparse.Namespace) -> int:
    actor = ev.Actor(role=ev.ActorRole.SYSTEM, id=args.by)
    with Ledger() as ledger:
        try:
            done = erase_employee(
                ledger,
                args.employee,
                ground=ev.ErasureGround(args.ground),
                reference=args.reference,
                actor=actor,
            )
        except ErasureError as error:
            print(f"ledger erase: {error}", file=sys.stderr)
            return EXIT_REFUSED
    if args.json:
        print(json.dumps(_erasure_json(done)))
    else:
        print(
            f"erased subject {done.subject_id}: {len(done.cases)} file(s), "
            f"{done.events_recorded} PersonalDataErased event(s), "
            f"keys of {done.keys_destroyed} file(s) destroyed"
        )
    return 0


def _erasure_json(done: Erasure) -> dict[str, Any]:
    return {
        "subject_id": str(done.subject_id) if done.subject_id else None,
        "cases": [str(c) for c in done.cases],
        "events_recorded": done.events_recorded,
        "keys_destroyed": done.keys_destroyed,
    }


def cmd_retention(args: argparse.Namespace) -> int:
    on = args.on or date.today()
    with Ledger() as ledger, read_models(ledger.database_url) as store:
        judged = list(retention_review(ledger, store, on))
        due = [s for s in judged if s.erasable]
        shown = judged if args.all else due
        erased: list[Erasure] = []
        if args.apply and due:
            try:
                erased = apply_retention(ledger, due, on, progress=_progress)
            except ErasureError as error:
                print(f"ledger retention: {error}", file=sys.stderr)
                return EXIT_REFUSED
    if args.json:
        print(json.dumps({
            "on": on.isoformat(),
            "files": len(judged),
            "due": len(due),
            "erased": [_erasure_json(e) for e in erased],
            "listed": [_retention_json(s) for s in shown],
        }, indent=2))  # fmt: skip
        return 0
    for decision in shown:
        print(_retention_line(decision))
    verb = "erased" if args.apply else "due (run with --apply to erase)"
    print(f"{len(due)} of {len(judged)} files {verb} on {on}", file=sys.stderr)
    return 0


def _progress(done: int, total: int) -> None:
    if done == total or done % 100 == 0:
        print(f"  erased {done}/{total}", file=sys.stderr, flush=True)


def _retention_json(decision: RetentionDecision) -> dict[str, Any]:
    file = asdict(decision.file)
    file["ended_on"] = decision.file.ended_on.isoformat() if decision.file.ended_on else None
    until = decision.retention_ends_on
    return {
        **file,
        "erasable": decision.erasable,
        "retention_ends_on": until.isoformat() if until else None,
        "blocked_by": decision.blocked_by,
    }


def _retention_line(decision: RetentionDecision) -> str:
    state = "due" if decision.erasable else f"kept ({decision.blocked_by})"
    until = decision.retention_ends_on or "-"
    file = decision.file
    return f"case {file.case_id}  subject {file.subject_id}  {state}  retention ends {until}"


def cmd_keys(args: argparse.Namespace) -> int:
    try:
        if args.action == "rotate" and args.new:
            _prepend_new_key()
        with Ledger() as ledger:
            keys = keys_of(ledger)
            if args.action == "rotate":
                moved = keys.rotate(keys.current)
                print(f"re-wrapped {moved} key row(s) under master key {keys.current.id}",
                      file=sys.stderr)  # fmt: skip
            if args.action == "retire":
                in_use = keys.master_key_ids_in_use()
                if in_use != [keys.current.id]:
                    raise MissingKeyError(
                        f"stored keys are still wrapped by {', '.join(in_use)}: run `ledger "
                        "keys rotate` again (a process may still have wrapped with the old key)"
                    )
                _retire_old_keys(keys.current)
                keys.masters = [keys.current]
            status = {
                "configured": [m.id for m in keys.masters],
                "current": keys.current.id,
                "in_use": keys.master_key_ids_in_use(),
            }
    except (MissingKeyError, ErasureError) as error:
        print(f"ledger keys: {error}", file=sys.stderr)
        return EXIT_REFUSED
    if args.json:
        print(json.dumps(status))
    else:
        listed = ", ".join(status["configured"])
        wrapping = ", ".join(status["in_use"]) or "none"
        print(f"current master key {status['current']}; configured {listed}; "
              f"wrapping stored keys: {wrapping}")  # fmt: skip
    return 0


def _file_keys_only() -> list[MasterKey]:
    import os

    if os.environ.get("LEDGER_MASTER_KEY"):
        raise MissingKeyError(
            "LEDGER_MASTER_KEY is set, so the key file is not used: put the new key first in "
            "LEDGER_MASTER_KEY (new,old) and run `ledger keys rotate` without --new/--retire"
        )
    return configured_master_keys()


def _prepend_new_key() -> None:
    keys = _file_keys_only()
    new = MasterKey.generate()
    path = write_key_file([new, *keys])
    print(f"new master key {new.id} written first in {path}", file=sys.stderr)


def _retire_old_keys(current: MasterKey) -> None:
    _file_keys_only()
    path = write_key_file([current])
    print(f"older master keys removed from {path or key_file()}", file=sys.stderr)
