"""Scale-out projection workers: read models fed from the feed topic by a consumer group.

Each worker owns some partitions. All events of a case share a partition (the key is
the case key), so a case's rows are only ever written by the worker that owns it. A
message names its stored event (header ``notification_id``); the worker loads the
case as stored now and replaces its rows, which is idempotent: an event seen twice
(at-least-once feed, a rebalance) gives the same rows.

The read-model rows and each partition's next offset are written in one transaction
(positions named ``kafka:GROUP:TOPIC:PARTITION:PROJECTION``); on assignment a worker
seeks to the stored offsets, so a partition that moves to another worker carries on
exactly where its rows left off. Offsets are also committed to Kafka, afterwards, for
lag tooling.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from threading import Event
from typing import Any, cast
from uuid import UUID

from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition

from domain.case import Case
from domain.events import CaseEvent
from infra.kafka import KafkaSettings, record_partition_ends, worker_position
from infra.log_consumer import Follower, NotificationLog
from infra.readmodel import Change, ReadModelStore
from projections.base import CaseProjection
from projections.set_aside import changes_or_set_aside, fold_each, pending_of_cases
from services.application.ledger import Ledger

log = logging.getLogger("ledger.worker")


@dataclass(frozen=True)
class Batch:
    partition: int
    messages: int
    cases: int
    next_offset: int


class _Seek(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, worker: KafkaWorker) -> None:
        self.worker = worker

    def on_partitions_revoked(self, revoked: Any) -> None:
        log.info("partitions revoked: %s", sorted(p.partition for p in revoked))

    def on_partitions_assigned(self, assigned: Any) -> None:
        for tp in assigned:
            offset = self.worker.stored_offset(tp.partition)
            if offset is None:
                self.worker.consumer.seek_to_beginning(tp)
            else:
                self.worker.consumer.seek(tp, offset)
        log.info("partitions assigned: %s", sorted(p.partition for p in assigned))


class KafkaWorker(Follower):
    """A follower whose pages are the batches of its partitions; each projection keeps
    one position per partition, written with its rows."""

    name = "kafka worker"

    def __init__(
        self,
        ledger: Ledger,
        store: ReadModelStore,
        projections: Sequence[CaseProjection],
        settings: KafkaSettings,
        group: str,
        *,
        max_records: int = 200,
    ) -> None:
        self.ledger, self.store, self.settings, self.group = ledger, store, settings, group
        self.projections = list(projections)
        self._on_batch: Callable[[Batch], None] | None = None
        self.log = NotificationLog(ledger.recorder, ledger.mapper)
        self.consumer = KafkaConsumer(
            bootstrap_servers=settings.bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=max_records,
            # stack.md: a group joins promptly only with short timeouts on this broker
            session_timeout_ms=6000,
            max_poll_interval_ms=60000,
            heartbeat_interval_ms=1000,
            bootstrap_timeout_ms=settings.timeout_ms,
        )
        self.consumer.subscribe([settings.topic], listener=_Seek(self))

    def position_name(self, partition: int, projection: CaseProjection) -> str:
        return worker_position(self.group, self.settings.topic, partition,
                               projection.tracking_name)  # fmt: skip

    def stored_offset(self, partition: int) -> int | None:
        """The next offset to read for a partition: the least any projection has stored."""
        offsets = [self.store.position(self.position_name(partition, p)) for p in self.projections]
        return None if any(o is None for o in offsets) else min(cast(list[int], offsets))

    def poll(self, timeout_ms: int = 1000) -> list[Batch]:
        batches = []
        for tp, messages in self.consumer.poll(timeout_ms=timeout_ms).items():
            batches.append(self._apply(tp, messages))
        if batches:
            self.consumer.commit()  # after the rows: for lag tooling only
        self._record_ends()
        return batches

    def _record_ends(self) -> None:
        """Where the assigned partitions end, as the last fetch saw it: `project --status`
        and `/ready` tell this worker's lag from it without asking the broker."""
        ends = {tp.partition: self.consumer.highwater(tp) for tp in self.consumer.assignment()}
        known = {p: end for p, end in ends.items() if end is not None}
        if known:
            record_partition_ends(self.store, self.group, self.settings.topic, known)

    def _apply(self, tp: TopicPartition, messages: list[Any]) -> Batch:
        numbers = [int(dict(m.headers)["notification_id"]) for m in messages]
        by_case: dict[UUID, list[tuple[int, CaseEvent]]] = {}
        for number in numbers:
            event = self.log.event_at(number)
            by_case.setdefault(event.originator_id, []).append((number, event))
        cases, broken = self._load_cases(list(by_case))
        next_offset = messages[-1].offset + 1
        for projection in self.projections:
            name = self.position_name(tp.partition, projection)
            done = self.store.position(name)
            if done is not None and done >= next_offset:
                continue  # already applied (seen again after a rebalance)
            held = pending_of_cases(self.store, projection.tracking_name, list(by_case))
            changes: list[Change] = []
            for case_id, events in by_case.items():
                case = cases.get(case_id)
                rows = list if case is None else partial(projection.changes, case, [])
                found, _ = changes_or_set_aside(
                    projection.tracking_name, rows, events, held.get(str(case_id), []),
                    numbers[-1], reason=broken.get(case_id, ""),
                )  # fmt: skip
                changes.extend(found)
            self.store.apply(name, done, next_offset, changes)
        return Batch(tp.partition, len(messages), len(by_case), next_offset)

    def _load_cases(self, case_ids: list[UUID]) -> tuple[dict[UUID, Case], dict[UUID, str]]:
        """The cases at their latest version, and why those that cannot be folded are not."""
        return fold_each(case_ids, self._load)

    def _load(self, case_id: UUID) -> Case:
        return cast(Case, self.ledger.repository.get(case_id))

    def step(self) -> int:
        batches = self.poll()
        if self._on_batch is not None:
            for batch in batches:
                self._on_batch(batch)
        return sum(batch.messages for batch in batches)

    def run(self, stop: Event, on_batch: Callable[[Batch], None] | None = None) -> None:
        """Apply batches until ``stop`` is set (a poll waits for messages itself), backing
        off while the database is away."""
        self._on_batch = on_batch
        self.follow(stop, poll_seconds=0.0, first_backoff=1.0)

    def close(self) -> None:
        self.consumer.close()
