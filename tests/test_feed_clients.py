"""The feed read by clients that are not the one we write with: kcat and confluent-kafka,
both librdkafka (C), checked against the AsyncAPI document of the topic.

Debian's kcat links librdkafka 2.0.2, whose ApiVersion v3 parser underflows on Tansu's
response ("Protocol read buffer underflow for ApiVersion v3 at 274/279"), and turning
the version request off does not help. librdkafka 2.16, which the confluent-kafka wheel
carries, completes the handshake, so kcat runs here with that library in front of it
(same ABI, soname librdkafka.so.1).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any
from uuid import uuid4

import confluent_kafka
import jsonschema
import pytest

from domain.feed_contract import SOURCE, asyncapi_document
from infra.kafka import KafkaSettings
from services.application.importer import import_lines, numbered
from services.application.ledger import Ledger
from services.schema import side_store as read_models
from services.tools.simulate import simulate
from services.workers.feed import Feed
from tests.tansu import Broker

KEY = b"feed-clients-pseudonym-key"


def librdkafka_dir(tmp_path: Path) -> Path:
    """A folder whose librdkafka.so.1 is the newer one of the confluent-kafka wheel."""
    libs = Path(confluent_kafka.__file__).parent.parent / "confluent_kafka.libs"
    found = sorted(libs.glob("librdkafka-*.so.1"))
    assert found, f"no librdkafka in {libs}: reinstall confluent-kafka (make install)"
    folder = tmp_path / "librdkafka"
    folder.mkdir()
    (folder / "librdkafka.so.1").symlink_to(found[0])
    return folder


def kcat() -> str:
    found = shutil.which("kcat")
    if found is None:
        message = "kcat is not installed (make browser installs Debian's kcat)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture
def published(tmp_path: Path, broker: Broker) -> tuple[KafkaSettings, list[dict[str, Any]]]:
    """A real feed run of 12 simulated files; the settings and the stored events as lines."""
    settings = KafkaSettings(bootstrap=broker.bootstrap, topic=f"cases-{uuid4().hex[:8]}",
                             partitions=3)  # fmt: skip
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with Ledger(url) as ledger, read_models(url) as store:
        import_lines(ledger, numbered([json.dumps(x) for x in simulate(12, seed=8)]))
        feed = Feed(ledger, store, settings, KEY)
        feed.publish()
        feed.close()
        stored = [{"event_id": str(e.event_id), "type": type(e).__name__}
                  for e in ledger.stored_events()]  # fmt: skip
    return settings, stored


def _contract(settings: KafkaSettings) -> tuple[dict[str, Any], dict[str, Any]]:
    message = asyncapi_document(settings.topic, settings.partitions)["components"]["messages"]
    return message["caseEvent"]["headers"], message["caseEvent"]["payload"]


def _check(messages: list[dict[str, Any]], settings: KafkaSettings,
           stored: list[dict[str, Any]]) -> None:  # fmt: skip
    """Every stored event once, each message as the AsyncAPI document describes it."""
    headers_schema, payload_schema = _contract(settings)
    assert sorted(m["payload"]["event_id"] for m in messages) == sorted(
        s["event_id"] for s in stored
    )
    for m in messages:
        jsonschema.validate(m["headers"], headers_schema, format_checker=jsonschema.FormatChecker())
        jsonschema.validate(m["payload"], payload_schema)
        assert m["key"] == m["payload"]["case_key"] == m["headers"]["ce_subject"]
        assert m["headers"]["ce_id"] == m["payload"]["event_id"]
        assert m["headers"]["ce_type"].endswith("." + m["payload"]["type"])
        assert m["headers"]["ce_source"] == SOURCE


def test_kcat_reads_keys_headers_and_payloads(
    tmp_path: Path, published: tuple[KafkaSettings, list[dict[str, Any]]]
) -> None:
    settings, stored = published
    env = {**os.environ, "LD_LIBRARY_PATH": str(librdkafka_dir(tmp_path))}
    done = subprocess.run(
        [kcat(), "-b", settings.bootstrap, "-C", "-t", settings.topic, "-e", "-q", "-J"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    messages = []
    for text in done.stdout.splitlines():
        envelope = json.loads(text)
        pairs = envelope["headers"] or []  # kcat -J: [name, value, name, value, ...]
        messages.append({
            "key": envelope["key"],
            "headers": dict(zip(pairs[::2], pairs[1::2], strict=True)),
            "payload": json.loads(envelope["payload"]),
        })  # fmt: skip
    _check(messages, settings, stored)


def test_confluent_kafka_consumer_reads_the_same(
    published: tuple[KafkaSettings, list[dict[str, Any]]],
) -> None:
    settings, stored = published
    consumer = confluent_kafka.Consumer({
        "bootstrap.servers": settings.bootstrap, "group.id": f"check-{uuid4().hex[:6]}",
        "auto.offset.reset": "earliest", "enable.auto.commit": False,
        "enable.partition.eof": True,
    })  # fmt: skip
    start = confluent_kafka.OFFSET_BEGINNING
    consumer.assign([confluent_kafka.TopicPartition(settings.topic, p, start)
                     for p in range(settings.partitions)])  # fmt: skip
    messages: list[dict[str, Any]] = []
    at_end: set[int | None] = set()
    try:
        while len(at_end) < settings.partitions:
            got: Any = consumer.poll(10)
            assert got is not None, "confluent-kafka read nothing within 10 s"
            if got.error():
                assert got.error().code() == confluent_kafka.KafkaError._PARTITION_EOF, got.error()
                at_end.add(got.partition())
                continue
            messages.append({
                "key": got.key().decode(),
                "headers": {k: v.decode() for k, v in got.headers() or []},
                "payload": json.loads(got.value()),
            })  # fmt: skip
    finally:
        consumer.close()
    _check(messages, settings, stored)
