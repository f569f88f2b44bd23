"""Kafka settings and clients, and the pseudonym key.

``LEDGER_KAFKA_BOOTSTRAP`` (default ``127.0.0.1:9092``), ``LEDGER_FEED_TOPIC``
(default ``reintegration.case-events``), ``LEDGER_FEED_PARTITIONS`` (default 6).
The pseudonym key is ``LEDGER_PSEUDONYM_KEY`` or, for development, a key created
once in ``LEDGER_PSEUDONYM_KEY_FILE`` (default ``.ledger-pseudonym.key``).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from infra.readmodel import ReadModelStore, Table

DEFAULT_TOPIC = "reintegration.case-events"
# Where the feed and the scale-out workers keep their positions (the tracking table):
# ``feed:TOPIC`` the last notification id published, ``kafka:GROUP:TOPIC:PARTITION:READ
# MODEL`` the next offset a worker applies. Topic names hold no ":" (Kafka forbids it).
FEED_CHECKPOINT = "feed:"
WORKER_POSITION = "kafka:"


def feed_checkpoint(topic: str) -> str:
    return FEED_CHECKPOINT + topic


def worker_position(group: str, topic: str, partition: int, tracking_name: str) -> str:
    return f"{WORKER_POSITION}{group}:{topic}:{partition}:{tracking_name}"


def parse_worker_position(name: str) -> tuple[str, str, int, str]:
    """(group, topic, partition, read model's tracking name) of a worker position."""
    _, group, topic, partition, tracking = name.split(":", 4)
    return group, topic, int(partition), tracking


def feed_positions(store: ReadModelStore) -> dict[str, int]:
    """The last notification id the feed published, per topic."""
    found = store.positions_starting(FEED_CHECKPOINT)
    return {name.removeprefix(FEED_CHECKPOINT): at for name, at in found.items()}

# What the feed last said of itself, per topic; ``GET /ready`` shows it.
FEED_STATUS = Table(
    name="feed_status",
    columns=(("topic", "text"), ("state", "text"), ("detail", "text"), ("at", "text")),
    key=("topic",),
)


# How far each partition of a topic reaches, as a scale-out worker last saw it (its
# consumer's high-water mark): with the worker's stored offsets, how far a read model
# built over Kafka is behind, without asking the broker.
KAFKA_PARTITION = Table(
    name="kafka_partition",
    columns=(("consumer_group", "text"), ("topic", "text"), ("partition", "integer"),
             ("end_offset", "integer"), ("at", "text")),
    key=("consumer_group", "topic", "partition"),
)


def record_partition_ends(
    store: ReadModelStore, group: str, topic: str, ends: dict[int, int]
) -> None:
    at = datetime.now(UTC).isoformat(timespec="seconds")
    store.write_many(
        "INSERT INTO {kafka_partition} (consumer_group, topic, partition, end_offset, at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (consumer_group, topic, partition) DO UPDATE "
        "SET end_offset = excluded.end_offset, at = excluded.at",
        [(group, topic, partition, end, at) for partition, end in sorted(ends.items())],
    )


def partition_ends(store: ReadModelStore) -> list[dict[str, Any]]:
    return store.query(
        "SELECT consumer_group, topic, partition, end_offset, at FROM {kafka_partition}"
    )


def record_feed_status(store: ReadModelStore, topic: str, state: str, detail: str) -> None:
    store.write(
        "INSERT INTO {feed_status} (topic, state, detail, at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (topic) DO UPDATE SET state = excluded.state, "
        "detail = excluded.detail, at = excluded.at",
        [topic, state, detail, datetime.now(UTC).isoformat(timespec="seconds")],
    )


def feed_status(store: ReadModelStore) -> list[dict[str, Any]]:
    return store.query("SELECT topic, state, detail, at FROM {feed_status} ORDER BY topic")


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap: str = field(
        default_factory=lambda: os.environ.get("LEDGER_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    )
    topic: str = field(default_factory=lambda: os.environ.get("LEDGER_FEED_TOPIC", DEFAULT_TOPIC))
    partitions: int = field(
        default_factory=lambda: int(os.environ.get("LEDGER_FEED_PARTITIONS", "6"))
    )
    timeout_ms: int = 10_000


def pseudonym_key() -> bytes:
    key = os.environ.get("LEDGER_PSEUDONYM_KEY")
    if key:
        return key.encode()
    path = Path(os.environ.get("LEDGER_PSEUDONYM_KEY_FILE", ".ledger-pseudonym.key"))
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip().encode()


def pseudonymizer(key: bytes) -> Any:
    """A keyed HMAC: the same input always gives the same pseudonym, and without the
    key nobody can compute or reverse one."""

    def pseudonym(value: str) -> str:
        return "p_" + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:32]

    return pseudonym


def producer(settings: KafkaSettings) -> KafkaProducer:
    """Acknowledged by every in-sync replica; one request in flight, so that a retried
    send cannot overtake the next one (per-case order)."""
    return KafkaProducer(
        bootstrap_servers=settings.bootstrap,
        acks="all",
        retries=3,
        max_in_flight_requests_per_connection=1,
        linger_ms=5,
        request_timeout_ms=settings.timeout_ms,
        max_block_ms=settings.timeout_ms,
        bootstrap_timeout_ms=settings.timeout_ms,
    )


def ensure_topic(settings: KafkaSettings) -> bool:
    """Create the topic if it is missing; whether it had to be created."""
    admin = KafkaAdminClient(
        bootstrap_servers=settings.bootstrap,
        request_timeout_ms=settings.timeout_ms,
        bootstrap_timeout_ms=settings.timeout_ms,
    )
    try:
        if settings.topic in admin.list_topics():
            return False
        try:
            admin.create_topics(
                [NewTopic(settings.topic, num_partitions=settings.partitions, replication_factor=1)]
            )
        except TopicAlreadyExistsError:
            return False
        return True
    finally:
        admin.close()


def topic_is_empty(settings: KafkaSettings) -> bool:
    """Whether no partition of the topic has ever held a message."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap, bootstrap_timeout_ms=settings.timeout_ms
    )
    try:
        partitions = consumer.partitions_for_topic(settings.topic) or set()
        ends = consumer.end_offsets([TopicPartition(settings.topic, p) for p in partitions])
        return bool(sum(ends.values()) == 0)
    finally:
        consumer.close()
