"""``ledger checkpoint``, ``ledger verify`` and ``ledger proof``."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from datetime import date
from pathlib import Path
from threading import Event

from infra.audit import AuditLog, CheckpointClashError, MissingKeyError, signing_key
from infra.readmodel import read_models
from services.ledger import Ledger
from services.review_pack import review_pack, write_pack

EXIT_BROKEN, EXIT_USAGE = 1, 2


def cmd_checkpoint(args: argparse.Namespace) -> int:
    stop = Event()
    if args.every:
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
    with Ledger() as ledger, read_models(ledger.database_url) as store:
        audit = AuditLog(ledger.recorder, store, signing_key(create=True))
        while True:
            try:
                cp = audit.checkpoint()
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
    with Ledger() as ledger, read_models(ledger.database_url) as store:
        try:
            key = None if args.public_key else signing_key()
            report = AuditLog(ledger.recorder, store, key).verify(args.public_key, expect)
        except MissingKeyError as missing:
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
    with Ledger() as ledger, read_models(ledger.database_url) as store:
        audit = AuditLog(ledger.recorder, store)
        try:
            if args.consistency:
                bundle = audit.consistency_bundle(*args.consistency)
            elif args.case:
                bundle = audit.case_bundle(args.case, args.checkpoint)
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
        print(f"wrote {args.out}; check it with: python services/verify_bundle.py {args.out} "
              f"--public-key <the ledger's public key; this bundle names {key}>")  # fmt: skip
    else:
        print(text)
    return 0


def cmd_review_pack(args: argparse.Namespace) -> int:
    with Ledger() as ledger, read_models(ledger.database_url) as store:
        pack = review_pack(ledger, store, args.case, args.on or date.today())
    for path in write_pack(pack, args.out):
        print(f"wrote {path}")
    missing = pack["review"]["missing_documents"]
    print("documents complete" if not missing else f"missing documents: {', '.join(missing)}")
    return 0
