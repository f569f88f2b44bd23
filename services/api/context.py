"""What the HTTP service holds for its lifetime: the runtime (ledger, side store), the
token key, and a follower that keeps the read models current in the background."""

from __future__ import annotations

import threading

from domain.access import Principal
from services.api.auth import SignInCodes, TokenClaims, TokenError, read_claims, signing_key
from services.api.observe import Metrics
from services.bootstrap import Settings, bootstrap, current_request

__all__ = ["ApiContext", "Settings"]


class ApiContext:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.runtime = bootstrap(settings)
        self.ledger = self.runtime.ledger
        self.store = self.runtime.store
        self.runner = self.runtime.read_models
        self.jwt_key = settings.jwt_key or signing_key()
        self.sign_in_codes = SignInCodes()
        self.metrics = Metrics(self)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def principal(self, token: str) -> Principal:
        return self.claims(token).principal

    def claims(self, token: str) -> TokenClaims:
        """The claims of a token signed with this server's key and not revoked."""
        claims = read_claims(token, self.jwt_key)
        refusal = self.runtime.revocations.refusal(
            claims.token_id, claims.principal.subject, claims.issued_at
        )
        if refusal is not None:
            raise TokenError(refusal)
        scope = current_request.get()
        if scope is not None:  # the request's log lines say who asked, by role only
            scope.role = claims.principal.role.value
        return claims

    def catch_up(self) -> None:
        """Bring the read models up to the head of the log (read-your-writes)."""
        self.runtime.catch_up()

    def start(self) -> None:
        if self.settings.follow_seconds > 0:
            self._thread = threading.Thread(target=self._follow, name="projections", daemon=True)
            self._thread.start()

    def _follow(self) -> None:
        self.runtime.follow(self._stop, self.settings.follow_seconds)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._stop = threading.Event()

    def close(self) -> None:
        self.stop()
        self.runtime.close()
