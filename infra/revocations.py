"""The revocation list of bearer tokens: tokens refused by id (``jti``), and subjects
whose tokens issued until a moment are refused (someone who left, a leaked key ring).

The list lives in the side store, so every server of the ledger refuses a token within
``refresh_seconds`` of ``ledger revoke`` and after any restart. Servers keep it in
memory and read it again at most every ``refresh_seconds``: a request costs no
statement. An entry is needed only while a token it refuses could still be valid, so
each one expires ``lifetime_seconds`` (the longest a token lives) after it was made,
and entries past that are removed by the next revocation.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from infra.readmodel import ReadModelStore, Table, stamp_at

REVOKED_TOKEN = Table(
    name="revoked_token",
    columns=(
        ("kind", "text"),  # 'token' (value: a token id) or 'subject' (value: a subject)
        ("value", "text"),
        ("issued_until", "integer"),  # subject: tokens issued at or before it (unix s)
        ("revoked_at", "text"),
        ("revoked_by", "text"),
        ("reason", "text"),
        ("expires_at", "text"),
    ),
    key=("kind", "value"),
)
TOKEN, SUBJECT = "token", "subject"


@dataclass(frozen=True)
class Revocation:
    kind: str
    value: str
    issued_until: int | None
    revoked_at: str
    revoked_by: str
    reason: str
    expires_at: str


class RevocationList:
    """The revoked tokens and subjects, as every process of the ledger sees them."""

    def __init__(
        self, store: ReadModelStore, *, lifetime_seconds: float, refresh_seconds: float = 2.0
    ) -> None:
        self.store = store
        self.lifetime_seconds = lifetime_seconds
        self.refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._loaded_at = -math.inf
        self._token_ids: frozenset[str] = frozenset()
        self._subjects: dict[str, int] = {}

    def refusal(self, token_id: str | None, subject: str, issued_at: float) -> str | None:
        """Why a token is refused, or None when it is not revoked."""
        token_ids, subjects = self._current()
        if token_id is not None and token_id in token_ids:
            return f"the token was revoked (token id {token_id}); ask for a new one"
        until = subjects.get(subject)
        if until is not None and issued_at <= until:
            return (
                f"the tokens of {subject} issued until {stamp_at(until)} were revoked; "
                "ask for a new one"
            )
        return None

    def revoke_token(self, token_id: str, *, by: str, reason: str) -> Revocation:
        return self._revoke(TOKEN, token_id, None, by, reason)

    def revoke_subject(self, subject: str, *, by: str, reason: str) -> Revocation:
        """Refuse every token of ``subject`` issued in this second or before: a token's
        ``iat`` counts whole seconds, so one minted later in this second is refused too
        (the safe side)."""
        return self._revoke(SUBJECT, subject, math.floor(time.time()), by, reason)

    def entries(self) -> list[Revocation]:
        rows = self.store.query(
            "SELECT * FROM {revoked_token} WHERE expires_at >= ? ORDER BY revoked_at, value",
            [stamp_at(time.time())],
        )
        return [Revocation(**{k: row[k] for k in REVOKED_TOKEN.column_names}) for row in rows]

    def _revoke(
        self, kind: str, value: str, issued_until: int | None, by: str, reason: str
    ) -> Revocation:
        now = time.time()
        entry = Revocation(kind, value, issued_until, stamp_at(now), by, reason,
                           stamp_at(now + self.lifetime_seconds))  # fmt: skip
        self.store.write("DELETE FROM {revoked_token} WHERE expires_at < ?", [entry.revoked_at])
        self.store.write(
            "INSERT INTO {revoked_token} (kind, value, issued_until, revoked_at, revoked_by, "
            "reason, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (kind, value) DO "
            "UPDATE SET issued_until = excluded.issued_until, revoked_at = excluded.revoked_at,"
            " revoked_by = excluded.revoked_by, reason = excluded.reason, "
            "expires_at = excluded.expires_at",
            [kind, value, issued_until, entry.revoked_at, by, reason, entry.expires_at],
        )
        with self._lock:
            self._loaded_at = -math.inf  # this process refuses it at once
        return entry

    def _current(self) -> tuple[frozenset[str], dict[str, int]]:
        with self._lock:
            if time.monotonic() - self._loaded_at >= self.refresh_seconds:
                self._load()
            return self._token_ids, self._subjects

    def _load(self) -> None:
        entries = self.entries()
        self._token_ids = frozenset(e.value for e in entries if e.kind == TOKEN)
        self._subjects = {
            e.value: int(e.issued_until) for e in entries
            if e.kind == SUBJECT and e.issued_until is not None
        }  # fmt: skip
        self._loaded_at = time.monotonic()
