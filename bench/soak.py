"""`make soak`: a bounded steady load against `ledger serve` on PostgreSQL over loopback.

Reports, per window: commands accepted and rejected, latency percentiles, and the
server's resident memory; at the end, the consistency check of the reliability
tests: every accepted event stored once, nothing else stored, versions contiguous,
read models equal to a rebuild. Appends a dated entry to BENCHMARKS.md.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from uuid import uuid4

import psycopg

from bench.common import ROOT, bench_parser, commit, finish, machine, pg_version
from tests.processes import LoadClient, Server, appointment, environment, report_body, token
from tests.test_reliability import assert_nothing_lost_or_invented, assert_read_models_converge


@dataclass
class Window:
    second: float
    accepted: int
    rejected: int
    p50: float
    p95: float
    p99: float
    rss_mib: float


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


EVENTS_PER_CASE = 40  # then a new report: files as long as real ones (30-60 events)


def load(client: LoadClient, cases: list[str], rate: float, stop: threading.Event) -> None:
    """One client's share of a steady rate: a command every 1/rate seconds, on schedule.
    It cycles over a few open cases and replaces each after ``EVENTS_PER_CASE`` events."""
    n, started = 0, time.monotonic()
    live = list(cases)
    while not stop.is_set():
        slot = n % len(live)
        if n and n % (EVENTS_PER_CASE * len(live)) < len(live):  # this slot's case is full
            opened = client.send("POST", "/cases", report_body(f"EMP-SOAK-{uuid4().hex[:10]}"))
            if opened.status == 201:
                live[slot] = opened.answer["case_id"]
        else:
            client.send("POST", f"/cases/{live[slot]}/events", appointment(f"cm-{n}"))
        n += 1
        delay = started + n / rate - time.monotonic()
        if delay > 0:
            stop.wait(delay)


def run(
    base: str, minutes: float, rate: float, clients: int, window: float
) -> tuple[list[Window], dict[str, int]]:
    schema = f"soak_{uuid4().hex[:8]}"
    rebuilt = f"soak_{uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
        connection.execute(f'CREATE SCHEMA "{rebuilt}"')
    url = f"{base}?schema={schema}"
    server = Server(environment(url), ROOT / "bench" / "out" / "soak-serve.log").start()
    try:
        client = LoadClient(lambda: server.base, token(environment(url)))
        cases = [client.send("POST", "/cases", report_body(f"EMP-SOAK-{i}")).answer["case_id"]
                 for i in range(5 * clients)]  # fmt: skip
        stop = threading.Event()
        threads = [threading.Thread(target=load, args=(client, cases[5 * i : 5 * i + 5],
                                                       rate / clients, stop))
                   for i in range(clients)]  # fmt: skip
        started = time.monotonic()
        for thread in threads:
            thread.start()
        windows: list[Window] = []
        seen = len(client.outcomes)
        while time.monotonic() - started < minutes * 60:
            time.sleep(window)
            with client.lock:
                batch = client.outcomes[seen:]
                seen = len(client.outcomes)
            latencies = [o.seconds * 1000 for o in batch]
            windows.append(Window(
                round(time.monotonic() - started), sum(o.status == 201 for o in batch),
                sum(o.status != 201 for o in batch), percentile(latencies, 0.5),
                percentile(latencies, 0.95), percentile(latencies, 0.99),
                rss_mib(server.process.pid) if server.process else 0.0,
            ))  # fmt: skip
            print(f"  {windows[-1]}", flush=True)
        stop.set()
        for thread in threads:
            thread.join()
        client.retry_lost()
        counts = assert_nothing_lost_or_invented(url, client)
        assert_read_models_converge(url, f"{base}?schema={rebuilt}")
        rejected = Counter(o.status for o in client.outcomes if o.status != 201)
        counts["rejected"] = sum(rejected.values())
        counts["rejections"] = dict(rejected)  # type: ignore[assignment]
        return windows, counts
    finally:
        server.stop()
        with psycopg.connect(base, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
            connection.execute(f'DROP SCHEMA "{rebuilt}" CASCADE')


def report(windows: list[Window], counts: dict[str, int], minutes: float, rate: float,
           base: str) -> str:  # fmt: skip
    stamp = datetime.now().isoformat(timespec="seconds")
    accepted = sum(w.accepted for w in windows)
    lines = [
        f"### Soak - {stamp}",
        "",
        f"Machine: {machine()}; {pg_version(base)}; commit {commit()}",
        f"Load: {rate:g} commands/s asked for {minutes:g} min through `ledger serve` over "
        f"loopback; achieved {accepted / (minutes * 60):.1f}/s accepted. Each case takes "
        f"{EVENTS_PER_CASE} events, then a new report opens the next.",
        "",
        "| at (s) | accepted | rejected | p50 (ms) | p95 (ms) | p99 (ms) | server RSS (MiB) |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {w.second} | {w.accepted} | {w.rejected} | {w.p50:.1f} | {w.p95:.1f} "
            f"| {w.p99:.1f} | {w.rss_mib:.0f} |"
            for w in windows
        ),
        "",
        f"Accepted {accepted:,} in the windows; events stored {counts['events']:,} in "
        f"{counts['cases']} cases; rejected {counts['rejected']} (by status: "
        f"{counts['rejections']}); events lost 0, "
        "events duplicated 0 (checked: every accepted event stored once, nothing else, "
        "versions contiguous, read models equal to a rebuild). Median p99 over windows: "
        f"{statistics.median(w.p99 for w in windows):.1f} ms.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rate", type=float, default=50, help="commands per second in all")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--window", type=float, default=60, help="seconds per reported window")
    args = parser.parse_args()
    base = args.database_url.split("?")[0]
    (ROOT / "bench" / "out").mkdir(parents=True, exist_ok=True)
    windows, counts = run(base, args.minutes, args.rate, args.clients, args.window)
    finish(report(windows, counts, args.minutes, args.rate, base), args)


if __name__ == "__main__":
    main()
