"""The analytics feed: every stored event, in store order, to a Kafka topic.

At least once: a page of events is sent, the broker acknowledges all of it
(``acks=all``), and only then does the checkpoint in the ledger's own database move
past it. A crash in between sends the page again; consumers deduplicate by
``event_id``. Kafka never blocks a ledger write: the feed is its own process.

The key is the pseudonymous case key, so a case's events share a partition and keep
their order; the value is ``domain.privacy.feed_message`` (no person, nothing medical,
no free text); the headers make it a CloudEvent in binary mode (``ce_id``, ``ce_type``,
``ce_subject`` = the case pseudonym, ...) and carry ``notification_id`` (scale-out
workers read the stored event by it): ``domain.feed_contract``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from threading import Event
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError
from kafka.errors import KafkaError

from domain.feed_contract import feed_headers
from domain.interchange import to_line
from domain.privacy import feed_message
from infra.kafka import (
    KafkaSettings,
    ensure_topic,
    feed_checkpoint,
    producer,
    pseudonymizer,
    record_feed_status,
    topic_is_empty,
)
from infra.log_consumer import LogConsumer, NotificationLog, Page
from infra.readmodel import ReadModelStore
from services.application.ledger import Ledger

log = logging.getLogger("ledger.feed")


@dataclass(frozen=True)
class FeedRun:
    published: int
    position: int | None


class Feed(LogConsumer):
    """Publishes the ledger's notification log to Kafka from its checkpoint. Events are
    read sealed: a feed message carries nothing a protected field holds."""

    name = "feed"
    retry_on = (KafkaError, OperationalError, InterfaceError)

    def __init__(
        self,
        ledger: Ledger,
        store: ReadModelStore,
        settings: KafkaSettings,
        key: bytes,
        *,
        page_size: int = 500,
    ) -> None:
        super().__init__(NotificationLog(ledger.recorder, ledger.mapper), page_size=page_size)
        self.ledger, self.store, self.settings = ledger, store, settings
        self.pseudonym = pseudonymizer(key)
        self.checkpoint = feed_checkpoint(settings.topic)
        self._producer: Any = None

    def position(self) -> int | None:
        return self.store.position(self.checkpoint)

    def start(self) -> int | None:
        return self.position()

    def from_start(self) -> None:
        """Forget the checkpoint: the next run publishes everything again."""
        self.store.reset(self.checkpoint, [])

    def connect(self) -> None:
        ensure_topic(self.settings)
        if self.position() and topic_is_empty(self.settings):
            # We had published, yet the topic holds nothing: the broker lost its data
            # (a restarted in-memory broker). Publish everything again.
            log.warning("topic %s is empty; publishing from the start", self.settings.topic)
            self.from_start()
        if self._producer is None:
            self._producer = producer(self.settings)
        self.status("publishing", f"connected to {self.settings.bootstrap}")

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=5)
            self._producer = None

    def publish(self, on_page: Callable[[int, int], None] | None = None) -> FeedRun:
        """Publish everything after the checkpoint, a page at a time."""
        self.connect()
        published = self.catch_up(
            None if on_page is None else lambda p: on_page(p.position, p.events)
        )
        return FeedRun(published, self.position())

    def apply(self, page: Page) -> int:
        """Send the page, wait until the broker has all of it, then move the checkpoint."""
        self._send(page)
        self.store.apply(self.checkpoint, self.start(), page.last, [])
        return len(page.events)

    def _send(self, page: Page) -> None:
        timeout = self.settings.timeout_ms / 1000
        futures = []
        for notification, event in zip(page.notifications, page.events, strict=True):
            subject = getattr(event, "subject_id", None)
            message = feed_message(
                to_line(event), self.pseudonym, str(subject) if subject else None
            )
            futures.append(
                self._producer.send(
                    self.settings.topic,
                    key=message["case_key"].encode(),
                    value=json.dumps(message, separators=(",", ":")).encode(),
                    headers=feed_headers(message, notification.id),
                )
            )
        self._producer.flush(timeout=timeout)
        for future in futures:
            future.get(timeout=timeout)  # raises if not acknowledged

    def step(self) -> int:
        return self.publish().published

    def on_retry(self, error: BaseException, backoff: float) -> None:
        """The broker or the database is away: drop the producer, say so (``GET /ready``)."""
        self.close()
        broker = self.settings.bootstrap
        what = "the database" if not isinstance(error, KafkaError) else f"broker {broker}"
        detail = f"{what} unreachable: {error}; retry in {backoff:.1f}s"
        log.warning("feed: %s", detail)
        with suppress(OperationalError, InterfaceError):
            self.status("retrying", detail)

    def follow(
        self,
        stop: Event,
        *,
        poll_seconds: float = 1.0,
        max_backoff: float = 30.0,
        first_backoff: float | None = 0.5,
        on_step: Callable[[int], None] | None = None,
        paced: bool = False,
    ) -> None:
        """Publish new events as they arrive, retrying with backoff while a broker or the
        database is away, until ``stop`` is set; then let the producer go."""
        try:
            super().follow(stop, poll_seconds=poll_seconds, max_backoff=max_backoff,
                           first_backoff=first_backoff, on_step=on_step, paced=paced)  # fmt: skip
        finally:
            self.close()

    def status(self, state: str, detail: str) -> None:
        record_feed_status(self.store, self.settings.topic, state, detail)
