"""One setting chooses the store: ``LEDGER_DATABASE_URL``.

- ``sqlite:///ledger.db`` (relative to the working directory; the default) or
  ``sqlite:////absolute/path.db``;
- ``postgresql://user[:password]@host[:port]/dbname[?schema=name&lock_timeout=5&pool_size=4&max_overflow=4]``.
"""

from __future__ import annotations

import math
import os
import re
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_DATABASE_URL = "sqlite:///ledger.db"
DEFAULT_LOCK_TIMEOUT_SECONDS = "5"  # stack.md: the library's default 0 waits forever


class ConfigurationError(ValueError):
    """A setting is wrong; the message says how to fix it."""


def database_url() -> str:
    return os.environ.get("LEDGER_DATABASE_URL") or DEFAULT_DATABASE_URL


def group_commit() -> bool:
    """Whether concurrent small writes share a transaction (``infra.group_commit``); on
    unless ``LEDGER_GROUP_COMMIT=0`` (the benchmark's baseline, a suspected fault)."""
    return os.environ.get("LEDGER_GROUP_COMMIT", "1") != "0"


def limit_lock_waits(seconds: str) -> None:
    """Every PostgreSQL session waits at most ``seconds`` for a lock, reads included (the
    library sets the limit only when it writes events): libpq applies PGOPTIONS when it
    connects, so a stuck lock gives an error the API turns into a 503, not a hang."""
    setting = f"-c lock_timeout={round(float(seconds) * 1000)}"
    options = re.sub(r"-c\s*lock_timeout=\S+", "", os.environ.get("PGOPTIONS", ""))
    os.environ["PGOPTIONS"] = f"{options.strip()} {setting}".strip()


def _password_from_file() -> str:
    """The database password from ``LEDGER_DATABASE_PASSWORD_FILE`` (a deployment's key
    volume), so that it is in no URL and no environment value."""
    name = os.environ.get("LEDGER_DATABASE_PASSWORD_FILE")
    if not name:
        return ""
    try:
        with open(name, encoding="utf-8") as found:
            return found.read().strip()
    except OSError as error:
        raise ConfigurationError(
            f"LEDGER_DATABASE_PASSWORD_FILE {name!r} cannot be read: {error.strerror}"
        ) from None


def eventsourcing_env(url: str) -> dict[str, str]:
    """The eventsourcing settings for a database URL."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        if not path:
            raise ConfigurationError(
                f"LEDGER_DATABASE_URL {url!r} names no file; use sqlite:///ledger.db"
            )
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": path,
            "SQLITE_LOCK_TIMEOUT": DEFAULT_LOCK_TIMEOUT_SECONDS,
            # the library's recorder with the one-event_id index (infra/sqlite_recorder.py)
            "APPLICATION_RECORDER_TOPIC": "infra.sqlite_recorder:LedgerSQLiteApplicationRecorder",
        }
    if parts.scheme in ("postgresql", "postgres"):
        query = parse_qs(parts.query)
        lock_timeout = query.get("lock_timeout", [DEFAULT_LOCK_TIMEOUT_SECONDS])[0]
        try:
            float(lock_timeout)
        except ValueError:
            raise ConfigurationError(
                f"lock_timeout={lock_timeout!r} in LEDGER_DATABASE_URL is not a number of seconds"
            ) from None
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": parts.path.lstrip("/") or "postgres",
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parts.password or "") or _password_from_file(),
            # the library takes whole seconds; sessions get the exact value (limit_lock_waits)
            "POSTGRES_LOCK_TIMEOUT": str(math.ceil(float(lock_timeout))),
            "POSTGRES_CONNECT_TIMEOUT": query.get("connect_timeout", ["5"])[0],
            # the library's recorder, minus its retries of a lock timeout (infra/pg_recorder.py)
            "APPLICATION_RECORDER_TOPIC": "infra.pg_recorder:LedgerPostgresApplicationRecorder",
            # each process holds a few pools (events, read models): keep them small, so
            # that servers, workers and tests together stay under max_connections
            "POSTGRES_POOL_SIZE": query.get("pool_size", ["4"])[0],
            "POSTGRES_MAX_OVERFLOW": query.get("max_overflow", ["4"])[0],
        }
        if "schema" in query:
            env["POSTGRES_SCHEMA"] = query["schema"][0]
        limit_lock_waits(lock_timeout)
        return env
    raise ConfigurationError(
        f"LEDGER_DATABASE_URL {url!r} is not supported: use sqlite:///PATH "
        "or postgresql://USER@HOST:PORT/DBNAME"
    )
