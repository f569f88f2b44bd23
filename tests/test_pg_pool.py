"""A pooled PostgreSQL connection whose session the server ended is not handed out: the
pool checks each connection by its socket (infra/pg_pool.py) instead of pinging it, and
replaces the one the server wrote to while it was idle."""

from __future__ import annotations

import json
import time
from datetime import date
from uuid import uuid4

import psycopg
import pytest

from domain.interchange import parse_line
from infra.readmodel import open_read_models
from services.application.ledger import Ledger
from tests.factories import report

pytestmark = pytest.mark.postgres


def _terminate(admin_url: str, pid: int) -> None:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        deadline = time.monotonic() + 10
        while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
            assert time.monotonic() < deadline, "the backend did not end"
            time.sleep(0.05)


def test_a_read_after_the_server_ended_the_session_gets_a_new_connection(
    postgres_url: str, postgres_schema_url: str
) -> None:
    store = open_read_models(f"{postgres_schema_url}&pool_size=1&max_overflow=0")
    try:
        before = store.query("SELECT pg_backend_pid() AS pid")[0]["pid"]
        _terminate(postgres_url, before)
        after = store.query("SELECT pg_backend_pid() AS pid")[0]["pid"]  # no error
        assert after != before
    finally:
        store.close()


def test_a_healthy_idle_connection_is_handed_out_without_a_ping(
    postgres_url: str, postgres_schema_url: str
) -> None:
    store = open_read_models(f"{postgres_schema_url}&pool_size=1&max_overflow=0")
    try:
        pid = store.query("SELECT pg_backend_pid() AS pid")[0]["pid"]
        with (
            store.datastore.get_connection(),  # type: ignore[attr-defined]
            psycopg.connect(postgres_url, autocommit=True) as admin,
        ):
            activity = "SELECT query FROM pg_stat_activity WHERE pid = %s"
            row = admin.execute(activity, [pid]).fetchone()
        assert row is not None
        assert row[0].startswith("SELECT pg_backend_pid()"), row  # a ping would show ''
    finally:
        store.close()


def test_an_append_after_the_server_ended_the_session_is_stored(
    postgres_url: str, postgres_schema_url: str
) -> None:
    url = f"{postgres_schema_url}&pool_size=1&max_overflow=0"
    with Ledger(url=url, protect=False) as ledger:
        case_id = uuid4()
        ledger.append(parse_line(json.dumps(report(case_id, date(2026, 10, 1)))))
        with ledger.recorder.datastore.get_connection() as connection:  # type: ignore[attr-defined]
            pid = connection.execute("SELECT pg_backend_pid() AS pid").fetchone()["pid"]
        _terminate(postgres_url, pid)
        assert ledger.find_case(case_id) is not None
