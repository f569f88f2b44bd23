"""Issue 11: the ledger loses and invents nothing under concurrent writers, kill -9 of
its processes, a PostgreSQL restart and a stuck lock. Real processes on a real
PostgreSQL (and a Kafka-protocol broker for the feed); the test starts, kills and
restarts them, then checks the store, the read models and the topic."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import psycopg
import pytest

from domain.case import Case
from projections.catalogue import all_projections
from projections.runner import ReadModelRunner
from services.application.importer import import_lines, numbered
from services.application.ledger import Ledger
from services.cli import main as cli
from services.schema import side_store as read_models
from services.tools.simulate import simulate
from tests.api_support import ADMIN, api
from tests.figures import record
from tests.processes import (
    LoadClient,
    Process,
    Server,
    appointment,
    environment,
    report_body,
    token,
)
from tests.test_backup import a_ledger_worth_backing_up
from tests.test_poison_events import correct_first_sick_day, poison


@pytest.fixture
def other_schema(postgres_url: str) -> Iterator[str]:
    """A second schema, for a read-model rebuild to compare against."""
    schema = f"test_{uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    yield f"{postgres_url}?schema={schema}"
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


def stored_events(url: str) -> list[Any]:
    with Ledger(url) as ledger:
        return list(ledger.stored_events())


def assert_nothing_lost_or_invented(
    url: str, client: LoadClient, node: pytest.Item | None = None
) -> dict[str, int]:
    """Every accepted event is stored once; nothing else is; versions run 1..n per case.
    With ``node``, the counts go to the test's figures (``make attack``)."""
    events = stored_events(url)
    ids = [str(e.event_id) for e in events]
    accepted = client.accepted_event_ids()
    counts = {"events": len(ids), "cases": len({e.originator_id for e in events}),
              "lost": len(set(accepted) - set(ids)), "invented": len(set(ids) - set(accepted)),
              "duplicated": len(ids) - len(set(ids))}  # fmt: skip
    if node is not None:
        record(node, requests=client.requests_sent, events_stored=counts["events"],
               lost=counts["lost"], duplicated=counts["duplicated"] + counts["invented"])
    assert not counts["duplicated"], "an event was stored twice"
    assert len(accepted) == len(set(accepted)), "two accepted requests named one event"
    assert set(ids) == set(accepted), f"lost {counts['lost']}, invented {counts['invented']}"
    versions: dict[UUID, list[int]] = {}
    for event in events:
        versions.setdefault(event.originator_id, []).append(event.originator_version)
    for case_id, seen in versions.items():
        assert sorted(seen) == list(range(1, len(seen) + 1)), f"gap in {case_id}: {seen}"
    return counts


def assert_read_models_converge(url: str, rebuilt_url: str, seconds: float = 60) -> None:
    """The incrementally built read models (by the processes under test) reach the head
    and equal a rebuild from scratch."""
    projections = all_projections()
    with Ledger(url) as ledger, read_models(url) as store, read_models(rebuilt_url) as fresh:
        head = ledger.recorder.max_notification_id() or 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if all((store.position(p.tracking_name) or 0) >= head for p in projections):
                break
            time.sleep(0.3)
        behind = [p.name for p in projections if (store.position(p.tracking_name) or 0) < head]
        assert not behind, f"read models did not catch up: {behind}"
        ReadModelRunner(ledger, fresh, projections).run()
        for projection in projections:
            for table in projection.tables:
                query = f"SELECT * FROM {{{table.name}}}"
                ours, theirs = store.query(query), fresh.query(query)
                key = lambda row: repr(sorted(row.items()))  # noqa: E731
                assert sorted(ours, key=key) == sorted(theirs, key=key), table.name


def group_committed(base: str, headers: dict[str, str]) -> float:
    """How many appends the server wrote in shared transactions (its ``/metrics``)."""
    metrics = httpx.get(f"{base}/metrics", headers=headers).text
    for line in metrics.splitlines():
        if line.startswith("ledger_group_committed_appends_total "):
            return float(line.split()[1])
    raise AssertionError("the server does not report group commits")


def open_cases(client: LoadClient, count: int) -> list[str]:
    cases = []
    for n in range(count):
        answer = client.send("POST", "/cases", report_body(f"EMP-L{n}-{uuid4().hex[:6]}"))
        assert answer.status == 201, answer.answer
        cases.append(answer.answer["case_id"])
    return cases


# --- concurrency ------------------------------------------------------------------------


@pytest.mark.parametrize("follower", ["thread", "process"])
def test_concurrent_writers_lose_nothing_and_invent_nothing(
    postgres_schema_url: str,
    other_schema: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    follower: str,
) -> None:
    """Appends are group-committed (``infra.group_commit``, on by default): writes that
    arrive together share a transaction, and each keeps its own answer."""
    env = environment(postgres_schema_url)
    server = Server(env, tmp_path / "serve.log", "--follower", follower).start()
    try:
        client = LoadClient(lambda: server.base, token(env))
        shared = open_cases(client, 3)

        def writer(n: int) -> None:
            (own,) = open_cases(client, 1)
            for i in range(24):
                target = shared[i % 3] if i % 2 else own
                headers = {}
                if i % 4 == 1:  # read, then write only if nobody wrote meanwhile
                    read = httpx.get(f"{server.base}/cases/{target}", headers=client.headers)
                    headers = {"If-Match": read.headers["etag"]}
                client.send("POST", f"/cases/{target}/events", appointment(f"cm-{n}-{i}"),
                            headers=headers)  # fmt: skip

        failures: list[BaseException] = []

        def guarded(n: int) -> None:
            try:
                writer(n)
            except BaseException as error:  # a writer that broke must fail the test
                failures.append(error)

        threads = [threading.Thread(target=guarded, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not failures, failures
        statuses = Counter(o.status for o in client.outcomes)
        assert set(statuses) <= {201, 409}, statuses  # success or a conflict, nothing else
        assert statuses[201] > 6 * 12
        record(request.node, faults="6 writers at once on 3 shared cases")
        counts = assert_nothing_lost_or_invented(postgres_schema_url, client, request.node)
        assert counts["cases"] == 9
        assert_read_models_converge(postgres_schema_url, other_schema)
        grouped = group_committed(server.base, client.headers)
        print(f"\nconcurrency: {dict(statuses)}; stored {counts}; lost 0, duplicated 0; "
              f"{grouped:.0f} appends group-committed")  # fmt: skip
    finally:
        server.stop()


# --- crash safety -------------------------------------------------------------------------


def _steady_load(client: LoadClient, cases: list[str], stop: threading.Event, pause: float) -> None:
    n = 0
    while not stop.is_set():
        outcome = client.send("POST", f"/cases/{cases[n % len(cases)]}/events",
                              appointment(f"cm-{n}"))  # fmt: skip
        n += 1
        time.sleep(pause if outcome.status is not None else 0.2)


def test_kill_9_of_server_projector_and_feed_loses_and_repeats_nothing(
    postgres_schema_url: str, other_schema: str, tmp_path: Path, broker: Any,
    request: pytest.FixtureRequest,
) -> None:  # fmt: skip
    from infra.kafka import KafkaSettings
    from tests.test_feed import read_topic

    topic = f"crash-{uuid4().hex[:8]}"
    env = environment(postgres_schema_url, LEDGER_KAFKA_BOOTSTRAP=broker.bootstrap,
                      LEDGER_FEED_TOPIC=topic, LEDGER_FEED_PARTITIONS="2",
                      LEDGER_IDEMPOTENCY_ABANDONED_SECONDS="1")  # fmt: skip
    servers = [Server(env, tmp_path / "serve.log").start()]
    others = [Process(["project", "--follow"], env, tmp_path / "project.log").start(),
              Process(["feed", "--follow"], env, tmp_path / "feed.log").start()]  # fmt: skip
    client = LoadClient(lambda: servers[-1].base, token(env))
    stop = threading.Event()
    try:
        cases = open_cases(client, 4)
        loaders = [threading.Thread(target=_steady_load, args=(client, cases, stop, 0.01))
                   for _ in range(3)]  # fmt: skip
        for loader in loaders:
            loader.start()
        time.sleep(2)
        for process in (servers[-1], *others):  # mid-load, no clean-up of any kind
            process.kill9()
        time.sleep(0.5)
        servers.append(Server(env, tmp_path / "serve.log").start())
        for process in others:
            process.start()
        time.sleep(2)
        stop.set()
        for loader in loaders:
            loader.join()
        lost = sum(o.status is None for o in client.outcomes)
        client.retry_lost()
        assert all(o.status in (200, 201) for o in client.outcomes), Counter(
            o.status for o in client.outcomes
        )
        record(request.node, faults="kill -9 of serve, project and feed mid-load",
               answers_lost_and_retried=lost)  # fmt: skip
        counts = assert_nothing_lost_or_invented(postgres_schema_url, client, request.node)
        assert counts["events"] > 50
        assert_read_models_converge(postgres_schema_url, other_schema)
        stored = {str(e.event_id) for e in stored_events(postgres_schema_url)}
        settings = KafkaSettings(bootstrap=broker.bootstrap, topic=topic, partitions=2)
        deadline = time.monotonic() + 60
        published: list[str] = []
        while time.monotonic() < deadline:
            published = [dict(m.headers)["event_id"].decode() for m in read_topic(settings)]
            if set(published) >= stored:
                break
            time.sleep(1)
        assert set(published) == stored  # every event reached the topic
        record(request.node, feed_messages=len(published),
               feed_repeats_deduplicated=len(published) - len(set(published)))  # fmt: skip
        print(f"\nkill -9: stored {counts}; answers lost and retried {lost}; feed repeats "
              f"(deduplicated by event_id) {len(published) - len(set(published))}; "
              "lost 0, duplicated 0")  # fmt: skip
    finally:
        stop.set()
        for process in (*servers, *others):
            process.stop()


def test_a_retry_after_a_crash_between_claim_and_write_is_applied_once(
    postgres_schema_url: str, tmp_path: Path
) -> None:
    """A server that died after claiming an Idempotency-Key but before answering leaves a
    claim; after LEDGER_IDEMPOTENCY_ABANDONED_SECONDS a retry takes it over."""
    env = environment(postgres_schema_url, LEDGER_IDEMPOTENCY_ABANDONED_SECONDS="1")
    server = Server(env, tmp_path / "serve.log").start()
    try:
        client = LoadClient(lambda: server.base, token(env))
        (case,) = open_cases(client, 1)
        with read_models(postgres_schema_url) as store:  # what a dead server leaves behind
            store.write(
                "INSERT INTO {idempotency_key} (subject, key, request_hash, status, body, "
                "created_at) VALUES (?, ?, ?, 0, 'null', '2026-01-01T00:00:00.000000Z')",
                ["admin|admin|*", "left-behind", "not-this-request"],
            )
        other = client.send("POST", f"/cases/{case}/events", appointment("cm-x"), key="left-behind")
        assert other.status == 422  # a claim for another request is not taken over
        with read_models(postgres_schema_url) as store:
            store.write("DELETE FROM {idempotency_key} WHERE key = ?", ["left-behind"])
        first = client.send("POST", f"/cases/{case}/events", appointment("cm-y"), key="k-9")
        with read_models(postgres_schema_url) as store:  # as if it died before answering
            store.write(
                "UPDATE {idempotency_key} SET status = 0, body = 'null', "
                "created_at = '2026-01-01T00:00:00.000000Z' WHERE key = ?",
                ["k-9"],
            )
        again = client.send("POST", f"/cases/{case}/events", appointment("cm-y"), key="k-9")
        assert (first.status, again.status) == (201, 200)  # 200: stored already, once
        assert again.answer["event_id"] == first.answer["event_id"]
        client.outcomes = [o for o in client.outcomes if o.key != "left-behind"]
        assert_nothing_lost_or_invented(postgres_schema_url, client)
    finally:
        server.stop()


# --- database faults ----------------------------------------------------------------------


def _cluster() -> list[str] | None:
    if shutil.which("pg_ctlcluster") is None or not Path("/etc/postgresql").is_dir():
        return None
    version = sorted(os.listdir("/etc/postgresql"), key=lambda v: [int(p) for p in v.split(".")])
    return ["pg_ctlcluster", "--skip-systemctl-redirect", version[-1], "main"]


def _postgres(action: str, *, check: bool = True) -> None:
    cluster = _cluster()
    assert cluster is not None
    subprocess.run([*cluster, action, *(["-m", "fast"] if action == "stop" else [])],
                   check=check, capture_output=True)  # fmt: skip


def test_the_api_answers_503_while_postgres_restarts_and_recovers_by_itself(
    postgres_schema_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if _cluster() is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs the local PostgreSQL cluster (pg_ctlcluster) to restart it")
        pytest.skip("no local PostgreSQL cluster to restart")
    # a command whose answer was lost may hold its key; retries take it over after 1 s
    env = environment(postgres_schema_url, LEDGER_IDEMPOTENCY_ABANDONED_SECONDS="1")
    server = Server(env, tmp_path / "serve.log").start()
    client = LoadClient(lambda: server.base, token(env))
    stop = threading.Event()
    try:
        cases = open_cases(client, 3)
        loader = threading.Thread(target=_steady_load, args=(client, cases, stop, 0.05))
        loader.start()
        time.sleep(1)
        _postgres("stop")
        try:  # down until the API has said so: a request waits for a connection at most
            deadline = time.monotonic() + 60  # the pool timeout (5 s), then gets a 503
            while time.monotonic() < deadline:
                if any(o.status == 503 for o in list(client.outcomes)):
                    break
                time.sleep(0.5)
        finally:
            _postgres("start")
        recovered_at = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and recovered_at is None:
            probe = client.send("POST", f"/cases/{cases[0]}/events", appointment("cm-probe"))
            if probe.status == 201:
                recovered_at = time.monotonic()
            time.sleep(0.5)
        assert recovered_at is not None, "the API did not recover within 60 s"
        time.sleep(1)
        stop.set()
        loader.join()
        statuses = Counter(o.status for o in client.outcomes)
        unavailable = [o for o in client.outcomes if o.status == 503]
        assert unavailable, f"no 503 while the database was down: {statuses}"
        assert all(o.answer.get("retry_after") for o in unavailable)
        assert "database" in unavailable[0].answer["title"].lower()
        assert set(statuses) <= {201, 503}, statuses  # never a 500
        client.retry_lost()
        record(request.node, faults="PostgreSQL stopped mid-load, then started",
               answered_503=len(unavailable))  # fmt: skip
        counts = assert_nothing_lost_or_invented(postgres_schema_url, client, request.node)
        print(f"\npostgres restart: {dict(statuses)} before retries; stored {counts}; "
              "lost 0, duplicated 0")  # fmt: skip
    finally:
        stop.set()
        server.stop()
        if _cluster() is not None:
            _postgres("start", check=False)  # already running, unless the test failed early


def test_a_stuck_lock_is_a_clear_503_not_a_hang(
    postgres_schema_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = f"{postgres_schema_url}&lock_timeout=1"
    env = environment(url)
    server = Server(env, tmp_path / "serve.log").start()
    try:
        client = LoadClient(lambda: server.base, token(env))
        (case,) = open_cases(client, 1)
        base, schema = postgres_schema_url.split("?schema=")
        with psycopg.connect(base) as holder:  # a transaction that never ends
            holder.execute(f'LOCK TABLE "{schema}".ledger_events IN ACCESS EXCLUSIVE MODE')
            stuck = client.send("POST", f"/cases/{case}/events", appointment("cm-lock"))
            holder.rollback()
        assert stuck.status == 503, stuck.answer  # answered (the client gives up after 15 s)
        # one lock timeout per statement that waits, not ten (infra/pg_recorder.py)
        print(f"\nstuck lock: 503 after {stuck.seconds:.1f}s with lock_timeout=1")
        assert "lock" in stuck.answer["detail"]
        assert stuck.answer["retry_after"]
        client.retry_lost()
        assert stuck.status == 201
        record(request.node, faults="an ACCESS EXCLUSIVE lock held on the events table")
        assert_nothing_lost_or_invented(postgres_schema_url, client, request.node)
    finally:
        server.stop()


def test_processes_starting_at_once_all_open_the_event_store(postgres_schema_url: str) -> None:
    """Every process sets up the event store at start, and the library replaces its insert
    function there (``CREATE OR REPLACE FUNCTION``): two at once failed one of them with
    "tuple concurrently updated" (a ``ledger project --follow`` starting beside a
    ``ledger project --status``, in make test). Four at once, ten times: none fails."""
    url = f"{postgres_schema_url}&pool_size=1&max_overflow=0"
    Ledger(url).close()  # the function exists: every start replaces it
    failures: list[BaseException] = []
    for _ in range(10):
        start = threading.Barrier(4)

        def open_ledger(start: threading.Barrier) -> None:
            start.wait()
            try:
                Ledger(url).close()
            except BaseException as error:
                failures.append(error)

        threads = [threading.Thread(target=open_ledger, args=(start,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not failures, failures


def test_first_requests_racing_to_create_tables_all_succeed(postgres_schema_url: str) -> None:
    """Eight sessions create one new table at once on a fresh schema: none fails."""
    from infra.readmodel import Table, open_read_models

    table = Table(f"race_{uuid4().hex[:8]}", (("k", "text"), ("v", "integer")), ("k",),
                  indexes=(("v",),))  # fmt: skip
    stores = [open_read_models(postgres_schema_url) for _ in range(8)]
    failures: list[BaseException] = []
    start = threading.Barrier(len(stores))

    def create(store: Any) -> None:
        start.wait()
        try:
            store.create_tables([table])
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=create, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    assert not failures, failures


def test_a_poison_event_amid_ten_thousand_is_set_aside_and_every_other_event_projected(
    postgres_schema_url: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest,
) -> None:  # fmt: skip
    """Issue 19, hole 1: an event no projection can apply (a year-9999 first sick day an
    older ledger stored) in the middle of a 10,000-event load stops nothing: every other
    event is projected, the poison is visible in ``ledger project --status`` and ``/ready``,
    and a correction lets it through."""
    url = postgres_schema_url
    lines = list(simulate(1750, seed=19, today=date(2026, 12, 1)))  # 10,004 lines: pinned
    bad = uuid4()
    middle = len(lines) // 2
    file = [json.dumps(x) for x in [*lines[:middle], poison(bad), *lines[middle:]]]
    assert len(file) >= 10_000
    with Ledger(url) as ledger, monkeypatch.context() as patched:
        patched.setattr(Case, "_admit_opening", staticmethod(lambda report: None))
        import_lines(ledger, numbered(file))
    monkeypatch.setenv("LEDGER_DATABASE_URL", url)
    capsys.readouterr()
    assert cli(["project", "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["events"] == len(file)

    cases = {x["case_id"] for x in lines}
    with read_models(url) as store:
        projected = {r["case_id"] for r in store.query("SELECT case_id FROM {case_state}")}
        assert projected == cases, "every case but the poisoned one is projected"
        indexed = store.query("SELECT COUNT(*) AS n FROM {case_event}")[0]["n"]
        assert indexed == len(file), "the event index holds every event, the poison too"
    assert cli(["project", "--status", "--json"]) == 0
    status = {row["projection"]: row for row in json.loads(capsys.readouterr().out)}
    assert {row["behind"] for row in status.values()} == {0}
    held = [(name, h["case_id"]) for name, row in status.items() for h in row["set_aside"]]
    assert held == [("case_state", str(bad)), ("deadlines", str(bad))]
    record(request.node, faults="a poison event amid the load", events_stored=len(file),
           events_projected=indexed, poison_events_set_aside=len({c for _, c in held}))

    with api(url) as client:
        held = client.get("/ready", headers=ADMIN).json()["set_aside"]
        assert held == {"case_state": 1, "deadlines": 1}
        assert correct_first_sick_day(client, str(bad), "2026-01-05").status_code == 201
        assert client.get(f"/cases/{bad}", headers=ADMIN).status_code == 200
        assert client.get("/deadlines?employer=ER1", headers=ADMIN).status_code == 200
        assert client.get("/ready", headers=ADMIN).json()["set_aside"] == {}
    with read_models(url) as store:
        found = store.query("SELECT case_id FROM {case_state} WHERE case_id = ?", [str(bad)])
        assert found, "the corrected case is projected"


def test_a_backup_restores_into_an_empty_postgresql_byte_for_byte(
    postgres_schema_url: str, other_schema: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:  # fmt: skip
    """Issue 19, hole 3, through the commands an operator runs (in their own processes):
    ``ledger export --backup`` of a ledger with an erased file, a medical note and 2,000
    simulated events, ``ledger restore`` into an empty schema, and the two compared row
    by row and byte by byte, in SQL."""
    monkeypatch.setenv("LEDGER_DATABASE_URL", postgres_schema_url)
    a_ledger_worth_backing_up(tmp_path, capsys)
    with Ledger(postgres_schema_url) as ledger:
        import_lines(ledger, numbered([json.dumps(x) for x in simulate(350, seed=31)]))
    ledger_command = [sys.executable, "-m", "services.cli"]
    backup = tmp_path / "ledger.backup"
    with backup.open("w") as out:
        subprocess.run([*ledger_command, "export", "--backup"], stdout=out, check=True,
                       env=environment(postgres_schema_url))  # fmt: skip
    subprocess.run([*ledger_command, "restore", str(backup)], check=True,
                   env=environment(other_schema))  # fmt: skip

    def rows(url: str, sql: str) -> list[tuple[Any, ...]]:
        base, schema = url.split("?schema=")
        with psycopg.connect(base) as connection:
            connection.execute(f'SET search_path TO "{schema}"')
            return [tuple(r) for r in connection.execute(sql).fetchall()]

    events = ("SELECT notification_id, originator_id, originator_version, topic, state "
              "FROM ledger_events ORDER BY notification_id")  # fmt: skip
    assert len(rows(postgres_schema_url, events)) >= 2_000
    assert rows(other_schema, events) == rows(postgres_schema_url, events)
    compared = len(rows(postgres_schema_url, events))
    for table in ("file_key", "subject_index_v2", "ledger_key", "key_epoch", "audit_leaf",
                  "audit_checkpoint_v3", "case_access_v2", "revoked_token"):  # fmt: skip
        sql = f"SELECT * FROM {table} ORDER BY 1, 2"
        assert rows(other_schema, sql) == rows(postgres_schema_url, sql), table
        compared += len(rows(postgres_schema_url, sql))
    record(request.node, backup_rows_restored_byte_for_byte=compared)
