"""Example consumer of the analytics feed, for data teams to copy.

Reads the topic in a consumer group, deduplicates by ``event_id`` (the feed delivers
at least once) and writes the events to a DuckDB file, committing Kafka offsets only
after the DuckDB transaction. Run it again later and it carries on.

    python -m services.tools.examples.feed_to_duckdb --bootstrap 127.0.0.1:9092 \\
        --topic reintegration.case-events --group analytics --out feed.duckdb

Then, for example:  SELECT type, count(*) FROM events GROUP BY type;
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import duckdb
from kafka import KafkaConsumer

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    event_id    VARCHAR PRIMARY KEY,  -- deduplication: the feed is at-least-once
    case_key    VARCHAR NOT NULL,     -- a pseudonym: no person can be read from it
    type        VARCHAR NOT NULL,
    occurred_on DATE NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL,
    actor_role  VARCHAR NOT NULL,
    data        JSON NOT NULL
)
"""


def consume(bootstrap: str, topic: str, group: str, out: str, idle_seconds: float) -> int:
    """Copy new messages into ``out`` until none arrive for ``idle_seconds``; rows added."""
    database = duckdb.connect(out)
    database.execute(SCHEMA)
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
    )
    added, joined_by = 0, time.monotonic() + 60
    pending: dict[Any, list[Any]] = {}
    try:
        while not consumer.assignment() and time.monotonic() < joined_by:
            pending = consumer.poll(timeout_ms=200)  # joining the group
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < idle_seconds:
            polled = pending or consumer.poll(timeout_ms=500)
            pending = {}
            rows = [_row(m.value) for batch in polled.values() for m in batch]
            if not rows:
                continue
            quiet_since = time.monotonic()
            before = _count(database)
            database.execute("BEGIN")
            database.executemany(
                "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", rows
            )
            database.execute("COMMIT")
            consumer.commit()  # after the rows are safe
            added += _count(database) - before
    finally:
        consumer.close()
        database.close()
    return added


def _row(value: bytes) -> tuple[object, ...]:
    message = json.loads(value)
    return (
        message["event_id"],
        message["case_key"],
        message["type"],
        message["occurred_on"],
        message["recorded_at"],
        message["actor"]["role"],
        json.dumps(message["data"]),
    )


def _count(database: duckdb.DuckDBPyConnection) -> int:
    found = database.execute("SELECT count(*) FROM events").fetchone()
    return int(found[0]) if found else 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--topic", default="reintegration.case-events")
    parser.add_argument("--group", default="analytics")
    parser.add_argument("--out", default="feed.duckdb")
    parser.add_argument("--idle-seconds", type=float, default=10.0, help="stop after this quiet")
    args = parser.parse_args()
    added = consume(args.bootstrap, args.topic, args.group, args.out, args.idle_seconds)
    print(f"added {added} events to {args.out}")


if __name__ == "__main__":
    main()
