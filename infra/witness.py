"""Checkpoints witnessed outside the database: append-only JSON Lines files.

A checkpoint kept only in the database proves nothing once someone deletes it with the
rows it covers. Each ``ledger checkpoint`` therefore appends the checkpoint it signed to
the witness file (``LEDGER_WITNESS_FILE``, default ``.ledger-witness.jsonl``) and to any
file a reviewer keeps (``--witness``); ``ledger verify`` requires every checkpoint a
witness holds to be in the store with the same root, and appends the latest checkpoint
it verified, so that it too remembers what it has seen. A witness line holds no personal
data: sequence, tree size, root, time, signer and signature.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DEFAULT_WITNESS_FILE = ".ledger-witness.jsonl"
FIELDS = ("seq", "tree_size", "root", "at", "key", "signature")


class WitnessError(ValueError):
    """A witness file that cannot be read as checkpoints."""


def witness_files(extra: Sequence[Path] = ()) -> list[Path]:
    """The configured witness and the ones named on the command line, each once."""
    configured = Path(os.environ.get("LEDGER_WITNESS_FILE", DEFAULT_WITNESS_FILE))
    return list(dict.fromkeys([configured, *extra]))


def witnessed(path: Path) -> list[dict[str, Any]]:
    """The checkpoints a witness file holds (none when it does not exist yet)."""
    if not path.exists():
        return []
    found = []
    for number, text in enumerate(path.read_text().splitlines(), start=1):
        if not text.strip():
            continue
        try:
            entry = json.loads(text)
            found.append({**entry, "seq": int(entry["seq"]), "root": str(entry["root"]).lower()})
        except (ValueError, KeyError, TypeError) as error:
            msg = f"{path}: line {number} is not a witnessed checkpoint ({error})"
            raise WitnessError(msg) from None
    return found


def witness(path: Path, checkpoint: dict[str, Any]) -> bool:
    """Append ``checkpoint`` unless the file holds it already; whether it was appended."""
    if any(w["seq"] == checkpoint["seq"] and w["root"] == checkpoint["root"]
           for w in witnessed(path)):  # fmt: skip
        return False
    line = json.dumps({name: checkpoint[name] for name in FIELDS}) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as file:
        file.write(line)
        file.flush()
        os.fsync(file.fileno())
    return True


def expected_roots(paths: Sequence[Path]) -> list[tuple[int, str]]:
    """Every (seq, root) the witnesses hold, each once."""
    return list(dict.fromkeys((w["seq"], w["root"]) for p in paths for w in witnessed(p)))
