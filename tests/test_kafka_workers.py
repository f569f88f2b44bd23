"""Scale-out projection workers over the feed topic: two workers, one killed mid-run,
build exactly the read model the single-node runner builds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from uuid import uuid4

import pytest

from infra.kafka import KafkaSettings
from infra.readmodel import ReadModelStore
from projections.base import CaseProjection
from projections.deadlines import DeadlineProjection
from projections.runner import ReadModelRunner
from projections.statistics import StatisticsProjection
from services.application.importer import import_lines, numbered
from services.application.ledger import Ledger
from services.schema import side_store as read_models
from services.tools.simulate import simulate
from services.workers.feed import Feed
from services.workers.kafka_worker import KafkaWorker
from tests.tansu import Broker
from tests.test_feed import KEY
from tests.test_poison_events import pending_set_aside, poison, store_unchecked
from tests.test_projection_runner import dump

PARTITIONS = 4


def _worker(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "services.cli", "project", "--source", "kafka", "--group", "g1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip


def test_two_workers_one_killed_equal_the_single_node_read_model(
    tmp_path: Path, broker: Broker
) -> None:
    lines = [json.dumps(x) for x in simulate(80, seed=17)]
    url, single_url = f"sqlite:///{tmp_path / 'ledger.db'}", f"sqlite:///{tmp_path / 'one.db'}"
    settings = KafkaSettings(bootstrap=broker.bootstrap, topic="scale-out", partitions=PARTITIONS)
    projections: list[CaseProjection] = [DeadlineProjection(), StatisticsProjection()]
    with Ledger(url) as ledger, read_models(url) as store:
        import_lines(ledger, numbered(lines))
        feed = Feed(ledger, store, settings, KEY, page_size=100)
        feed.publish()
        feed.close()
        env = {**os.environ, "LEDGER_DATABASE_URL": url, "LEDGER_KAFKA_BOOTSTRAP": broker.bootstrap,
               "LEDGER_FEED_TOPIC": settings.topic}  # fmt: skip
        first, second = _worker(env), _worker(env)
        try:
            assert first.stdout is not None
            assert first.stdout.readline(), "the first worker applied nothing before dying"
            first.send_signal(signal.SIGKILL)  # mid-run: no clean-up, no offset commit
            first.wait(timeout=10)
            ends = _end_offsets(settings)
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and not _caught_up(
                store, settings, projections, ends
            ):
                time.sleep(0.5)
            assert _caught_up(store, settings, projections, ends), "partitions did not move on"
        finally:
            for process in (first, second):
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                    process.wait(timeout=30)
        scaled = dump(store, projections)
    # the same ledger (subject pseudonyms are the ledger's own), projected on one node
    with Ledger(url) as ledger, read_models(single_url) as store:
        ReadModelRunner(ledger, store, projections).run()
        assert dump(store, projections) == scaled
    assert scaled["deadline"]
    assert scaled["trajectory"]


def _end_offsets(settings: KafkaSettings) -> dict[int, int]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap)
    partitions = [TopicPartition(settings.topic, p) for p in range(settings.partitions)]
    ends = {tp.partition: offset for tp, offset in consumer.end_offsets(partitions).items()}
    consumer.close()
    return ends


def _caught_up(
    store: ReadModelStore,
    settings: KafkaSettings,
    projections: list[CaseProjection],
    ends: dict[int, int],
    group: str = "g1",
) -> bool:
    for partition, end in ends.items():
        if end == 0:
            continue
        for projection in projections:
            name = f"kafka:{group}:{settings.topic}:{partition}:{projection.tracking_name}"
            if (store.position(name) or 0) < end:
                return False
    return True


def test_a_worker_sets_aside_what_it_cannot_apply_and_goes_on(
    tmp_path: Path, broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 19, hole 1, scaled out: the Kafka projection worker sets an event aside as the
    single-node runner does, and both build the same read model around it."""
    lines = [json.dumps(x) for x in simulate(20, seed=4)]
    url, single_url = f"sqlite:///{tmp_path / 'ledger.db'}", f"sqlite:///{tmp_path / 'one.db'}"
    settings = KafkaSettings(bootstrap=broker.bootstrap, topic="poison", partitions=2)
    projections: list[CaseProjection] = [DeadlineProjection(), StatisticsProjection()]
    bad = uuid4()
    with Ledger(url) as ledger, read_models(url) as store:
        import_lines(ledger, numbered(lines[:40]))
        store_unchecked(ledger, poison(bad), monkeypatch)
        import_lines(ledger, numbered(lines[40:]))
        feed = Feed(ledger, store, settings, KEY, page_size=100)
        feed.publish()
        feed.close()
        worker = KafkaWorker(ledger, store, projections, settings, "g-poison")
        try:
            ends = _end_offsets(settings)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not _caught_up(
                store, settings, projections, ends, group="g-poison"
            ):
                worker.step()
        finally:
            worker.close()
        assert _caught_up(store, settings, projections, ends, group="g-poison")
        held = pending_set_aside(store)
        assert {(h.projection.split(":")[0], h.case_id) for h in held} == {("deadlines", str(bad))}
        scaled = dump(store, projections)
    with Ledger(url) as ledger, read_models(single_url) as store:
        ReadModelRunner(ledger, store, projections).run()
        assert dump(store, projections) == scaled
        assert [h.case_id for h in pending_set_aside(store)] == [str(bad)]
