"""``ledger checkpoint``, ``ledger verify`` and ``ledger proof``."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from threading import Event
from uuid import UUID

from services.application import audit
from services.application.errors import (
    CheckpointClashError,
    MissingSigningKeyError,
    WitnessError,
)
from services.application.review_pack import review_pack, write_pack
from services.cli.common import EXIT_USAGE, Commands, add_json, command, runtime, stop_on_signals

EXIT_BROKEN = 1


def register(commands: Commands) -> None:
    p = command(
        commands, "checkpoint", cmd_checkpoint,
        help="add new events to the verifiable log and sign its head",
        description="Add every new event to the Merkle tree (RFC 9162 style) and sign a\n"
        "checkpoint (Ed25519: origin, tree size, root, time). Every checkpoint is kept.\n"
        "Key: LEDGER_SIGNING_KEY (hex seed) or a development key file.",
        examples=["ledger checkpoint --json", "ledger checkpoint --every 300"],
    )  # fmt: skip
    add_json(p)
    p.add_argument("--every", type=float, metavar="SECONDS", help="keep signing at this interval")
    p.add_argument("--witness", type=Path, action="append", default=[], metavar="FILE",
                   help="also append the checkpoint to this witness file (a reviewer's "
                   "copy); LEDGER_WITNESS_FILE (.ledger-witness.jsonl) always gets it")  # fmt: skip

    p = command(
        commands, "verify", cmd_verify,
        help="check that nothing stored was changed, removed, inserted or reordered",
        description="Recompute the tree from every stored event; compare with the recorded\n"
        "leaves and every signed checkpoint. On failure name the first position that\n"
        "does not match and what it looks like (modified, missing, inserted, reordered).\n"
        "Exit code 0 only when intact.",
        examples=["ledger verify --json",
                  "ledger verify --public-key 597f...36 --expect 12:8721acb2...ab5"],
    )  # fmt: skip
    add_json(p)
    p.add_argument("--public-key", metavar="HEX", help="the signer to pin (no private key needed)")
    p.add_argument("--expect", nargs="+", metavar="SEQ:ROOT",
                   help="checkpoints published elsewhere, which must still be here")  # fmt: skip
    p.add_argument("--witness", type=Path, action="append", default=[], metavar="FILE",
                   help="a witness file (ledger checkpoint --witness): each checkpoint in it "
                   "must still be here; LEDGER_WITNESS_FILE is always read")  # fmt: skip

    p = command(
        commands, "proof", cmd_proof,
        help="write a proof bundle for a reviewer",
        description="--case: a case's events with their inclusion proofs and the signed\n"
        "checkpoint. --consistency N M: proof that checkpoint N is a prefix of M.\n"
        "Reviewers check bundles with services/tools/verify_bundle.py (no ledger needed).",
        examples=["ledger proof --case 5b1c...e2 --out case.json",
                  "ledger proof --consistency 1 2 --out consistency.json"],
    )  # fmt: skip
    p.add_argument("--case", type=UUID, metavar="ID")
    p.add_argument("--checkpoint", type=int, metavar="N", help="default: the latest")
    p.add_argument("--consistency", type=int, nargs=2, metavar=("N", "M"))
    p.add_argument("--out", metavar="FILE")

    p = command(
        commands, "review-pack", cmd_review_pack,
        help="the reviewer's pack of a case (RIV review)",
        description="Write review-pack.html and review-pack.json (and proof.json when a\n"
        "checkpoint covers the case) in the order a UWV reviewer checks: documents\n"
        "present or missing, each with its date and whether on time; second track;\n"
        "expert opinions; sanctions and suspensions; corrections with who and why.",
        examples=["ledger checkpoint && ledger review-pack --case 5b1c...e2 --out pack/"],
    )  # fmt: skip
    p.add_argument("--case", type=UUID, required=True, metavar="ID")
    p.add_argument("--out", type=Path, required=True, metavar="DIR")
    p.add_argument("--on", type=date.fromisoformat, help="as of (default today)")


def cmd_checkpoint(args: argparse.Namespace) -> int:
    stop = stop_on_signals() if args.every else Event()
    with runtime() as rt:
        while True:
            try:
                cp = audit.checkpoint(rt, args.witness)
            except CheckpointClashError as clash:
                print(f"ledger checkpoint: {clash}", file=sys.stderr)
                if not args.every:
                    return EXIT_BROKEN
                if stop.wait(args.every):  # keep the periodic job alive: next tick
                    return 0
                continue
            if args.json:
                print(json.dumps(cp), flush=True)
            else:
                print(f"checkpoint {cp['seq']}: {cp['tree_size']:,} events, root {cp['root']}, "
                      f"signed at {cp['at']} by {cp['key']}", flush=True)  # fmt: skip
            if not args.every or stop.wait(args.every):
                return 0


def cmd_verify(args: argparse.Namespace) -> int:
    expect = []
    for text in args.expect or []:
        seq, _, root = text.partition(":")
        if not seq.isdigit() or len(root) != 64:
            print(f"ledger verify: --expect {text!r}: write SEQ:ROOT (64 hex)", file=sys.stderr)
            return EXIT_USAGE
        expect.append((int(seq), root.lower()))
    with runtime() as rt:
        try:
            report = audit.verify(rt, args.public_key, expect, args.witness)
        except (MissingSigningKeyError, WitnessError) as missing:
            print(f"ledger verify: {missing}", file=sys.stderr)
            return EXIT_USAGE
    if args.json:
        summary = {"intact": report.intact, "events": report.events,
                   "checkpoints": report.checkpoints, "problems": report.problems}  # fmt: skip
        print(json.dumps(summary))
    elif report.intact:
        print(f"intact: {report.events:,} events, {report.checkpoints} checkpoint(s) verified")
    else:
        for problem in report.problems:
            print(f"ledger verify: {problem}", file=sys.stderr)
    return 0 if report.intact else EXIT_BROKEN


def cmd_proof(args: argparse.Namespace) -> int:
    with runtime() as rt:
        try:
            if args.consistency:
                bundle = audit.consistency_proof(rt, *args.consistency)
            elif args.case:
                bundle = audit.case_proof(rt, args.case, args.checkpoint)
            else:
                print("ledger proof: give --case ID or --consistency N M", file=sys.stderr)
                return EXIT_USAGE
        except (LookupError, ValueError) as error:
            print(f"ledger proof: {error}", file=sys.stderr)
            return EXIT_USAGE
    text = json.dumps(bundle, indent=2)
    if args.out:
        Path(args.out).write_text(text)
        key = (bundle.get("checkpoint") or bundle["second"])["key"]
        print(f"wrote {args.out}; check it with: python services/tools/verify_bundle.py {args.out} "
              f"--public-key <the ledger's public key; this bundle names {key}>")  # fmt: skip
    else:
        print(text)
    return 0


def cmd_review_pack(args: argparse.Namespace) -> int:
    with runtime() as rt:
        pack = review_pack(rt.ledger, rt.store, args.case, args.on or date.today())
    for path in write_pack(pack, args.out):
        print(f"wrote {path}")
    missing = pack["review"]["missing_documents"]
    print("documents complete" if not missing else f"missing documents: {', '.join(missing)}")
    return 0
