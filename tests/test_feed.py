"""The analytics feed against a real Kafka-protocol broker (Tansu), read back with
kafka-python; tests/test_feed_clients.py reads it with librdkafka (kcat, confluent-kafka)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from kafka import KafkaConsumer, TopicPartition

from infra.kafka import KafkaSettings, feed_status
from infra.readmodel import ReadModelStore
from services.application.importer import import_lines, numbered
from services.application.ledger import Ledger
from services.schema import side_store as read_models
from services.tools.simulate import simulate
from services.workers.feed import Feed
from tests.tansu import Broker

KEY = b"feed-test-pseudonym-key"


def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def store(database_url: str) -> Iterator[ReadModelStore]:
    with read_models(database_url) as opened:
        yield opened


def _settings(broker: Broker) -> KafkaSettings:
    return KafkaSettings(bootstrap=broker.bootstrap, topic=f"cases-{uuid4().hex[:8]}", partitions=4)


def _population(ledger: Ledger, cases: int = 40, seed: int = 3) -> list[dict[str, Any]]:
    lines = list(simulate(cases, seed=seed))
    import_lines(ledger, numbered([json.dumps(x) for x in lines]))
    return lines


def read_topic(settings: KafkaSettings) -> list[Any]:
    """Every message on every partition, read without a consumer group."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap, enable_auto_commit=False, consumer_timeout_ms=3000
    )
    partitions = [TopicPartition(settings.topic, p) for p in range(settings.partitions)]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    ends = consumer.end_offsets(partitions)
    messages: list[Any] = []
    while any(consumer.position(p) < ends[p] for p in partitions):
        for batch in consumer.poll(timeout_ms=1000).values():
            messages.extend(batch)
    consumer.close()
    return messages


def _stored(ledger: Ledger) -> list[tuple[str, str]]:
    return [(str(e.originator_id), str(e.event_id)) for e in ledger.stored_events()]


def test_every_event_arrives_in_case_order_with_no_personal_data(
    ledger: Ledger, store: ReadModelStore, broker: Broker
) -> None:
    lines = _population(ledger)
    settings = _settings(broker)
    feed = Feed(ledger, store, settings, KEY, page_size=64)
    run = feed.publish()
    feed.close()
    assert run.published == len(lines)

    messages = read_topic(settings)
    values = [json.loads(m.value) for m in messages]
    stored = _stored(ledger)
    assert {v["event_id"] for v in values} == {event_id for _, event_id in stored}
    assert len(messages) == len(stored)  # one run: exactly once

    case_of = {event_id: case for case, event_id in stored}
    for partition in {m.partition for m in messages}:  # per case, store order within a partition
        ids = [json.loads(m.value)["event_id"] for m in messages if m.partition == partition]
        for case in {case_of[i] for i in ids}:
            in_topic = [i for i in ids if case_of[i] == case]
            assert in_topic == [e for c, e in stored if c == case]
    assert all(len({m.partition for m in messages if json.loads(m.value)["case_key"] == k}) == 1
               for k in {v["case_key"] for v in values})  # fmt: skip

    headers = dict(messages[0].headers)
    assert set(headers) == {"ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time",
                            "ce_subject", "content-type", "event_id", "type",
                            "schema_version", "notification_id"}  # fmt: skip
    everything = b"\n".join(m.value + (m.key or b"") for m in messages).decode()
    for item in lines:
        assert item["case_id"] not in everything
        for field in ("employee_id", "case_manager_id", "occupational_physician_id", "reason"):
            value = item["data"].get(field)
            if (isinstance(value, str) and field != "reason") or (
                field == "reason"
                and (item["type"] in ("EventCorrected", "EventRetracted", "WagePaymentSuspended"))
            ):
                assert f'"{value}"' not in everything, (field, value)
        if item["actor"]["role"] in ("case_manager", "occupational_physician", "employee"):
            assert f'"{item["actor"]["id"]}"' not in everything
    assert '"prognosis"' not in everything


class CrashAfterSend(Feed):
    """Dies after the broker acknowledged a page and before the checkpoint moved."""

    def __init__(self, *args: Any, crash_on: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pages, self.crash_on = 0, crash_on

    def _send(self, page: Any) -> None:
        super()._send(page)
        self.pages += 1
        if self.pages == self.crash_on:
            raise SystemExit("killed between send and checkpoint")


def test_a_crash_between_send_and_checkpoint_duplicates_but_loses_nothing(
    ledger: Ledger, store: ReadModelStore, broker: Broker
) -> None:
    _population(ledger)
    settings = _settings(broker)
    crashing = CrashAfterSend(ledger, store, settings, KEY, page_size=50, crash_on=2)
    with pytest.raises(SystemExit):
        crashing.publish()
    crashing.close()
    assert crashing.position() == ledger.recorder.select_notifications(0, 50)[-1].id

    Feed(ledger, store, settings, KEY, page_size=50).publish()
    ids = [json.loads(m.value)["event_id"] for m in read_topic(settings)]
    stored = {event_id for _, event_id in _stored(ledger)}
    assert set(ids) == stored  # no loss
    assert len(ids) == len(stored) + 50  # the second page went twice: consumers dedupe


def test_a_broker_restart_loses_nothing_after_recovery(tmp_path: Path) -> None:
    """The store is not what this is about: SQLite only, to keep `make test` short."""
    own = Broker()
    own.start()
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with Ledger(url) as ledger, read_models(url) as store:
        _restart_scenario(ledger, store, own)


def _restart_scenario(ledger: Ledger, store: ReadModelStore, own: Broker) -> None:
    try:
        first = _population(ledger, cases=20, seed=5)
        settings = KafkaSettings(
            bootstrap=own.bootstrap, topic="cases-restart", partitions=3, timeout_ms=2000
        )
        feed = Feed(ledger, store, settings, KEY, page_size=40)
        stop = threading.Event()
        worker = threading.Thread(
            target=feed.follow, args=(stop,), kwargs={"poll_seconds": 0.1, "max_backoff": 1.0}
        )
        worker.start()
        try:
            assert wait_for(lambda: feed.position() == ledger.recorder.max_notification_id(), 30)
            own.stop()  # the broker goes away (and, being in memory, forgets everything)
            more = _population(ledger, cases=15, seed=6)
            assert wait_for(lambda: any(s["state"] == "retrying" for s in feed_status(store)), 30)
            own.start()
            head = ledger.recorder.max_notification_id()
            assert wait_for(lambda: feed.position() == head, 60)
        finally:
            stop.set()
            worker.join(timeout=30)
        ids = {json.loads(m.value)["event_id"] for m in read_topic(settings)}
        assert ids == {event_id for _, event_id in _stored(ledger)}
        assert len(first) + len(more) == len(ids)
        assert feed_status(store)[0]["state"] == "publishing"
    finally:
        own.stop()


def test_the_published_message_schema_is_current_and_messages_keep_to_it(
    ledger: Ledger, store: ReadModelStore, broker: Broker
) -> None:
    import re

    from domain.privacy import feed_message_schema

    published = json.loads((Path(__file__).parent.parent / "schemas/feed-message.json").read_text())
    assert published == feed_message_schema(), (
        "run `ledger feed --schema > schemas/feed-message.json`"
    )
    _population(ledger, cases=15, seed=9)
    settings = _settings(broker)
    feed = Feed(ledger, store, settings, KEY)
    feed.publish()
    feed.close()
    allowed = set(published["properties"])
    for message in read_topic(settings):
        value = json.loads(message.value)
        assert set(value) <= allowed
        assert set(published["required"]) <= set(value)
        assert re.fullmatch(r"p_[0-9a-f]{32}", value["case_key"])
        assert message.key == value["case_key"].encode()


def test_the_duckdb_consumer_example_deduplicates(broker: Broker, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"  # the store is not the point: SQLite only
    with Ledger(url) as ledger, read_models(url) as store:
        _duckdb_scenario(ledger, store, broker, tmp_path)


def _duckdb_scenario(ledger: Ledger, store: ReadModelStore, broker: Broker, tmp_path: Path) -> None:
    import duckdb

    from services.tools.examples.feed_to_duckdb import consume

    _population(ledger, cases=20, seed=12)
    settings = _settings(broker)
    crashing = CrashAfterSend(ledger, store, settings, KEY, page_size=30, crash_on=1)
    with pytest.raises(SystemExit):
        crashing.publish()  # the first page goes out twice
    crashing.close()
    Feed(ledger, store, settings, KEY, page_size=30).publish()
    out = str(tmp_path / "feed.duckdb")
    stored = {event_id for _, event_id in _stored(ledger)}
    assert len(read_topic(settings)) == len(stored) + 30
    assert consume(settings.bootstrap, settings.topic, "analytics", out, idle_seconds=2) == len(
        stored
    )
    with duckdb.connect(out) as database:
        rows = database.execute("SELECT event_id FROM events").fetchall()
    assert {r[0] for r in rows} == stored
    assert consume(settings.bootstrap, settings.topic, "analytics", out, idle_seconds=1) == 0
