"""Per-person envelope encryption and crypto-shredding (issue 9).

Each employee (a *subject*, named by a random UUID) has two data keys: one for
personal fields and one for medical fields. Data keys are stored wrapped by a
master key from configuration; destroying a subject's data keys (``erase``) makes
every stored copy of its protected fields unreadable, while the events, their
hashes in the audit log and every non-personal field stay as they were.

An employee id is found again only through a blind index (an HMAC under a ledger
key), whose row goes with the erasure: afterwards nothing links the employee to
the subject or its files.

Master keys: ``LEDGER_MASTER_KEY`` (hex, comma-separated, newest first) or the
file ``LEDGER_MASTER_KEY_FILE`` (default ``.ledger-master.key``, one hex key per
line, newest first). The newest wraps; every listed key unwraps, which is how a
rotation runs without downtime.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.privacy import Protection
from infra.readmodel import ReadModelStore, Table

SUBJECT_KEY = Table(
    name="subject_key",
    columns=(
        ("subject_id", "text"),
        ("personal", "text"),  # wrapped data keys; NULL once erased
        ("medical", "text"),
        ("master_key_id", "text"),
        ("created_at", "text"),
        ("erased_at", "text"),
    ),
    key=("subject_id",),
    indexes=(("master_key_id",), ("erased_at",)),
)
SUBJECT_INDEX = Table(
    name="subject_index",
    columns=(("blind", "text"), ("subject_id", "text")),
    key=("blind",),
    indexes=(("subject_id",),),
)
CASE_SUBJECT = Table(
    name="case_subject",
    columns=(("case_id", "text"), ("subject_id", "text")),
    key=("case_id",),
    indexes=(("subject_id",),),
)
LEDGER_KEY = Table(
    name="ledger_key",
    columns=(("name", "text"), ("wrapped", "text"), ("master_key_id", "text")),
    key=("name",),
)
KEY_TABLES = (SUBJECT_KEY, SUBJECT_INDEX, CASE_SUBJECT, LEDGER_KEY)
DEFAULT_KEY_FILE = ".ledger-master.key"
_CACHE_SIZE = 50_000


class MissingKeyError(RuntimeError):
    """No master key, or not the one that wrapped the stored keys; the message says which."""


@dataclass(frozen=True)
class MasterKey:
    secret: bytes

    @property
    def id(self) -> str:
        """A fingerprint that names the key in stored rows without revealing it."""
        return hashlib.sha256(b"ledger-master-key:" + self.secret).hexdigest()[:16]

    @classmethod
    def generate(cls) -> MasterKey:
        return cls(secrets.token_bytes(32))

    @classmethod
    def from_hex(cls, text: str) -> MasterKey:
        try:
            secret = bytes.fromhex(text.strip())
        except ValueError:
            raise MissingKeyError("a master key must be 64 hex characters") from None
        if len(secret) != 32:
            raise MissingKeyError("a master key must be 64 hex characters (32 bytes)")
        return cls(secret)


def key_file() -> Path:
    return Path(os.environ.get("LEDGER_MASTER_KEY_FILE", DEFAULT_KEY_FILE))


def configured_master_keys() -> list[MasterKey]:
    """The configured master keys, newest first; empty when none is configured."""
    text = os.environ.get("LEDGER_MASTER_KEY")
    if text:
        return [MasterKey.from_hex(part) for part in text.split(",") if part.strip()]
    path = key_file()
    if not path.exists():
        return []
    return [MasterKey.from_hex(line) for line in path.read_text().splitlines() if line.strip()]


def write_key_file(keys: Sequence[MasterKey], path: Path | None = None) -> Path:
    path = path or key_file()
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(key.secret.hex() + "\n" for key in keys))
    tmp.chmod(0o600)
    tmp.replace(path)
    return path


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _seal(key: bytes, plain: bytes, aad: str) -> str:
    nonce = secrets.token_bytes(12)
    return _b64(nonce + AESGCM(key).encrypt(nonce, plain, aad.encode()))


def _unseal(key: bytes, sealed: str, aad: str) -> bytes:
    raw = base64.b64decode(sealed)
    return AESGCM(key).decrypt(raw[:12], raw[12:], aad.encode())


def is_envelope(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"enc", "subject", "ct"}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_MISSING = object()


class _Lru:
    """A bounded cache that the API's worker threads may share."""

    def __init__(self) -> None:
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            return self._items.get(key, _MISSING)

    def remember(self, key: Any, value: Any) -> Any:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            if len(self._items) > _CACHE_SIZE:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class KeyRing:
    """Data keys of every subject, wrapped by the master key; seals and opens fields."""

    def __init__(self, store: ReadModelStore, masters: Sequence[MasterKey]) -> None:
        self.store = store
        self.masters = list(masters)
        store.create_tables(KEY_TABLES)
        self._keys: _Lru = _Lru()  # (subject, protection) -> data key, or None once erased
        self._cases: _Lru = _Lru()  # case id -> subject
        self._index_key: bytes | None = None
        self._epoch = self._erasure_epoch()

    @classmethod
    def load(cls, store: ReadModelStore) -> KeyRing:
        """The key ring of ``store`` with the configured master keys. On a ledger that has
        no keys yet, a missing key file is created (development); else it is an error."""
        masters = configured_master_keys()
        store.create_tables(KEY_TABLES)
        if not masters:
            if store.query("SELECT 1 AS one FROM {ledger_key} LIMIT 1"):
                raise MissingKeyError(
                    "this ledger's keys are wrapped by a master key that is not configured: "
                    f"set LEDGER_MASTER_KEY or LEDGER_MASTER_KEY_FILE (looked for {key_file()})"
                )
            masters = [MasterKey.generate()]
            write_key_file(masters)
        return cls(store, masters)

    # --- master keys ----------------------------------------------------------

    @property
    def current(self) -> MasterKey:
        return self.masters[0]

    def _master(self, key_id: str) -> MasterKey:
        for master in self.masters:
            if master.id == key_id:
                return master
        known = ", ".join(m.id for m in self.masters)
        raise MissingKeyError(
            f"stored keys are wrapped by master key {key_id}, which is not configured "
            f"(configured: {known}); add it to LEDGER_MASTER_KEY or the key file"
        )

    def _wrap(self, secret: bytes, label: str) -> str:
        return _seal(self.current.secret, secret, label)

    def _unwrap(self, wrapped: str, label: str, master_key_id: str) -> bytes:
        try:
            return _unseal(self._master(master_key_id).secret, wrapped, label)
        except InvalidTag:
            raise MissingKeyError(f"wrapped key {label} does not open: damaged") from None

    # --- subjects ---------------------------------------------------------------

    def index_key(self) -> bytes:
        if self._index_key is None:
            rows = self.store.query(
                "SELECT wrapped, master_key_id FROM {ledger_key} WHERE name = ?", ["blind_index"]
            )
            if not rows:
                self.store.write(
                    "INSERT INTO {ledger_key} (name, wrapped, master_key_id) VALUES (?, ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    ["blind_index", self._wrap(secrets.token_bytes(32), "blind_index"),
                     self.current.id],
                )  # fmt: skip
                return self.index_key()
            row = rows[0]
            self._index_key = self._unwrap(row["wrapped"], "blind_index", row["master_key_id"])
        return self._index_key

    def blind(self, employee_id: str) -> str:
        return hmac.new(self.index_key(), employee_id.encode(), hashlib.sha256).hexdigest()

    def find_subject(self, employee_id: str) -> UUID | None:
        """The subject of an employee id, if it has one and it was not erased."""
        rows = self.store.query(
            "SELECT subject_id FROM {subject_index} WHERE blind = ?", [self.blind(employee_id)]
        )
        return UUID(rows[0]["subject_id"]) if rows else None

    def subject_for(self, employee_id: str) -> UUID:
        """The employee's subject, created with fresh data keys on first use."""
        found = self.find_subject(employee_id)
        if found is not None:
            return found
        subject = uuid4()
        self.store.write(
            "INSERT INTO {subject_key} (subject_id, personal, medical, master_key_id, "
            "created_at, erased_at) VALUES (?, ?, ?, ?, ?, NULL)",
            self._new_key_row(subject),
        )
        self.store.write(
            "INSERT INTO {subject_index} (blind, subject_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [self.blind(employee_id), str(subject)],
        )
        winner = self.find_subject(employee_id)
        if winner != subject:  # another writer created the employee's subject first
            self.store.write("DELETE FROM {subject_key} WHERE subject_id = ?", [str(subject)])
        assert winner is not None
        return winner

    def subjects_for(self, employee_ids: Sequence[str]) -> dict[str, UUID]:
        """``subject_for`` of many employees in a few statements (bulk import)."""
        blinds = {employee: self.blind(employee) for employee in dict.fromkeys(employee_ids)}
        found = self._indexed(list(blinds.values()))
        missing = [(e, b) for e, b in blinds.items() if b not in found]
        if missing:
            created = {b: uuid4() for _, b in missing}
            self.store.write_many(
                "INSERT INTO {subject_key} (subject_id, personal, medical, master_key_id, "
                "created_at, erased_at) VALUES (?, ?, ?, ?, ?, NULL)",
                [self._new_key_row(subject) for subject in created.values()],
            )
            self.store.write_many(
                "INSERT INTO {subject_index} (blind, subject_id) VALUES (?, ?) "
                "ON CONFLICT DO NOTHING",
                [[blind, str(subject)] for blind, subject in created.items()],
            )
            found |= self._indexed(list(created))
            lost = [str(s) for b, s in created.items() if found[b] != s]  # raced, and lost
            if lost:
                self.store.write_many(
                    "DELETE FROM {subject_key} WHERE subject_id = ?", [[s] for s in lost]
                )
        return {employee: found[blind] for employee, blind in blinds.items()}

    def _indexed(self, blinds: list[str]) -> dict[str, UUID]:
        found: dict[str, UUID] = {}
        for start in range(0, len(blinds), 500):
            chunk = blinds[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            rows = self.store.query(
                f"SELECT blind, subject_id FROM {{subject_index}} WHERE blind IN ({marks})", chunk
            )
            found |= {row["blind"]: UUID(row["subject_id"]) for row in rows}
        return found

    def _new_key_row(self, subject: UUID) -> list[Any]:
        personal, medical = secrets.token_bytes(32), secrets.token_bytes(32)
        return [
            str(subject),
            self._wrap(personal, f"{subject}:personal"),
            self._wrap(medical, f"{subject}:medical"),
            self.current.id,
            _now(),
        ]

    def register_cases(self, pairs: Sequence[tuple[UUID, UUID]]) -> None:
        """Which subject's keys seal each case's events, for many new cases at once."""
        new = [(c, s) for c, s in pairs if self._cases.get(c) != s]
        if not new:
            return
        self.store.write_many(
            "INSERT INTO {case_subject} (case_id, subject_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [[str(c), str(s)] for c, s in new],
        )
        for case_id, subject in new:
            self._cases.remember(case_id, subject)

    def register_case(self, case_id: UUID, subject_id: UUID) -> None:
        if self._cases.get(case_id) == subject_id:
            return
        self.store.write(
            "INSERT INTO {case_subject} (case_id, subject_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [str(case_id), str(subject_id)],
        )
        self._cases.remember(case_id, subject_id)

    def subject_of_case(self, case_id: UUID) -> UUID | None:
        cached = self._cases.get(case_id)
        if cached is not _MISSING:
            return cached  # type: ignore[no-any-return]
        rows = self.store.query(
            "SELECT subject_id FROM {case_subject} WHERE case_id = ?", [str(case_id)]
        )
        subject = UUID(rows[0]["subject_id"]) if rows else None
        if subject is not None:
            self._cases.remember(case_id, subject)
        return subject

    def cases_of(self, subject_id: UUID) -> list[UUID]:
        rows = self.store.query(
            "SELECT case_id FROM {case_subject} WHERE subject_id = ? ORDER BY case_id",
            [str(subject_id)],
        )
        return [UUID(row["case_id"]) for row in rows]

    # --- fields -----------------------------------------------------------------

    def data_key(self, subject_id: UUID, protection: Protection) -> bytes | None:
        """The subject's data key, or None once erased."""
        cache_key = (subject_id, protection)
        cached = self._keys.get(cache_key)
        if cached is not _MISSING:
            return cached  # type: ignore[no-any-return]
        rows = self.store.query(
            f"SELECT {protection.value} AS wrapped, master_key_id FROM {{subject_key}} "
            "WHERE subject_id = ?",
            [str(subject_id)],
        )
        key = None
        if rows and rows[0]["wrapped"] is not None:
            label = f"{subject_id}:{protection.value}"
            key = self._unwrap(rows[0]["wrapped"], label, rows[0]["master_key_id"])
        return self._keys.remember(cache_key, key)  # type: ignore[no-any-return]

    def seal(
        self, subject_id: UUID, protection: Protection, aad: str, value: Any
    ) -> dict[str, Any]:
        key = self.data_key(subject_id, protection)
        if key is None:
            raise MissingKeyError(f"subject {subject_id} was erased; nothing can be recorded")
        plain = json.dumps(value, separators=(",", ":")).encode()
        return {"enc": protection.value, "subject": str(subject_id), "ct": _seal(key, plain, aad)}

    def open(self, envelope: dict[str, Any], aad: str, *, medical: bool = False) -> Any:
        """The plain value, or a withheld placeholder: erased, or medical without ``medical``."""
        protection = Protection(envelope["enc"])
        if protection is Protection.MEDICAL and not medical:
            return {"withheld": "medical"}
        key = self.data_key(UUID(envelope["subject"]), protection)
        if key is None:
            return {"withheld": "erased"}
        return json.loads(_unseal(key, envelope["ct"], aad))

    # --- erasure and rotation -----------------------------------------------------

    def erase(self, subject_id: UUID) -> bool:
        """Destroy the subject's data keys and its blind index; whether there were any."""
        changed = self.store.write(
            "UPDATE {subject_key} SET personal = NULL, medical = NULL, erased_at = ? "
            "WHERE subject_id = ? AND erased_at IS NULL",
            [_now(), str(subject_id)],
        )
        self.store.write("DELETE FROM {subject_index} WHERE subject_id = ?", [str(subject_id)])
        self.forget()
        return changed > 0

    def forget(self) -> None:
        """Drop cached data keys (they are read again, erased ones as erased)."""
        self._keys.clear()
        self._epoch = self._erasure_epoch()

    def refresh(self) -> None:
        """Forget cached keys when another process erased a subject since the last look."""
        if self._erasure_epoch() != self._epoch:
            self.forget()

    def _erasure_epoch(self) -> str | None:
        rows = self.store.query("SELECT max(erased_at) AS last FROM {subject_key}")
        return rows[0]["last"] if rows else None

    def rotate(self, new: MasterKey, batch: int = 1000) -> int:
        """Re-wrap every data key (and the index key) under ``new``; events are untouched.
        Resumable: rows already under ``new`` are skipped. Returns how many were re-wrapped."""
        self.masters = [new, *[m for m in self.masters if m.id != new.id]]
        moved = self._rotate_ledger_keys()
        while True:
            rows = self.store.query(
                "SELECT subject_id, personal, medical, master_key_id FROM {subject_key} "
                "WHERE master_key_id <> ? AND erased_at IS NULL LIMIT ?",
                [new.id, batch],
            )
            if not rows:
                return moved
            self.store.write_many(
                "UPDATE {subject_key} SET personal = ?, medical = ?, master_key_id = ? "
                "WHERE subject_id = ? AND master_key_id = ?",
                [self._rewrapped(row, new) for row in rows],
            )
            moved += len(rows)

    def _rewrapped(self, row: dict[str, Any], new: MasterKey) -> list[Any]:
        subject, old = row["subject_id"], row["master_key_id"]
        wrapped = [
            self._wrap(self._unwrap(row[p], f"{subject}:{p}", old), f"{subject}:{p}")
            for p in ("personal", "medical")
        ]
        return [*wrapped, new.id, subject, old]

    def _rotate_ledger_keys(self) -> int:
        rows = self.store.query(
            "SELECT name, wrapped, master_key_id FROM {ledger_key} WHERE master_key_id <> ?",
            [self.current.id],
        )
        for row in rows:
            secret = self._unwrap(row["wrapped"], row["name"], row["master_key_id"])
            self.store.write(
                "UPDATE {ledger_key} SET wrapped = ?, master_key_id = ? WHERE name = ?",
                [self._wrap(secret, row["name"]), self.current.id, row["name"]],
            )
        return len(rows)

    def master_key_ids_in_use(self) -> list[str]:
        rows = self.store.query(
            "SELECT DISTINCT master_key_id FROM {subject_key} WHERE erased_at IS NULL "
            "UNION SELECT master_key_id FROM {ledger_key}"
        )
        return sorted(row["master_key_id"] for row in rows)
