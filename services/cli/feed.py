"""``ledger feed``."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

from kafka.errors import KafkaError

from domain.feed_contract import asyncapi_document
from domain.privacy import feed_message_schema
from services.bootstrap import Settings, configure_logging
from services.cli.common import EXIT_STORE, Commands, command, runtime, stop_on_signals


def register(commands: Commands) -> None:
    p = command(
        commands, "feed", cmd_feed,
        help="publish the events to Kafka for analytics (pseudonymised)",
        description="Publish every stored event, in store order, to a Kafka topic: key the\n"
        "pseudonymous case key, value the interchange JSON with people replaced by\n"
        "pseudonyms and medical fields and free text removed (schemas/feed-message.json).\n"
        "The checkpoint moves only after the broker acknowledged (acks=all): at least\n"
        "once; consumers deduplicate by event_id. Settings: LEDGER_KAFKA_BOOTSTRAP,\n"
        "LEDGER_FEED_TOPIC, LEDGER_FEED_PARTITIONS, LEDGER_PSEUDONYM_KEY. Each message is\n"
        "a CloudEvent in binary mode (ce_ headers); --asyncapi prints the topic's contract.",
        examples=["ledger feed", "ledger feed --follow", "ledger feed --from-start",
                  "ledger feed --asyncapi > schemas/feed-asyncapi.json"],
    )  # fmt: skip
    p.add_argument("--follow", action="store_true", help="keep publishing; retry when down")
    p.add_argument("--from-start", action="store_true", help="publish everything again")
    p.add_argument("--bootstrap", help="broker host:port (default LEDGER_KAFKA_BOOTSTRAP)")
    p.add_argument("--topic", help="topic (default reintegration.case-events)")
    p.add_argument("--partitions", type=int, help="partitions when creating the topic")
    p.add_argument("--schema", action="store_true", help="print the message JSON Schema")
    p.add_argument("--asyncapi", action="store_true",
                   help="print the topic's AsyncAPI 3 document (headers, payload)")  # fmt: skip


def cmd_feed(args: argparse.Namespace) -> int:
    if args.schema:
        print(json.dumps(feed_message_schema(), indent=2))
        return 0
    if args.asyncapi:
        defaults = Settings().kafka
        document = asyncapi_document(args.topic or defaults.topic,
                                     args.partitions or defaults.partitions)  # fmt: skip
        print(json.dumps(document, indent=2))
        return 0
    configure_logging()
    with runtime() as rt:
        settings = rt.settings.kafka
        for name in ("bootstrap", "topic", "partitions"):
            if getattr(args, name):
                settings = replace(settings, **{name: getattr(args, name)})
        feed = rt.feed(settings)
        if args.from_start:
            feed.from_start()
        if args.follow:
            stop = stop_on_signals()
            print(f"feeding {settings.topic} at {settings.bootstrap}; Ctrl-C stops",
                  file=sys.stderr)  # fmt: skip
            feed.follow(stop)
            return 0
        try:
            run = feed.publish(lambda at, n: print(f"feed: {n:,} events, at {at:,}",
                                                   file=sys.stderr))  # fmt: skip
        except KafkaError as error:
            feed.status("retrying", f"broker {settings.bootstrap} unreachable: {error}")
            print(
                f"ledger feed: the broker {settings.bootstrap} is unreachable: {error}\n"
                "Start it, or set LEDGER_KAFKA_BOOTSTRAP / --bootstrap.",
                file=sys.stderr,
            )
            return EXIT_STORE
        finally:
            feed.close()
    print(f"published {run.published:,} events to {settings.topic}; checkpoint {run.position}")
    return 0
