"""What every use case works on: the ledger, the side store, and a way to bring the read
models up to the log (read-your-writes). ``services.bootstrap.Runtime`` is the one
implementation; tests may pass their own."""

from __future__ import annotations

from typing import Protocol

from infra.readmodel import ReadModelStore
from services.application.ledger import Ledger


class Context(Protocol):
    @property
    def ledger(self) -> Ledger: ...

    @property
    def store(self) -> ReadModelStore: ...

    def catch_up(self) -> object:
        """Bring the read models up to the head of the log before a query reads them."""
