"""``ledger erase``, ``ledger retention`` and ``ledger keys`` (issue 9)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

from domain import events as ev
from domain.retention import RetentionDecision
from services.api.auth import signing_key as jwt_signing_key
from services.application import keys as key_management
from services.application.erasure import (
    Erasure,
    ErasureError,
    apply_retention,
    erase_employee,
    retention_review,
)
from services.application.errors import MissingKeyError
from services.cli.common import EXIT_REFUSED, Commands, add_json, command, runtime


def register(commands: Commands) -> None:
    p = command(
        commands, "erase", cmd_erase,
        help="forget an employee: destroy their keys (crypto-shredding)",
        description="Record PersonalDataErased in every file of the employee at the employer\n"
        "(an employee id names someone only at its employer), then destroy\n"
        "the files' keys. Events stay (ledger verify still passes); the employee id,\n"
        "free text and medical notes read as erased everywhere. Deadlines and statistics\n"
        "do not change. Refused (nothing erased) while a file is under legal hold, still\n"
        "running, or recovered less than 28 days ago (a relapse would continue it).",
        examples=["ledger erase --employee EMP-1042 --employer ER-12 --reference AVG-2026-0117",
                  "ledger erase --employee EMP-7 --employer ER-3 --reference RET-2026 "
                  "--ground retention_ended --json"],
    )  # fmt: skip
    p.add_argument("--employee", required=True, help="the employee id as reported")
    p.add_argument("--employer", required=True, help="the employer id the employee was reported by")
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
    add_json(p, "print the result as JSON")

    p = command(
        commands, "retention", cmd_retention,
        help="list (and with --apply erase) employees whose retention period ended",
        description="Rules reference section 5: a re-integration file is kept at most two\n"
        "years after re-integration ends (closed or recovered); a legal hold\n"
        "(LegalHoldPlaced) keeps it longer. Each file is judged on its own; files are\n"
        "listed by case id and subject pseudonym, never by employee id. --apply only for\n"
        "today or an earlier day.",
        examples=["ledger retention --all", "ledger retention --apply --json"],
    )  # fmt: skip
    p.add_argument("--on", type=date.fromisoformat, help="judge as on this day (default today)")
    p.add_argument("--apply", action="store_true", help="erase every employee that is due")
    p.add_argument("--all", action="store_true", help="also list those not yet due")
    add_json(p)

    p = command(
        commands, "keys", cmd_keys,
        help="master-key status and rotation",
        description="status: which master keys wrap the stored keys. rotate: re-wrap every\n"
        "data key under the first configured master key (events are not touched); with\n"
        "--new, a new master key is generated and put first in the key file (running\n"
        "processes read the changed file). retire: once `status` shows only the new key\n"
        "in use, drop the older keys from the key file. init: create every key file\n"
        "that is missing (master, signing, token, pseudonym; a deployment's key volume),\n"
        "touching none that exists and printing no key.",
        examples=["ledger keys init", "ledger keys status", "ledger keys rotate --new",
                  "ledger keys retire"],
    )  # fmt: skip
    p.add_argument("action", choices=["init", "status", "rotate", "retire"])
    p.add_argument("--new", action="store_true", help="rotate: generate a new master key first")
    add_json(p)


def cmd_erase(args: argparse.Namespace) -> int:
    actor = ev.Actor(role=ev.ActorRole.SYSTEM, id=args.by)
    with runtime() as rt:
        try:
            done = erase_employee(
                rt.ledger,
                args.employee,
                employer_id=args.employer,
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
    if done.copies_open_until_retired:
        print(
            "older copies (PostgreSQL WAL, base backups, `ledger export --backup`) still hold "
            f"the destroyed keys wrapped by master key {', '.join(done.copies_open_until_retired)}"
            ": run `ledger keys rotate --new`, then `ledger keys retire`, to make them unreadable",
            file=sys.stderr,
        )
    return 0


def _erasure_json(done: Erasure) -> dict[str, Any]:
    return {
        "subject_id": str(done.subject_id) if done.subject_id else None,
        "cases": [str(c) for c in done.cases],
        "events_recorded": done.events_recorded,
        "keys_destroyed": done.keys_destroyed,
        "copies_open_until_retired": list(done.copies_open_until_retired),
    }


def cmd_retention(args: argparse.Namespace) -> int:
    on = args.on or date.today()
    with runtime() as rt:
        judged = list(retention_review(rt.ledger, rt.store, on))
        due = [s for s in judged if s.erasable]
        shown = judged if args.all else due
        erased: list[Erasure] = []
        if args.apply and due:
            try:
                erased = apply_retention(rt.ledger, due, on, progress=_progress)
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
    if args.action == "init":
        return _init_keys(as_json=args.json)
    try:
        if args.action == "rotate" and args.new:
            new, path = key_management.add_master_key()
            print(f"new master key {new.id} written first in {path}", file=sys.stderr)
        with runtime() as rt:
            if args.action == "rotate":
                moved = key_management.rotate(rt)
                current = key_management.status(rt).current
                print(f"re-wrapped {moved} key row(s) under master key {current}",
                      file=sys.stderr)  # fmt: skip
            if args.action == "retire":
                path = key_management.retire(rt)
                print(f"older master keys removed from {path}", file=sys.stderr)
            status = key_management.status(rt)
    except (MissingKeyError, ErasureError) as error:
        print(f"ledger keys: {error}", file=sys.stderr)
        return EXIT_REFUSED
    if args.json:
        print(json.dumps(asdict(status)))
    else:
        listed = ", ".join(status.configured)
        wrapping = ", ".join(status.in_use) or "none"
        print(f"current master key {status.current}; configured {listed}; "
              f"wrapping stored keys: {wrapping}")  # fmt: skip
    return 0


def _init_keys(*, as_json: bool) -> int:
    created = key_management.init_key_files()
    if not os.environ.get("LEDGER_JWT_KEY"):
        path = Path(os.environ.get("LEDGER_JWT_KEY_FILE", ".ledger-jwt.key"))
        created["token"] = not path.exists()
        jwt_signing_key()  # creates the file when missing
    if as_json:
        print(json.dumps(created))
        return 0
    for name, made in created.items():
        print(f"{name} key: {'created' if made else 'kept (it exists)'}")
    return 0
