"""Analytics feed throughput and end-to-end lag, next to a raw kafka-python producer
measured in the same run, against a local Tansu broker (in memory).

1. Throughput: ``Feed.publish`` of a stored population (read the log, pseudonymise,
   send with acks=all, checkpoint per page) against a raw producer sending messages of
   the same size with acks=all and one flush at the end.
2. Lag at a steady input rate: events written through the ledger at R per second
   (default 1,000, in 50 writes a second) by another process while ``Feed.follow``
   runs; a consumer measures the time from each event's recording to its arrival.
   Baseline: the raw producer sending at the same rate, measured the same way.

Prints a table and appends a dated entry to BENCHMARKS.md.
"""

from __future__ import annotations

import json
import multiprocessing
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

from kafka import KafkaConsumer, KafkaProducer

from bench.common import (
    ROOT,
    bench_parser,
    commit,
    drop,
    finish,
    fresh_url,
    lines_for,
    machine,
    pg_version,
)
from domain.interchange import parse_line
from domain.privacy import feed_message
from infra.kafka import KafkaSettings, pseudonymizer
from services.application.importer import import_lines
from services.application.ledger import Ledger, offer
from services.bootstrap import bootstrap
from services.schema import side_store as read_models
from services.workers.feed import Feed
from tests.tansu import Broker

KEY = b"bench-pseudonym-key"


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples) or [0.0]

    def at(share: float) -> float:
        return ordered[min(int(share * len(ordered)), len(ordered) - 1)] * 1000

    return {"p50": at(0.5), "p95": at(0.95), "p99": at(0.99)}


def feed_throughput(ledger: Ledger, url: str, broker: Broker) -> tuple[int, float]:
    settings = KafkaSettings(bootstrap=broker.bootstrap, topic=f"bench-{uuid4().hex[:6]}")
    with read_models(url) as store:
        feed = Feed(ledger, store, settings, KEY, page_size=1000)
        feed.connect()
        started = time.perf_counter()
        run = feed.publish()
        elapsed = time.perf_counter() - started
        feed.close()
    return run.published, run.published / elapsed


def raw_throughput(broker: Broker, count: int, size: int) -> float:
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=5)
    topic = f"raw-{uuid4().hex[:6]}"
    value = b"x" * size
    producer.send(topic, key=b"warm", value=value).get(timeout=30)  # topic auto-created
    started = time.perf_counter()
    for n in range(count):
        producer.send(topic, key=str(n % 997).encode(), value=value)
    producer.flush()
    elapsed = time.perf_counter() - started
    producer.close()
    return count / elapsed


def _arrivals(
    bootstrap: str, topic: str, stop: threading.Event, out: list[float], wanted: set[str] | None
) -> None:
    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=f"lag-{uuid4().hex[:6]}",
        auto_offset_reset="latest", session_timeout_ms=6000, heartbeat_interval_ms=1000,
    )  # fmt: skip
    while not consumer.assignment():
        consumer.poll(timeout_ms=200)
    out.append(-1.0)  # ready marker
    while not stop.is_set():
        for batch in consumer.poll(timeout_ms=100).values():
            now = time.time()
            for message in batch:
                value = json.loads(message.value)
                if wanted is not None and value.get("event_id") not in wanted:
                    continue  # only the events sent at the steady rate
                out.append(now - datetime.fromisoformat(value["recorded_at"]).timestamp())
    consumer.close()


def _steady(rate: float, seconds: float, send: Any) -> float:
    """Call ``send`` ``rate`` times a second for ``seconds``; the rate achieved (lower when
    ``send`` cannot keep up)."""
    started = time.perf_counter()
    interval, next_at, end = 1 / rate, started, started + seconds
    sent = 0
    while next_at < end:
        send()
        sent += 1
        next_at += interval
        time.sleep(max(next_at - time.perf_counter(), 0))
    return sent / (time.perf_counter() - started)


def _writer(url: str, lines: list[str], rate: float, seconds: float, out: Any) -> None:
    """The writer of the lag test, in its own process as the API or an import would be:
    ``lines`` (new sickness reports) at ``rate`` a second, in 50 writes a second; puts the
    rate it achieved on ``out``."""
    per_write = max(1, round(rate / 50))
    batches = iter([lines[i : i + per_write] for i in range(0, len(lines), per_write)])
    with bootstrap(database_url=url) as rt:
        ledger = rt.ledger

        def write() -> None:
            parsed = [parse_line(text) for text in next(batches, [])]
            known = ledger.subjects_of(parsed)  # as an import: the subjects in one statement
            events = [
                event
                for line in parsed
                for event in offer(None, line, ledger.subject_of(line, known)).collect_case_events()
            ]
            ledger.open_new_files(events)
            ledger.write_sealed(ledger.seal(events))

        out.put(_steady(rate / per_write, seconds, write) * per_write)


def feed_lag(
    ledger: Ledger, url: str, broker: Broker, rate: float, seconds: float, achieved: list[float]
) -> list[float]:
    settings = KafkaSettings(bootstrap=broker.bootstrap, topic=f"lag-{uuid4().hex[:6]}")
    lags: list[float] = []
    stop = threading.Event()
    with read_models(url) as store:
        feed = Feed(ledger, store, settings, KEY, page_size=500)
        feed.publish()  # the backlog first: lag is measured on new events only
        follower = threading.Thread(target=feed.follow, args=(stop,), kwargs={"poll_seconds": 0.05})
        follower.start()
        sent: set[str] = set()
        reader = threading.Thread(
            target=_arrivals, args=(broker.bootstrap, settings.topic, stop, lags, sent)
        )
        reader.start()
        while not lags:
            time.sleep(0.05)
        first = (date.today() - timedelta(days=3)).isoformat()
        lines = [json.dumps({
            "event_id": str(uuid4()), "case_id": str(uuid4()), "type": "SicknessReported",
            "occurred_on": first, "actor": {"role": "employer", "id": "ER-B"},
            "data": {"employee_id": "E", "employer_id": "ER-B", "first_sick_day": first},
        }) for _ in range(int(rate * seconds))]  # fmt: skip
        sent.update(json.loads(text)["event_id"] for text in lines)
        context = multiprocessing.get_context("spawn")
        out = context.Queue()
        writer = context.Process(target=_writer, args=(url, lines, rate, seconds, out))
        writer.start()
        achieved.append(out.get())
        writer.join()
        time.sleep(2)
        stop.set()
        follower.join()
        reader.join()
    return [x for x in lags if x >= 0]


def raw_lag(broker: Broker, rate: float, seconds: float) -> list[float]:
    topic = f"rawlag-{uuid4().hex[:6]}"
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=5)
    producer.send(topic, value=b'{"recorded_at": "2026-01-01T00:00:00+00:00"}').get(timeout=30)
    lags: list[float] = []
    stop = threading.Event()
    reader = threading.Thread(target=_arrivals, args=(broker.bootstrap, topic, stop, lags, None))
    reader.start()
    while not lags:
        time.sleep(0.05)

    def send() -> None:
        stamp = datetime.now(UTC).isoformat()
        producer.send(topic, value=json.dumps({"recorded_at": stamp}).encode())

    _steady(rate, seconds, send)
    producer.flush()
    time.sleep(2)
    stop.set()
    reader.join()
    producer.close()
    return [x for x in lags if x >= 0]


def run(kind: str, base: str, events: int, rate: float, seconds: float) -> dict[str, Any]:
    workdir = ROOT / "bench" / "out"
    workdir.mkdir(parents=True, exist_ok=True)
    url = fresh_url(base, kind, Path(workdir))
    broker = Broker()
    broker.start()
    try:
        with bootstrap(database_url=url) as rt:
            ledger = rt.ledger
            import_lines(ledger, lines_for(events))
            count, rate_feed = feed_throughput(ledger, url, broker)
            sample = feed_message(next(iter(ledger.export())), pseudonymizer(KEY))
            size = len(json.dumps(sample, separators=(",", ":")))
            rate_raw = raw_throughput(broker, count, size)
            achieved: list[float] = []
            lag_feed = _percentiles(feed_lag(ledger, url, broker, rate, seconds, achieved))
            lag_raw = _percentiles(raw_lag(broker, rate, seconds))
    finally:
        broker.stop()
        drop(url)
    return {"store": kind, "events": count, "feed": rate_feed, "raw": rate_raw,
            "lag_feed": lag_feed, "lag_raw": lag_raw, "achieved": achieved[0]}  # fmt: skip


def report(results: list[dict[str, Any]], version: str, rate: float, seconds: float) -> str:
    stamp = datetime.now().isoformat(timespec="seconds")
    out = [
        f"### Analytics feed - {stamp}",
        "",
        f"Machine: {machine()}; {version}; Tansu in memory on loopback; commit {commit()}",
        "",
        "| store | events | feed (ev/s) | raw producer (ev/s) | feed / raw |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        out.append(f"| {r['store']} | {r['events']:,} | {r['feed']:,.0f} | {r['raw']:,.0f} "
                   f"| {r['feed'] / r['raw']:.2f} |")  # fmt: skip
    out += ["", f"End-to-end lag at {rate:.0f} events/s asked, for {seconds:.0f} s (ms):", "",
            "| store | input achieved (ev/s) | feed p50 | feed p95 | feed p99 | raw p50 | raw p95 "
            "| raw p99 |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in results:
        f, w = r["lag_feed"], r["lag_raw"]
        out.append(f"| {r['store']} | {r['achieved']:,.0f} | {f['p50']:.0f} | {f['p95']:.0f} "
                   f"| {f['p99']:.0f} | {w['p50']:.0f} | {w['p95']:.0f} "
                   f"| {w['p99']:.0f} |")  # fmt: skip
    return "\n".join(out) + "\n"


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--rate", type=float, default=1000.0, help="events/s for the lag test")
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    base = args.database_url.split("?")[0]
    results = [run(k, base, args.events, args.rate, args.seconds) for k in args.stores.split(",")]
    text = report(results, pg_version(base), args.rate, args.seconds)
    finish(text, args)


if __name__ == "__main__":
    main()
