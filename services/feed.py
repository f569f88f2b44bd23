"""The analytics feed: every stored event, in store order, to a Kafka topic.

At least once: a page of events is sent, the broker acknowledges all of it
(``acks=all``), and only then does the checkpoint in the ledger's own database move
past it. A crash in between sends the page again; consumers deduplicate by
``event_id``. Kafka never blocks a ledger write: the feed is its own process.

The key is the pseudonymous case key, so a case's events share a partition and keep
their order; the value is ``domain.privacy.feed_message`` (no person, nothing medical,
no free text); the headers carry ``event_id``, ``type``, ``schema_version`` and the
``notification_id`` (scale-out workers read the stored event by it).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from threading import Event
from typing import Any, cast

from eventsourcing.persistence import InterfaceError, Notification, OperationalError
from kafka.errors import KafkaError

from domain import events as ev
from domain.interchange import to_line
from domain.privacy import FEED_SCHEMA_VERSION, feed_message
from infra.kafka import KafkaSettings, ensure_topic, producer, pseudonymizer, topic_is_empty
from infra.readmodel import ReadModelStore, Table
from services.ledger import Ledger

log = logging.getLogger("ledger.feed")

FEED_STATUS = Table(
    name="feed_status",
    columns=(("topic", "text"), ("state", "text"), ("detail", "text"), ("at", "text")),
    key=("topic",),
)


@dataclass(frozen=True)
class FeedRun:
    published: int
    position: int | None


class Feed:
    """Publishes the ledger's notification log to Kafka from its checkpoint."""

    def __init__(
        self,
        ledger: Ledger,
        store: ReadModelStore,
        settings: KafkaSettings,
        key: bytes,
        *,
        page_size: int = 500,
    ) -> None:
        self.ledger, self.store, self.settings = ledger, store, settings
        self.pseudonym = pseudonymizer(key)
        self.page_size = page_size
        self.checkpoint = f"feed:{settings.topic}"
        self._producer: Any = None
        store.create_tables([FEED_STATUS])

    def position(self) -> int | None:
        return self.store.position(self.checkpoint)

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
        published = 0
        while True:
            start = self.position()
            page = self.ledger.recorder.select_notifications(
                start or 0, self.page_size, inclusive_of_start=False
            )
            if not page:
                return FeedRun(published, start)
            self._send(page)
            self.store.apply(self.checkpoint, start, page[-1].id, [])
            published += len(page)
            if on_page is not None:
                on_page(page[-1].id, published)

    def _send(self, page: Sequence[Notification]) -> None:
        futures = []
        for notification in page:
            event = cast(ev.CaseEvent, self.ledger.mapper.to_domain_event(notification))
            subject = getattr(event, "subject_id", None)
            message = feed_message(
                to_line(event), self.pseudonym, str(subject) if subject else None
            )
            futures.append(
                self._producer.send(
                    self.settings.topic,
                    key=message["case_key"].encode(),
                    value=json.dumps(message, separators=(",", ":")).encode(),
                    headers=[
                        ("event_id", message["event_id"].encode()),
                        ("type", message["type"].encode()),
                        ("schema_version", str(FEED_SCHEMA_VERSION).encode()),
                        ("notification_id", str(notification.id).encode()),
                    ],
                )
            )
        self._producer.flush(timeout=self.settings.timeout_ms / 1000)
        for future in futures:
            future.get(timeout=self.settings.timeout_ms / 1000)  # raises if not acknowledged

    def follow(self, stop: Event, *, poll_seconds: float = 1.0, max_backoff: float = 30.0) -> None:
        """Publish new events as they arrive; when the broker is down, retry with backoff
        and record it (``GET /ready`` shows it) until it is back."""
        backoff = 0.5
        while not stop.is_set():
            try:
                run = self.publish()
                backoff = 0.5
                if run.published == 0:
                    stop.wait(poll_seconds)
            except (KafkaError, OperationalError, InterfaceError) as error:
                self.close()
                broker = self.settings.bootstrap
                what = "the database" if not isinstance(error, KafkaError) else f"broker {broker}"
                detail = f"{what} unreachable: {error}; retry in {backoff:.1f}s"
                log.warning("feed: %s", detail)
                with suppress(OperationalError, InterfaceError):
                    self.status("retrying", detail)
                stop.wait(backoff)
                backoff = min(backoff * 2, max_backoff)
        self.close()

    def status(self, state: str, detail: str) -> None:
        self.store.write(
            "INSERT INTO {feed_status} (topic, state, detail, at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (topic) DO UPDATE SET state = excluded.state, "
            "detail = excluded.detail, at = excluded.at",
            [self.settings.topic, state, detail, datetime.now(UTC).isoformat(timespec="seconds")],
        )


def feed_status(store: ReadModelStore) -> list[dict[str, Any]]:
    store.create_tables([FEED_STATUS])
    return store.query("SELECT topic, state, detail, at FROM {feed_status} ORDER BY topic")
