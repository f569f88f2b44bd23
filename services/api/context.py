"""What the HTTP service holds for its lifetime: one ledger, the read models, the
runner that keeps them current (a background thread plus refresh on demand)."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field

from domain.access import Principal
from infra.readmodel import ReadModelStore, open_read_models
from infra.service_tables import SERVICE_TABLES
from projections.catalogue import all_projections
from projections.runner import ProjectionRunner
from services.api.auth import read_token, signing_key
from services.ledger import Ledger

log = logging.getLogger("ledger.api")


@dataclass
class Settings:
    database_url: str | None = None
    jwt_key: str = field(default_factory=signing_key)
    ready_max_lag: int = int(os.environ.get("LEDGER_READY_MAX_LAG", "1000"))
    follow_seconds: float = 0.5  # 0: no background projection (tests refresh on demand)
    max_body_bytes: int = int(os.environ.get("LEDGER_MAX_BODY_BYTES", str(1 << 20)))
    max_import_bytes: int = int(os.environ.get("LEDGER_MAX_IMPORT_BYTES", str(100 << 20)))
    # a claimed Idempotency-Key whose request has not finished after this long was left
    # by a server that died; a retry takes it over
    idempotency_abandoned_seconds: float = float(
        os.environ.get("LEDGER_IDEMPOTENCY_ABANDONED_SECONDS", "30")
    )


class ApiContext:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ledger = Ledger(settings.database_url)
        # one pool for read models and keys: they live in the same database
        keys = self.ledger.keys
        self.store: ReadModelStore = (
            keys.store if keys is not None else open_read_models(self.ledger.database_url)
        )
        self.store.create_tables(SERVICE_TABLES)
        self.runner = ProjectionRunner(self.ledger, self.store, all_projections())
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def principal(self, token: str) -> Principal:
        return read_token(token, self.settings.jwt_key)

    def refresh(self) -> None:
        """Bring the read models up to the head of the log (one runner at a time)."""
        with self._lock:
            self.runner.run()

    def start(self) -> None:
        if self.settings.follow_seconds > 0:
            self._thread = threading.Thread(target=self._follow, name="projections", daemon=True)
            self._thread.start()

    def _follow(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh()
            except Exception:  # keep following; readiness reports the lag meanwhile
                log.exception("projection run failed; retrying")
            self._stop.wait(self.settings.follow_seconds)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._stop = threading.Event()

    def close(self) -> None:
        self.stop()
        if self.ledger.keys is None or self.store is not self.ledger.keys.store:
            self.store.close()
        self.ledger.close()
