"""Per-person envelope encryption and crypto-shredding (issue 9).

Each employee is a *subject* (a random UUID); each of the employee's files (a
case) has two data keys: one for personal fields and one for medical fields, so
that a file can be forgotten when its own retention period ends. Data keys are
stored wrapped by a master key from configuration; destroying a file's data keys
makes every stored copy of its protected fields unreadable, while the events,
their hashes in the audit log and every non-personal field stay as they were.

An employee is found again only through a blind index (an HMAC of the employer and
the employee id under a ledger key: an employee id names someone only at its
employer), whose row goes with the employee's last file: afterwards nothing links the
employee to the subject or its files.

Master keys: ``LEDGER_MASTER_KEY`` (hex, comma-separated, newest first) or the
file ``LEDGER_MASTER_KEY_FILE`` (default ``.ledger-master.key``, one hex key per
line, newest first). The newest wraps; every listed key unwraps. A running
process reads the key file again when it changes, so a rotation needs no restart.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID, uuid4

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.privacy import Protection
from infra.readmodel import Table, stamp_at

FILE_KEY = Table(
    name="file_key",
    columns=(
        ("case_id", "text"),
        ("subject_id", "text"),
        ("personal", "text"),  # wrapped data keys; NULL once erased
        ("medical", "text"),
        ("master_key_id", "text"),
        ("created_at", "text"),
        ("erased_at", "text"),
    ),
    key=("case_id",),
    indexes=(("subject_id",), ("master_key_id",)),
)
SUBJECT_INDEX = Table(
    name="subject_index",
    columns=(("blind", "text"), ("subject_id", "text"), ("created_at", "text")),
    key=("blind",),
    indexes=(("subject_id",),),
    version=2,  # v2: created_at (orphans are dropped after a day)
)
LEDGER_KEY = Table(
    name="ledger_key",
    columns=(("name", "text"), ("wrapped", "text"), ("master_key_id", "text")),
    key=("name",),
)
INDEX_KEY = "blind_index"  # the ledger key of the blind index (and request fingerprints)
INDEX_VERSION = "subject_index_version"  # a key_epoch row: what the index digests
SCOPED = 2  # version 2: (employer, employee id); version 1 digested the employee id alone
Employee = tuple[str, str]  # (employee id, employer id): who someone is, at their employer
KEY_EPOCH = Table(  # counts erasures, so that every process can tell its cache is stale
    name="key_epoch",
    columns=(("name", "text"), ("n", "integer")),
    key=("name",),
)
KEY_TABLES = (FILE_KEY, SUBJECT_INDEX, LEDGER_KEY, KEY_EPOCH)
DEFAULT_KEY_FILE = ".ledger-master.key"
_CACHE_SIZE = 50_000
ORPHAN_AFTER_SECONDS = 86_400
SWEPT = "unwritten_files_swept_until"  # a key_epoch row: Unix time of the last sweep


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
    return isinstance(value, dict) and set(value) == {"enc", "key", "ct"}


def _now() -> str:
    return stamp_at(time.time())


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


class CaseOwnerError(RuntimeError):
    """A case id was opened for two employees at once; the second writer loses."""


class KeyStore(Protocol):
    """What the key ring needs of the side store: the key tables (``KEY_TABLES``), read
    and written with ``?`` placeholders and ``{table}`` names."""

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]: ...

    def write(self, sql: str, params: Sequence[Any] = ()) -> int: ...

    def write_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...


class KeyRing:
    """Data keys of every file, wrapped by the master key; seals and opens fields."""

    def __init__(self, store: KeyStore, masters: Sequence[MasterKey]) -> None:
        self.store = store
        self.masters = list(masters)
        self._keys: _Lru = _Lru()  # (case, protection) -> data key, or None once erased
        self._cases: _Lru = _Lru()  # case id -> subject
        self._index_key: bytes | None = None
        self._epoch = self._erasure_epoch()
        self._key_file_stamp = _stamp()

    @classmethod
    def load(cls, store: KeyStore) -> KeyRing:
        """The key ring of ``store`` with the configured master keys. On a ledger that has
        no keys yet, a missing key file is created (development); else it is an error."""
        masters = configured_master_keys()
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
        if self._reload_masters():  # rotated by another process meanwhile
            return self._master(key_id)
        known = ", ".join(m.id for m in self.masters)
        raise MissingKeyError(
            f"stored keys are wrapped by master key {key_id}, which is not configured "
            f"(configured: {known}); add it to LEDGER_MASTER_KEY or the key file"
        )

    def _reload_masters(self) -> bool:
        """Read the configured keys again if the key file changed; whether they did."""
        stamp = _stamp()
        if stamp == self._key_file_stamp:
            return False
        self._key_file_stamp = stamp
        masters = configured_master_keys()
        if not masters or [m.id for m in masters] == [m.id for m in self.masters]:
            return False
        self.masters = masters
        return True

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
                "SELECT wrapped, master_key_id FROM {ledger_key} WHERE name = ?", [INDEX_KEY]
            )
            if not rows:
                self.store.write(
                    "INSERT INTO {ledger_key} (name, wrapped, master_key_id) VALUES (?, ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    [INDEX_KEY, self._wrap(secrets.token_bytes(32), INDEX_KEY), self.current.id],
                )  # fmt: skip
                return self.index_key()
            row = rows[0]
            self._index_key = self._unwrap(row["wrapped"], INDEX_KEY, row["master_key_id"])
        return self._index_key

    def blind(self, employee_id: str, employer_id: str) -> str:
        """A keyed digest of an employee at an employer: equal pairs give equal digests,
        and nobody without the ledger's index key can test a guess against it. An
        employee id names someone only at its employer (hole 4 of issue 19)."""
        return self.digest(f"{employer_id}\x1f{employee_id}")

    def digest(self, text: str) -> str:
        """A keyed digest of any text (the blind index's key)."""
        return hmac.new(self.index_key(), text.encode(), hashlib.sha256).hexdigest()

    def find_subject(self, employee_id: str, employer_id: str) -> UUID | None:
        """The subject of an employee at an employer, if it has files not all erased."""
        found = self._indexed([self.blind(employee_id, employer_id)])
        return next(iter(found.values()), None)

    def subject_for(self, employee_id: str, employer_id: str) -> UUID:
        """The employee's subject at the employer, created on first use."""
        return self.subjects_for([(employee_id, employer_id)])[(employee_id, employer_id)]

    def subjects_for(self, people: Sequence[Employee]) -> dict[Employee, UUID]:
        """The subjects of many (employee, employer) pairs in a few statements (import)."""
        blinds = {person: self.blind(*person) for person in dict.fromkeys(people)}
        found = self._indexed(list(blinds.values()))
        missing = [b for b in blinds.values() if b not in found]
        if missing:
            self.store.write_many(
                "INSERT INTO {subject_index} (blind, subject_id, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                [[blind, str(uuid4()), _now()] for blind in missing],
            )
            found |= self._indexed(missing)  # a racing writer's subject wins, if it was first
        return {person: found[blind] for person, blind in blinds.items()}

    def has_unscoped_index(self) -> bool:
        """Whether the blind index may still hold digests of employee ids alone (a store
        made before employees were scoped to their employer): ``scope_index`` them. A
        store with no subject yet is scoped from the start."""
        version = self._counter(INDEX_VERSION)
        if version == 0:
            empty = not self.store.query("SELECT 1 AS one FROM {subject_index} LIMIT 1")
            self.store.write(
                "INSERT INTO {key_epoch} (name, n) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [INDEX_VERSION, SCOPED if empty else SCOPED - 1],
            )
            return self.has_unscoped_index()
        return version < SCOPED

    def scope_index(self, reports: Iterable[tuple[str, str, UUID]]) -> int:
        """Index each reported (employee, employer, subject) by the scoped digest, keeping
        its subject, then drop the digests of the employee ids alone; how many pairs."""
        pairs = {(employee, employer): subject for employee, employer, subject in reports}
        self.store.write_many(
            "INSERT INTO {subject_index} (blind, subject_id, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            [[self.blind(*person), str(subject), _now()] for person, subject in pairs.items()],
        )
        self.store.write_many("DELETE FROM {subject_index} WHERE blind = ?",
                              [[self.digest(e)] for e in {e for e, _ in pairs}])  # fmt: skip
        self.store.write("UPDATE {key_epoch} SET n = ? WHERE name = ?", [SCOPED, INDEX_VERSION])
        return len(pairs)

    def forget_employee(self, employee_id: str, employer_id: str) -> None:
        """Drop the blind index of an employee at an employer (all their files there are
        erased), also where a store made before scoping shares the subject with another
        employer's file that still runs."""
        self.store.write("DELETE FROM {subject_index} WHERE blind = ?",
                         [self.blind(employee_id, employer_id)])  # fmt: skip

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

    # --- files ------------------------------------------------------------------------

    def open_files(self, pairs: Sequence[tuple[UUID, UUID]]) -> dict[UUID, str]:
        """Create the data keys of new files (case id, subject), many at once. A case id
        that another writer opened for another employee raises ``CaseOwnerError``.

        Returns each attempted row's wrapped personal key, which only a row this call
        inserted holds: the token with which ``drop_unused_files`` deletes its own rows
        and never a row another writer created meanwhile."""
        new = [(c, s) for c, s in pairs if self._cases.get(c) != s]
        if not new:
            return {}
        rows = [self._new_file_row(case_id, subject) for case_id, subject in new]
        self.store.write_many(
            "INSERT INTO {file_key} (case_id, subject_id, personal, medical, master_key_id, "
            "created_at, erased_at) VALUES (?, ?, ?, ?, ?, ?, NULL) ON CONFLICT DO NOTHING",
            rows,
        )
        owners = self._owners([case_id for case_id, _ in new], keys=True)
        for case_id, subject in new:
            if owners.get(case_id) != subject:
                raise CaseOwnerError(f"case {case_id} belongs to another employee")
            self._cases.remember(case_id, subject)
        return {case_id: row[2] for (case_id, _), row in zip(new, rows, strict=True)}

    def _new_file_row(self, case_id: UUID, subject: UUID) -> list[Any]:
        label = str(case_id)
        return [
            label,
            str(subject),
            self._wrap(secrets.token_bytes(32), f"{label}:personal"),
            self._wrap(secrets.token_bytes(32), f"{label}:medical"),
            self.current.id,
            _now(),
        ]

    def _owners(self, case_ids: list[UUID], *, keys: bool = False) -> dict[UUID, UUID]:
        """Each case's subject; with ``keys``, the files' data keys are read in the same
        query and cached (a bulk import then seals without one query per new case)."""
        found: dict[UUID, UUID] = {}
        columns = "case_id, subject_id" + (", personal, medical, master_key_id" if keys else "")
        for start in range(0, len(case_ids), 500):
            chunk = [str(c) for c in case_ids[start : start + 500]]
            marks = ", ".join("?" * len(chunk))
            rows = self.store.query(
                f"SELECT {columns} FROM {{file_key}} WHERE case_id IN ({marks})", chunk
            )
            for row in rows:
                case_id = UUID(row["case_id"])
                found[case_id] = UUID(row["subject_id"])
                if keys:
                    self._remember_keys(case_id, row)
        return found

    def _remember_keys(self, case_id: UUID, row: dict[str, Any]) -> None:
        for protection in Protection:
            wrapped = row[protection.value]
            label = f"{case_id}:{protection.value}"
            key = self._unwrap(wrapped, label, row["master_key_id"]) if wrapped else None
            self._keys.remember((case_id, protection), key)

    def subject_of_case(self, case_id: UUID) -> UUID | None:
        cached = self._cases.get(case_id)
        if cached is not _MISSING:
            return cached  # type: ignore[no-any-return]
        subject = self._owners([case_id]).get(case_id)
        if subject is not None:
            self._cases.remember(case_id, subject)
        return subject

    def cases_of(self, subject_id: UUID) -> list[UUID]:
        rows = self.store.query(
            "SELECT case_id FROM {file_key} WHERE subject_id = ? ORDER BY case_id",
            [str(subject_id)],
        )
        return [UUID(row["case_id"]) for row in rows]

    # --- fields -----------------------------------------------------------------

    def data_key(self, case_id: UUID, protection: Protection) -> bytes | None:
        """The file's data key, or None once erased (or never created)."""
        cache_key = (case_id, protection)
        cached = self._keys.get(cache_key)
        if cached is not _MISSING:
            return cached  # type: ignore[no-any-return]
        rows = self.store.query(
            f"SELECT {protection.value} AS wrapped, master_key_id FROM {{file_key}} "
            "WHERE case_id = ?",
            [str(case_id)],
        )
        key = None
        if rows and rows[0]["wrapped"] is not None:
            label = f"{case_id}:{protection.value}"
            key = self._unwrap(rows[0]["wrapped"], label, rows[0]["master_key_id"])
        return self._keys.remember(cache_key, key)  # type: ignore[no-any-return]

    def seal(self, case_id: UUID, protection: Protection, aad: str, value: Any) -> dict[str, Any]:
        """The sealed value; once the file is erased, the erased placeholder (what is
        written to an erased file is forgotten at once)."""
        key = self.data_key(case_id, protection)
        if key is None:
            return {"withheld": "erased"}
        plain = json.dumps(value, separators=(",", ":")).encode()
        return {"enc": protection.value, "key": str(case_id), "ct": _seal(key, plain, aad)}

    def open(self, envelope: dict[str, Any], aad: str, *, medical: bool = False) -> Any:
        """The plain value, or a withheld placeholder: erased, or medical without ``medical``."""
        protection = Protection(envelope["enc"])
        if protection is Protection.MEDICAL and not medical:
            return {"withheld": "medical"}
        key = self.data_key(UUID(envelope["key"]), protection)
        if key is None:
            return {"withheld": "erased"}
        return json.loads(_unseal(key, envelope["ct"], aad))

    # --- erasure and rotation -----------------------------------------------------

    def erase_files(self, case_ids: Sequence[UUID]) -> int:
        """Destroy the files' data keys, and the blind index of every employee left with no
        file; returns how many files had keys. The erasure counter tells other processes."""
        subjects = set(self._owners(list(case_ids)).values())
        live = self._live_files(case_ids)
        self.store.write_many(
            "UPDATE {file_key} SET personal = NULL, medical = NULL, erased_at = ? "
            "WHERE case_id = ? AND erased_at IS NULL",
            [[_now(), str(case_id)] for case_id in case_ids],
        )
        for subject in subjects:
            self.store.write(
                "DELETE FROM {subject_index} WHERE subject_id = ? AND NOT EXISTS (SELECT 1 "
                "FROM {file_key} WHERE subject_id = ? AND erased_at IS NULL)",
                [str(subject), str(subject)],
            )
        self.store.write("UPDATE {key_epoch} SET n = n + 1 WHERE name = 'erasures'")
        self.forget()
        return live

    def drop_unused_files(self, opened: Sequence[tuple[UUID, str]]) -> None:
        """Delete key rows that ``open_files`` inserted for files never written (a refused
        import), by their token; the caller passes only case ids with no stored events."""
        self.store.write_many(
            "DELETE FROM {file_key} WHERE case_id = ? AND personal = ?",
            [[str(case_id), token] for case_id, token in opened],
        )
        self._cases.clear()  # else a later import would take the files for open already
        self.forget()

    def _live_files(self, case_ids: Sequence[UUID]) -> int:
        if not case_ids:
            return 0
        marks = ", ".join("?" * len(case_ids))
        rows = self.store.query(
            f"SELECT count(*) AS n FROM {{file_key}} WHERE erased_at IS NULL "
            f"AND case_id IN ({marks})",
            [str(c) for c in case_ids],
        )
        return int(rows[0]["n"])

    def files_opened_unswept(self, until: float) -> list[tuple[UUID, str]]:
        """(case id, token) of the live key rows opened before ``until`` (a Unix time) and
        not looked at by an earlier sweep (``swept``): the caller keeps those whose case
        has no events (an import killed before it wrote) for ``drop_unused_files``. Each
        row is looked at once, so a sweep does not read every file of an old ledger."""
        rows = self.store.query(
            "SELECT case_id, personal FROM {file_key} WHERE created_at < ? "
            "AND created_at >= ? AND erased_at IS NULL AND personal IS NOT NULL",
            [stamp_at(until), stamp_at(self._counter(SWEPT))],
        )
        return [(UUID(str(r["case_id"])), str(r["personal"])) for r in rows]

    def swept(self, until: float) -> None:
        """Record that the key rows opened before ``until`` were looked at."""
        self.store.write(
            "INSERT INTO {key_epoch} (name, n) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET n = excluded.n",
            [SWEPT, int(until)],
        )

    def _counter(self, name: str) -> int:
        rows = self.store.query("SELECT n FROM {key_epoch} WHERE name = ?", [name])
        return int(rows[0]["n"]) if rows else 0

    def drop_orphan_subjects(self, older_than_seconds: int = ORPHAN_AFTER_SECONDS) -> int:
        """Forget employee ids whose report was refused: a subject with no file after a day."""
        return self.store.write(
            "DELETE FROM {subject_index} WHERE created_at < ? AND subject_id NOT IN "
            "(SELECT subject_id FROM {file_key})",
            [stamp_at(time.time() - older_than_seconds)],
        )

    def forget(self) -> None:
        """Drop cached data keys (they are read again, erased ones as erased)."""
        self._keys.clear()
        self._epoch = self._erasure_epoch()

    def refresh(self) -> None:
        """Forget cached keys when any process erased a file since the last look, and read
        the key file again if it changed (a rotation)."""
        if self._erasure_epoch() != self._epoch:
            self.forget()
        self._reload_masters()

    def _erasure_epoch(self) -> int:
        return self._counter("erasures")

    def rotate(self, new: MasterKey, batch: int = 1000) -> int:
        """Re-wrap every data key (and the index key) under ``new``; events are untouched.
        Resumable: rows already under ``new`` are skipped; an erasure meanwhile wins."""
        self.masters = [new, *[m for m in self.masters if m.id != new.id]]
        moved = self._rotate_ledger_keys()
        while True:
            rows = self.store.query(
                "SELECT case_id, personal, medical, master_key_id FROM {file_key} "
                "WHERE master_key_id <> ? AND erased_at IS NULL LIMIT ?",
                [new.id, batch],
            )
            if not rows:
                return moved
            self.store.write_many(
                "UPDATE {file_key} SET personal = ?, medical = ?, master_key_id = ? "
                "WHERE case_id = ? AND master_key_id = ? AND erased_at IS NULL",
                [self._rewrapped(row, new) for row in rows],
            )
            moved += len(rows)

    def _rewrapped(self, row: dict[str, Any], new: MasterKey) -> list[Any]:
        case, old = row["case_id"], row["master_key_id"]
        wrapped = [
            self._wrap(self._unwrap(row[p], f"{case}:{p}", old), f"{case}:{p}")
            for p in ("personal", "medical")
        ]
        return [*wrapped, new.id, case, old]

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
            "SELECT DISTINCT master_key_id FROM {file_key} WHERE erased_at IS NULL "
            "UNION SELECT master_key_id FROM {ledger_key}"
        )
        return sorted(row["master_key_id"] for row in rows)


def _stamp() -> tuple[float, int] | None:
    if os.environ.get("LEDGER_MASTER_KEY"):
        return None
    try:
        info = key_file().stat()
    except OSError:
        return None
    return (info.st_mtime, info.st_size)
