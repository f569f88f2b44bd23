"""Master-key management (issue 9): which keys wrap the stored keys, rotation, and
retiring the old ones once nothing is wrapped by them."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from infra.audit import signing_key as audit_signing_key
from infra.kafka import pseudonym_key
from infra.keys import MasterKey, MissingKeyError, configured_master_keys, key_file, write_key_file
from services.application.context import Context
from services.application.erasure import keys_of


@dataclass(frozen=True)
class KeyStatus:
    configured: list[str]
    current: str
    in_use: list[str]


def status(ctx: Context) -> KeyStatus:
    keys = keys_of(ctx.ledger)
    return KeyStatus([m.id for m in keys.masters], keys.current.id, keys.master_key_ids_in_use())


def _file_keys_only() -> list[MasterKey]:
    if os.environ.get("LEDGER_MASTER_KEY"):
        raise MissingKeyError(
            "LEDGER_MASTER_KEY is set, so the key file is not used: put the new key first in "
            "LEDGER_MASTER_KEY (new,old) and run `ledger keys rotate` without --new/--retire"
        )
    return configured_master_keys()


def init_key_files() -> dict[str, bool]:
    """Create each key file that is configured by file and missing (a deployment's key
    volume, before any process starts, so that no two make their own): which keys were
    created. An existing file is never touched."""
    created = {}
    if not os.environ.get("LEDGER_MASTER_KEY"):
        created["master"] = not key_file().exists()
        if created["master"]:
            write_key_file([MasterKey.generate()])
    if not os.environ.get("LEDGER_SIGNING_KEY"):
        path = Path(os.environ.get("LEDGER_SIGNING_KEY_FILE", ".ledger-signing.key"))
        created["signing"] = not path.exists()
        audit_signing_key(create=True)
    database = os.environ.get("LEDGER_DATABASE_PASSWORD_FILE")
    if database:
        created["database"] = not Path(database).exists()
        if created["database"]:
            Path(database).write_text(secrets.token_urlsafe(32))
            Path(database).chmod(0o600)
    if not os.environ.get("LEDGER_PSEUDONYM_KEY"):
        path = Path(os.environ.get("LEDGER_PSEUDONYM_KEY_FILE", ".ledger-pseudonym.key"))
        created["pseudonym"] = not path.exists()
        pseudonym_key()
    return created


def add_master_key() -> tuple[MasterKey, Path]:
    """A new master key, first in the key file (before the ledger is opened, so that the
    runtime wraps with it); running processes read the changed file."""
    keys = _file_keys_only()
    new = MasterKey.generate()
    return new, write_key_file([new, *keys])


def rotate(ctx: Context) -> int:
    """Re-wrap every data key under the first configured master key; how many rows."""
    keys = keys_of(ctx.ledger)
    return keys.rotate(keys.current)


def retire(ctx: Context) -> Path:
    """Drop the older master keys from the key file, once only the current one wraps."""
    keys = keys_of(ctx.ledger)
    in_use = keys.master_key_ids_in_use()
    if in_use != [keys.current.id]:
        raise MissingKeyError(
            f"stored keys are still wrapped by {', '.join(in_use)}: run `ledger "
            "keys rotate` again (a process may still have wrapped with the old key)"
        )
    _file_keys_only()
    path = write_key_file([keys.current])
    keys.masters = [keys.current]
    return path or key_file()
