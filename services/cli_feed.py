"""``ledger feed``."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from dataclasses import replace
from threading import Event
from types import FrameType

from kafka.errors import KafkaError

from domain.privacy import feed_message_schema
from infra.kafka import KafkaSettings, pseudonym_key
from infra.readmodel import read_models
from services.feed import Feed
from services.ledger import Ledger

EXIT_STORE = 4


def cmd_feed(args: argparse.Namespace) -> int:
    if args.schema:
        print(json.dumps(feed_message_schema(), indent=2))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    settings = KafkaSettings()
    for name in ("bootstrap", "topic", "partitions"):
        if getattr(args, name):
            settings = replace(settings, **{name: getattr(args, name)})
    with Ledger() as ledger, read_models(ledger.database_url) as store:
        feed = Feed(ledger, store, settings, pseudonym_key())
        if args.from_start:
            feed.from_start()
        if args.follow:
            stop = Event()

            def on_signal(signum: int, _frame: FrameType | None) -> None:
                stop.set()

            signal.signal(signal.SIGTERM, on_signal)
            signal.signal(signal.SIGINT, on_signal)
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
