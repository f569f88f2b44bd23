"""One place that wires the ledger, its side store and the settings, for every process:
the ``ledger`` command, the HTTP server, the workers, the benchmarks and the tests.

``bootstrap()`` opens the side store once (one connection pool, shared by the key ring,
the read models and the service tables), migrates its schema, and gives a ``Runtime``:
the ledger, the store, and ``catch_up()`` to bring the read models up to the log.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from functools import partial
from threading import Event
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from domain.access import MAX_TOKEN_HOURS, Principal
from infra.config import database_url
from infra.heartbeat import age_seconds as heartbeat_age
from infra.kafka import KafkaSettings, feed_positions
from infra.log_consumer import Follower
from infra.logs import RequestScope, current_request
from infra.logs import configure as _configure_logs
from infra.readmodel import ReadModelStore, open_read_models
from infra.revocations import RevocationList
from projections.base import CaseProjection
from projections.catalogue import all_projections
from projections.runner import ReadModelRunner
from services.application.ledger import Ledger
from services.schema import TABLES, MigrationResult, migrate, open_store

if TYPE_CHECKING:
    from services.workers.feed import Feed
    from services.workers.kafka_worker import KafkaWorker
    from services.workers.scheduler import Scheduler
    from services.workers.signals import SignalSender


log = logging.getLogger("ledger")


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


@dataclass(frozen=True)
class Settings:
    """Everything a process reads from its environment, read once."""

    database_url: str = field(default_factory=database_url)
    protect: bool = True  # False: personal fields in plain text (benchmarks only)
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    # the HTTP server
    jwt_key: str | None = None  # None: LEDGER_JWT_KEY, or the development key file
    ready_max_lag: int = field(default_factory=lambda: _env_int("LEDGER_READY_MAX_LAG", 1000))
    follow_seconds: float = 0.5  # 0: no background projection (tests catch up on demand)
    # `ledger serve --demo` (loopback only): the sign-in page offers a link per principal
    demo_sign_in: tuple[Principal, ...] = ()
    max_body_bytes: int = field(
        default_factory=lambda: _env_int("LEDGER_MAX_BODY_BYTES", 1 << 20)
    )
    max_import_bytes: int = field(
        default_factory=lambda: _env_int("LEDGER_MAX_IMPORT_BYTES", 100 << 20)
    )
    # a claimed Idempotency-Key whose request has not finished after this long was left by
    # a server that died; a retry takes it over
    idempotency_abandoned_seconds: float = field(
        default_factory=lambda: float(os.environ.get("LEDGER_IDEMPOTENCY_ABANDONED_SECONDS", "30"))
    )


__all__ = ["RequestScope", "Runtime", "Settings", "bootstrap", "configure_logging",
           "current_request", "heartbeat_age", "migrate_store"]  # fmt: skip


def configure_logging() -> None:
    """JSON log lines on stderr for a long-running process (``infra.logs``)."""
    _configure_logs()


class Runtime:
    """An open ledger with its side store; a context manager that closes both."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._store = open_store(settings.database_url)
        try:
            self._ledger = Ledger(settings.database_url, protect=settings.protect,
                                  store=self._store)  # fmt: skip
        except BaseException:
            self._store.close()
            raise
        self._runner: ReadModelRunner | None = None
        self._lock = threading.Lock()
        self._revocations: RevocationList | None = None

    @property
    def ledger(self) -> Ledger:
        return self._ledger

    @property
    def store(self) -> ReadModelStore:
        return self._store

    def runner(self, projections: list[CaseProjection] | None = None,
               page_size: int = 5000) -> ReadModelRunner:  # fmt: skip
        """A runner of ``projections`` (default: every read model)."""
        return ReadModelRunner(self.ledger, self.store, projections or all_projections(),
                               page_size=page_size,
                               reopen=partial(Ledger, self.ledger.database_url))  # fmt: skip

    @property
    def read_models(self) -> ReadModelRunner:
        """The runner of every read model this process keeps (one, shared)."""
        if self._runner is None:
            self._runner = self.runner()
        return self._runner

    @property
    def revocations(self) -> RevocationList:
        """The revoked tokens and subjects (``ledger revoke``), shared by this process."""
        if self._revocations is None:
            self._revocations = RevocationList(self.store,
                                               lifetime_seconds=MAX_TOKEN_HOURS * 3600)  # fmt: skip
        return self._revocations

    def feed(self, kafka: KafkaSettings | None = None) -> Feed:
        """The analytics feed of this ledger to Kafka (pseudonyms under the feed's key)."""
        from infra.kafka import pseudonym_key
        from services.workers.feed import Feed

        return Feed(self.ledger, self.store, kafka or self.settings.kafka, pseudonym_key())

    def feed_positions(self) -> dict[str, int]:
        """The last notification id the feed published, per topic."""
        return feed_positions(self.store)

    def kafka_worker(self, projections: list[CaseProjection], group: str) -> KafkaWorker:
        """A scale-out worker of ``projections`` in consumer ``group`` of the feed topic."""
        from services.workers.kafka_worker import KafkaWorker

        return KafkaWorker(self.ledger, self.store, projections, self.settings.kafka, group)

    def scheduler(self, jobs: list[str]) -> Scheduler:
        """``ledger schedule`` of the jobs ``NAME=TIMING`` (defaults for the others)."""
        from services.workers.scheduler import Scheduler, parse_jobs

        return Scheduler(self, parse_jobs(jobs))

    def signal_sender(self, **options: Any) -> SignalSender:
        """``ledger signals``: reminders by e-mail (``services.workers.signals``)."""
        from services.workers.signals import SignalSender

        return SignalSender(self, **options)

    def follow(self, stop: Event, seconds: float) -> None:
        """Keep the read models current until ``stop`` is set: a run every ``seconds``,
        whatever goes wrong (readiness reports the lag meanwhile)."""
        _Background(self).follow(stop, poll_seconds=seconds, max_backoff=seconds, paced=True)

    def catch_up(self) -> int:
        """Bring every read model up to the head of the log (one run at a time); how many
        events were applied."""
        with self._lock:
            return self.read_models.run().events

    def close(self) -> None:
        self._ledger.close()
        self._store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


class _Background(Follower):
    """A process's own read-model follower (the HTTP server's)."""

    name = "projections"
    retry_on = (Exception,)

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def step(self) -> int:
        return self.runtime.catch_up()

    def on_retry(self, error: BaseException, backoff: float) -> None:
        log.exception("projection run failed; retrying in %.1fs", backoff)


def bootstrap(settings: Settings | None = None, **overrides: object) -> Runtime:
    """The runtime for ``settings`` (default: from the environment) with ``overrides``."""
    chosen = settings or Settings()
    if overrides:
        from dataclasses import replace

        chosen = replace(chosen, **overrides)  # type: ignore[arg-type]
    return Runtime(chosen)


def migrate_store(url: str | None = None) -> MigrationResult:
    """Apply the side store's pending migration steps on purpose (``ledger migrate``)."""
    store = open_read_models(url or database_url(), TABLES)
    try:
        return migrate(store)
    finally:
        store.close()
