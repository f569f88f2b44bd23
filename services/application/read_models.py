"""Running the read models for the ``ledger`` command: which ones, from the log or, to
scale out, from the feed's Kafka partitions."""

from __future__ import annotations

from dataclasses import dataclass

from infra.kafka import WORKER_POSITION, feed_positions, parse_worker_position, partition_ends
from infra.readmodel import ReadModelStore
from projections.base import CaseProjection
from projections.catalogue import all_projections, projections_named
from projections.runner import Progress, ReadModelRunner, RunSummary
from services.application.errors import InvalidRequest, Issue

__all__ = ["SCALE_OUT", "KafkaBuilt", "Progress", "ReadModelRunner", "RunSummary", "behind",
           "chosen", "kafka_built", "scale_out"]  # fmt: skip

SCALE_OUT = ["deadlines", "statistics"]  # read models that replace rows per case


def chosen(names: list[str] | None) -> list[CaseProjection]:
    """The read models named (every one when none), or ``InvalidRequest`` naming the known."""
    try:
        return projections_named(names) if names else all_projections()
    except ValueError as error:
        raise InvalidRequest(str(error), [Issue("only", str(error))]) from None


def scale_out(names: list[str] | None) -> list[CaseProjection]:
    """The read models a Kafka worker may keep: those that replace their rows per case."""
    wanted = names or SCALE_OUT
    if set(wanted) - set(SCALE_OUT):
        raise InvalidRequest(f"over Kafka only {', '.join(SCALE_OUT)} scale out",
                             [Issue("only", "not a scale-out read model")])  # fmt: skip
    return projections_named(wanted)


@dataclass(frozen=True)
class KafkaBuilt:
    """A read model as scale-out workers of one consumer group keep it: the messages of
    the topic they applied, how far its partitions reach (as the workers last saw), and
    what the feed has not yet put on the topic."""

    group: str
    topic: str
    applied: dict[int, int]  # partition: next offset to apply
    ends: dict[int, int]  # partition: its end (high-water mark)
    feed_behind: int
    seen_at: str | None

    @property
    def behind(self) -> int:
        """Notifications not yet in the rows: not yet applied, or not yet published."""
        unapplied = sum(max(end - self.applied.get(p, 0), 0) for p, end in self.ends.items())
        return unapplied + self.feed_behind


def kafka_built(store: ReadModelStore, runner: ReadModelRunner, head: int
                ) -> dict[str, KafkaBuilt]:  # fmt: skip
    """The read models of ``runner`` that Kafka workers build, by name (the group that is
    furthest on, when several do)."""
    published = feed_positions(store)
    seen: dict[tuple[str, str], list[dict[str, object]]] = {}
    for row in partition_ends(store):
        seen.setdefault((str(row["consumer_group"]), str(row["topic"])), []).append(row)
    # tracking name -> (group, topic) -> partition -> next offset, from one query
    offsets: dict[str, dict[tuple[str, str], dict[int, int]]] = {}
    for name, offset in store.positions_starting(WORKER_POSITION).items():
        group, topic, partition, tracking = parse_worker_position(name)
        offsets.setdefault(tracking, {}).setdefault((group, topic), {})[partition] = offset
    found: dict[str, KafkaBuilt] = {}
    for projection in runner.projections:
        for (group, topic), applied in offsets.get(projection.tracking_name, {}).items():
            rows = seen.get((group, topic), [])
            ends = {int(str(r["partition"])): int(str(r["end_offset"])) for r in rows}
            built = KafkaBuilt(group, topic, applied, ends, head - published.get(topic, 0),
                               max((str(r["at"]) for r in rows), default=None))  # fmt: skip
            if projection.name not in found or built.behind < found[projection.name].behind:
                found[projection.name] = built
    return found


def behind(store: ReadModelStore, runner: ReadModelRunner, head: int) -> dict[str, int]:
    """How many notifications each read model is behind the log's ``head``: from its own
    position, or, when Kafka workers build it, from theirs (the nearer of the two)."""
    lag = {name: head - (position or 0) for name, position in runner.positions().items()}
    for name, built in kafka_built(store, runner, head).items():
        lag[name] = min(lag[name], built.behind)
    return lag
