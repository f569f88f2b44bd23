"""`ledger project --status` and `/ready` for read models that Kafka workers build: their
lag comes from the workers' offsets and the partition ends they saw, plus what the feed
has not yet published, not from a log position those read models never have (issue 22:
it said "0 of 22,396")."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from infra.kafka import KafkaSettings
from projections.base import CaseProjection
from projections.deadlines import DeadlineProjection
from projections.statistics import StatisticsProjection
from services.application.importer import import_lines, numbered
from services.application.ledger import Ledger
from services.cli import main
from services.schema import side_store as read_models
from services.tools.simulate import simulate
from services.workers.feed import Feed
from services.workers.kafka_worker import KafkaWorker
from tests.tansu import Broker
from tests.test_feed import KEY


def _status(capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, Any]]:
    assert main(["project", "--status", "--json"]) == 0
    return {row["projection"]: row for row in json.loads(capsys.readouterr().out)}


def _work_until_done(worker: KafkaWorker, events: int) -> None:
    applied, deadline = 0, time.monotonic() + 60
    while applied < events and time.monotonic() < deadline:
        applied += sum(b.messages for b in worker.poll(timeout_ms=500))
    worker.poll(timeout_ms=200)  # one more poll: the partition ends it records
    assert applied == events


def test_status_of_read_models_built_over_kafka(
    tmp_path: Path, broker: Broker, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    monkeypatch.setenv("LEDGER_DATABASE_URL", url)
    settings = KafkaSettings(bootstrap=broker.bootstrap, topic="status-cases", partitions=3)
    projections: list[CaseProjection] = [DeadlineProjection(), StatisticsProjection()]
    first, later = list(simulate(30, seed=2)), list(simulate(3, seed=777))
    with Ledger(url) as ledger, read_models(url) as store:
        import_lines(ledger, numbered([json.dumps(x) for x in first]))
        feed = Feed(ledger, store, settings, KEY)
        feed.publish()
        worker = KafkaWorker(ledger, store, projections, settings, "g-status")
        try:
            _work_until_done(worker, len(first))
            done = _status(capsys)
            import_lines(ledger, numbered([json.dumps(x) for x in later]))  # not yet fed
            unfed = _status(capsys)
            feed.publish()
            worker.poll(timeout_ms=200)  # too short to apply everything, maybe
        finally:
            worker.close()
            feed.close()
    for name in ("deadlines", "statistics"):
        assert done[name]["behind"] == 0, done[name]
        assert done[name]["kafka"]["group"] == "g-status"
        assert sum(done[name]["kafka"]["applied"].values()) == len(first)
        assert unfed[name]["behind"] == len(later)  # what the feed has not yet put on the topic
    assert done["case_state"]["behind"] == len(first)  # nobody builds it: the log says
    assert "kafka" not in done["case_state"]


def test_text_status_says_how_kafka_workers_stand(
    tmp_path: Path, broker: Broker, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    monkeypatch.setenv("LEDGER_DATABASE_URL", url)
    settings = KafkaSettings(bootstrap=broker.bootstrap, topic="status-text", partitions=2)
    lines = list(simulate(10, seed=3))
    with Ledger(url) as ledger, read_models(url) as store:
        import_lines(ledger, numbered([json.dumps(x) for x in lines]))
        feed = Feed(ledger, store, settings, KEY)
        feed.publish()
        feed.close()
        worker = KafkaWorker(ledger, store, [DeadlineProjection()], settings, "g-text")
        try:
            _work_until_done(worker, len(lines))
        finally:
            worker.close()
    assert main(["project", "--status"]) == 0
    out = capsys.readouterr().out
    deadlines = next(line for line in out.splitlines() if line.startswith("deadlines"))
    assert "(0 notification ids behind)" in deadlines
    assert f"over Kafka: group g-text, topic status-text, {len(lines):,} of {len(lines):,}" in out
