"""Sustained commands per second through HTTP, with latency percentiles, next to the
raw single-row insert baseline measured in the same run.

- **HTTP commands**: a running ``ledger serve`` (one uvicorn process, as ``make run``
  starts it); client threads each report a sickness and then append events to their
  own cases with ``POST /cases/{id}/events`` for a fixed time.
- **appends under wrk** (issue 20): ``wrk`` (a native load generator, so the client's
  own cost is not Python's) appends events to 2,000 open cases with ``POST
  /cases/{id}/events`` over ``--connections`` connections; once with group commit and
  the projection follower in its own process (``ledger serve --follower process``),
  once as before (``LEDGER_GROUP_COMMIT=0``, follower thread in the server): the before
  and after in the same run.
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


def serve(
    url: str, *, follower: str = "thread", env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], str]:
    port = _free_port()
    env = {**os.environ, "LEDGER_DATABASE_URL": url, "LEDGER_JWT_KEY": KEY, **(env or {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "--port", str(port),
         "--follower", follower],
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


WRK_SCRIPT = """
local cases = {%(cases)s}
local headers = {["Authorization"] = "Bearer %(token)s", ["Content-Type"] = "application/json"}
local n = 0
function setup(thread)
  thread:set("id", n)
  n = n + 1
end
function init(args)
  counter = id * 7919
end
function request()
  counter = counter + 1
  local case = cases[(counter %% #cases) + 1]
  local body = '{"type":"CaseManagerAppointed","occurred_on":"%(on)s",' ..
    '"data":{"case_manager_id":"cm-' .. counter .. '"}}'
  return wrk.format("POST", "/cases/" .. case .. "/events", headers, body)
end
"""
WRK_CASES = 2000


def open_cases(base: str, count: int) -> list[str]:
    token = issue_token(Principal("bench", Role.ADMIN), KEY)
    first = date.today() - timedelta(days=300)
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
        return [
            client.post("/cases", json={"employee_id": f"W-{uuid4().hex[:10]}",
                                        "employer_id": "ER-W",
                                        "first_sick_day": first.isoformat()}).json()["case_id"]
            for _ in range(count)
        ]  # fmt: skip


def wrk_appends(base: str, connections: int, seconds: float, workdir: Path) -> dict[str, Any]:
    """``wrk`` appending to open cases; its own report: requests/s, latency percentiles."""
    cases = open_cases(base, WRK_CASES)
    token = issue_token(Principal("bench", Role.ADMIN), KEY)
    script = workdir / "appends.lua"
    on = (date.today() - timedelta(days=200)).isoformat()
    script.write_text(WRK_SCRIPT % {"cases": ", ".join(f'"{c}"' for c in cases),
                                    "token": token, "on": on})  # fmt: skip
    threads = min(2, connections)
    done = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds:.0f}s",
         "--latency", "-s", str(script), base],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return parse_wrk(done.stdout)


def parse_wrk(text: str) -> dict[str, Any]:
    """Requests/s, the latency percentiles and the failed requests of wrk's report."""
    found: dict[str, Any] = {"failed": 0}
    for line in text.splitlines():
        words = line.split()
        if line.startswith("Requests/sec:"):
            found["rate"] = float(words[1])
        elif len(words) == 2 and words[0] in ("50%", "99%", "90%"):
            found[f"p{words[0][:-1]}"] = _ms(words[1])
        elif "requests in" in line:
            found["commands"] = int(words[0])
        elif line.strip().startswith("Non-2xx"):
            found["failed"] = int(words[-1])
    return found


def _ms(text: str) -> float:
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    raise ValueError(f"not a wrk latency: {text!r}")


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


# (label, follower, environment) of the server under wrk: before and after issue 20
SERVER_SHAPES = [
    ("before: one transaction per append, follower thread", "thread",
     {"LEDGER_GROUP_COMMIT": "0"}),
    ("after: group commit, follower process", "process", {"LEDGER_GROUP_COMMIT": "1"}),
]  # fmt: skip


def appends_report(
    rows: list[dict[str, Any]], raw: dict[str, Any], connections: int, seconds: float
) -> str:
    out = [
        "",
        f"Appends under wrk ({connections} connections, 2 wrk threads, {seconds:.0f} s each, "
        f"{WRK_CASES:,} open cases; raw insert: {raw['rate']:,.0f}/s):",
        "",
        "| server | store | appends | per second | p50 ms | p90 ms | p99 ms | failed "
        "| / raw insert |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['shape']} | {r['store']} | {r.get('commands', 0):,} | {r['rate']:,.0f} "
            f"| {r['p50']:.1f} | {r['p90']:.1f} | {r['p99']:.1f} | {r['failed']} "
            f"| {r['rate'] / raw['rate']:.3f} |"
        )
    return "\n".join(out) + "\n"


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=8, help="wrk's connections")
    args = parser.parse_args()
    base = args.database_url.split("?")[0]
    workdir = ROOT / "bench" / "out"
    workdir.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = [
        {"path": "raw single-row INSERT", "store": "postgres",
         **raw_inserts(base, args.threads, args.seconds)}
    ]  # fmt: skip
    appends: list[dict[str, Any]] = []
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
        for label, follower, env in SERVER_SHAPES:
            url = fresh_url(base, kind, Path(workdir))
            process, server = serve(url, follower=follower, env=env)
            try:
                measured = wrk_appends(server, args.connections, args.seconds, workdir)
                appends.append({"shape": label, "store": kind, **measured})
            finally:
                process.terminate()
                process.wait(timeout=30)
                drop(url)
    text = report(results, pg_version(base), args.threads, args.seconds)
    text += appends_report(appends, results[0], args.connections, args.seconds)
    finish(text, args)


if __name__ == "__main__":
    main()
