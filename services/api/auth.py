"""Bearer tokens: signed JWTs (HS256) naming a subject, a role and the employers served.

The key comes from ``LEDGER_JWT_KEY``; without it a development key is created once
in ``LEDGER_JWT_KEY_FILE`` (default ``.ledger-jwt.key``, mode 0600) so that
``ledger token`` and ``ledger serve`` on one machine agree. Production sets the key.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt

from domain.access import MAX_TOKEN_HOURS, ONE_EMPLOYER, Principal, Role

ISSUER = "reintegration-ledger"
ALGORITHM = "HS256"
ALL_EMPLOYERS = "*"
__all__ = ["MAX_TOKEN_HOURS", "SignInCodes", "TokenClaims", "TokenError", "issue_token",
           "read_claims", "read_token", "signing_key"]  # fmt: skip


class TokenError(ValueError):
    """A missing, malformed, expired, forged or revoked token; the message says which."""


@dataclass(frozen=True)
class TokenClaims:
    """What a valid token says: who, and which token (``jti``, absent from tokens minted
    before revocation existed) issued when and good until when (unix seconds)."""

    principal: Principal
    token_id: str | None
    issued_at: float
    expires_at: float


def signing_key() -> str:
    key = os.environ.get("LEDGER_JWT_KEY")
    if key:
        return key
    path = Path(os.environ.get("LEDGER_JWT_KEY_FILE", ".ledger-jwt.key"))
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def issue_token(principal: Principal, key: str, *, hours: float = 8.0) -> str:
    if not hours <= MAX_TOKEN_HOURS:  # written so that NaN is refused too
        raise TokenError(f"a token lives at most {MAX_TOKEN_HOURS:g} hours, not {hours:g}")
    if principal.role in ONE_EMPLOYER and (
        principal.employers is None or len(principal.employers) != 1
    ):
        raise TokenError(
            f"an {principal.role.value} token is scoped to exactly one employer (--employer ID)"
        )
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": principal.subject,
        "role": principal.role.value,
        "employers": sorted(principal.employers)
        if principal.employers is not None
        else ALL_EMPLOYERS,
        "iat": now,
        "exp": now + timedelta(hours=hours),
        "jti": secrets.token_urlsafe(12),  # the id `ledger revoke --token-id` names
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def read_token(token: str, key: str) -> Principal:
    return read_claims(token, key).principal


def read_claims(token: str, key: str) -> TokenClaims:
    """The claims of a token signed with ``key``; TokenError says why one is refused
    (revocation is the caller's list to check: ``infra.revocations``)."""
    try:
        claims = jwt.decode(
            token, key, algorithms=[ALGORITHM], issuer=ISSUER,
            options={"require": ["exp", "iat", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("the token has expired; ask for a new one (ledger token)") from None
    except jwt.InvalidTokenError as error:
        raise TokenError(f"the token is not valid: {error}") from None
    if float(claims["exp"]) - float(claims["iat"]) > MAX_TOKEN_HOURS * 3600:
        raise TokenError(
            f"the token lives longer than {MAX_TOKEN_HOURS:g} hours; ask for a new one "
            "(ledger token)"
        )
    try:
        role = Role(str(claims.get("role")))
    except ValueError:
        raise TokenError(f"the token names an unknown role {claims.get('role')!r}") from None
    employers = claims.get("employers")
    if employers == ALL_EMPLOYERS:
        scope = None
    elif isinstance(employers, list) and employers and all(isinstance(e, str) for e in employers):
        scope = frozenset(employers)
    else:
        raise TokenError('the token must name its employers: a list of ids, or "*" for all')
    if role in ONE_EMPLOYER and (scope is None or len(scope) != 1):
        raise TokenError(f"an {role.value} token must be scoped to exactly one employer")
    principal = Principal(subject=str(claims["sub"]), role=role, employers=scope)
    token_id = claims.get("jti")
    return TokenClaims(principal, str(token_id) if token_id is not None else None,
                       float(claims["iat"]), float(claims["exp"]))  # fmt: skip


class SignInCodes:
    """One-time sign-in codes for the link ``ledger serve`` prints: a code opens one page
    session, once, within ``ttl_seconds``, so that the server's log and the browser's
    history hold nothing a reader could sign in with later (a token in a URL would)."""

    def __init__(self, ttl_seconds: float = 600.0) -> None:
        self.ttl_seconds = ttl_seconds
        self._codes: dict[str, tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    def issue(self, principal: Principal) -> str:
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = (principal, time.monotonic() + self.ttl_seconds)
        return code

    def redeem(self, code: str) -> Principal:
        """The principal of ``code``, which is then spent; TokenError if it is unknown,
        spent or expired."""
        with self._lock:
            found = self._codes.pop(code, None)
        if found is None or found[1] < time.monotonic():
            raise TokenError(
                "this sign-in link was used already or has expired: restart `ledger serve` "
                "for a new one, or sign in with a token (ledger token --role ROLE)"
            )
        return found[0]
