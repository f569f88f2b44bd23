"""Sustained commands per second through HTTP, with latency percentiles, next to the
raw single-row insert baseline measured in the same run.

- **HTTP commands**: a running ``ledger serve`` (one uvicorn process, as ``make run``
  starts it); client threads each report a sickness and then append events to their
  own cases with ``POST /cases/{id}/events`` for a fixed time.
- **raw single-row INSERT**: psycopg 3, one row per transaction, into a table of the
  event store's shape, by the same number of threads (PostgreSQL only).

Prints a table and appends a dated entry to BENCHMARKS.md.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import psycopg

from bench.common import (
    ROOT,
    bench_parser,
    commit,
    drop,
    finish,
    fresh_url,
    machine,
    pg_version,
)
from domain.access import Principal, Role
from services.api.auth import issue_token

KEY = "bench-signing-key-long-enough-for-hs256-000"
EVENT_TYPES = ["PlanEvaluated", "CaseManagerAppointed", "UWVNotified"]


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(share: float) -> float:
        return ordered[min(int(share * len(ordered)), len(ordered) - 1)] * 1000

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99)}


def run_threads(
    threads: int, seconds: float, work: Callable[[int, threading.Event], list[float]]
) -> tuple[int, float, list[float]]:
    stop = threading.Event()
    results: list[list[float]] = [[] for _ in range(threads)]

    def worker(n: int) -> None:
        results[n] = work(n, stop)

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies = [x for r in results for x in r]
    return len(latencies), elapsed, latencies


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def serve(url: str) -> tuple[subprocess.Popen[str], str]:
    port = _free_port()
    env = {**os.environ, "LEDGER_DATABASE_URL": url, "LEDGER_JWT_KEY": KEY}
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("ledger serve did not start")


def http_commands(base: str, threads: int, seconds: float) -> dict[str, Any]:
    token = issue_token(Principal("bench", Role.ADMIN), KEY)
    headers = {"Authorization": f"Bearer {token}"}
    first = date.today() - timedelta(days=300)
    report_latencies: list[float] = []  # POST /cases alone (looks up the employee's cases)

    def work(n: int, stop: threading.Event) -> list[float]:
        latencies: list[float] = []
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            while not stop.is_set():
                started = time.perf_counter()
                body = {"employee_id": f"E{n}-{uuid4().hex[:8]}", "employer_id": f"ER{n}",
                        "first_sick_day": first.isoformat()}  # fmt: skip
                created = client.post("/cases", json=body)
                assert created.status_code == 201, created.text
                latencies.append(time.perf_counter() - started)
                report_latencies.append(latencies[-1])
                case_id = created.json()["case_id"]
                for k in range(9):
                    if stop.is_set():
                        break
                    on = first + timedelta(days=10 + k * 20)
                    kind = EVENT_TYPES[k % len(EVENT_TYPES)]
                    data = {"case_manager_id": "cm-1"} if kind == "CaseManagerAppointed" else {}
                    started = time.perf_counter()
                    response = client.post(
                        f"/cases/{case_id}/events",
                        json={"type": kind, "occurred_on": on.isoformat(), "data": data},
                    )
                    assert response.status_code == 201, response.text
                    latencies.append(time.perf_counter() - started)
        return latencies

    count, elapsed, latencies = run_threads(threads, seconds, work)
    reports = percentiles(report_latencies)
    return {"commands": count, "rate": count / elapsed, **percentiles(latencies),
            "report_p50": reports["p50"], "report_p95": reports["p95"]}  # fmt: skip


def raw_inserts(base_url: str, threads: int, seconds: float) -> dict[str, Any]:
    schema = f"bench_raw_{uuid4().hex[:8]}"
    with psycopg.connect(base_url, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
        connection.execute(
            f'CREATE TABLE "{schema}".events (originator_id uuid, originator_version int, '
            "topic text, state bytea, notification_id bigserial, "
            "PRIMARY KEY (originator_id, originator_version))"
        )
    state = b'{"occurred_on": "2026-01-01", "actor": {"role": "system", "id": "bench"}}' * 2

    def work(_: int, stop: threading.Event) -> list[float]:
        latencies: list[float] = []
        with psycopg.connect(base_url, autocommit=True) as connection:
            while not stop.is_set():
                started = time.perf_counter()
                connection.execute(
                    f'INSERT INTO "{schema}".events (originator_id, originator_version, topic, '
                    "state) VALUES (%s, 1, 'bench', %s)",
                    (uuid4(), state),
                )
                latencies.append(time.perf_counter() - started)
        return latencies

    try:
        count, elapsed, latencies = run_threads(threads, seconds, work)
    finally:
        with psycopg.connect(base_url, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
    return {"commands": count, "rate": count / elapsed, **percentiles(latencies)}


def report(results: list[dict[str, Any]], version: str, threads: int, seconds: float) -> str:
    stamp = datetime.now().isoformat(timespec="seconds")
    out = [
        f"### HTTP commands - {stamp}",
        "",
        f"Machine: {machine()}; {version}; commit {commit()}; {threads} client threads, "
        f"{seconds:.0f} s per path; client and server on the same machine",
        "",
        "| path | store | commands | per second | p50 ms | p95 ms | p99 ms | rate / raw insert |",
        "|---|---|---|---|---|---|---|---|",
    ]
    raw = next((r for r in results if r["path"] == "raw single-row INSERT"), None)
    for r in results:
        ratio = f"{r['rate'] / raw['rate']:.2f}" if raw else "n/a"
        out.append(
            f"| {r['path']} | {r['store']} | {r['commands']:,} | {r['rate']:,.0f} | "
            f"{r['p50']:.1f} | {r['p95']:.1f} | {r['p99']:.1f} | {ratio} |"
        )
    out += ["", "Of which `POST /cases` (sickness reports) alone:", ""]
    for r in results:
        if "report_p50" in r:
            out.append(
                f"- {r['store']}: p50 {r['report_p50']:.1f} ms, p95 {r['report_p95']:.1f} ms"
            )
    return "\n".join(out) + "\n"


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    base = args.database_url.split("?")[0]
    workdir = ROOT / "bench" / "out"
    workdir.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = [
        {"path": "raw single-row INSERT", "store": "postgres",
         **raw_inserts(base, args.threads, args.seconds)}
    ]  # fmt: skip
    for kind in args.stores.split(","):
        url = fresh_url(base, kind, Path(workdir))
        process, server = serve(url)
        try:
            measured = http_commands(server, args.threads, args.seconds)
            results.append({"path": "HTTP command", "store": kind, **measured})
        finally:
            process.terminate()
            process.wait(timeout=30)
            drop(url)
    text = report(results, pg_version(base), args.threads, args.seconds)
    finish(text, args)


if __name__ == "__main__":
    main()
