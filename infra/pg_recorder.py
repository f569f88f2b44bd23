"""The library's PostgreSQL application recorder, retrying as it does on a dropped
connection but not on a lock timeout, nor when its pool already waited for a connection.

The library retries a read or write up to ten times on any operational error. For
a lock held by a stuck transaction that turns one ``lock_timeout`` into ten, so a
request would wait close to a minute for its 503. A lock timeout is an answer, not
a glitch: it goes straight to the caller (the API answers 503 with Retry-After).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from eventsourcing.persistence import InterfaceError, OperationalError
from eventsourcing.postgres import PostgresApplicationRecorder

ATTEMPTS = 10  # as the library
WAIT_SECONDS = 0.2
Method = TypeVar("Method", bound=Callable[..., Any])


def is_lock_timeout(error: BaseException) -> bool:
    """A statement gave up waiting for a lock (PostgreSQL), or the file was locked (SQLite)."""
    text = str(error).lower()
    return "lock timeout" in text or "lock_timeout" in text or "database is locked" in text


def is_final(error: BaseException) -> bool:
    """A lock timeout, or a pool that already waited its timeout for a connection: retrying
    would only make the caller wait ten times as long for the same answer."""
    return is_lock_timeout(error) or "couldn't get a connection" in str(error).lower()


def retried_unless_lock_timeout(method: Method) -> Method:
    inner = getattr(method, "__wrapped__", method)  # the library's undecorated method

    @wraps(inner)
    def call(*args: Any, **kwargs: Any) -> Any:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return inner(*args, **kwargs)
            except (InterfaceError, OperationalError) as error:
                if is_final(error) or attempt == ATTEMPTS:
                    raise
                time.sleep(WAIT_SECONDS)
        raise AssertionError("unreachable")

    return call  # type: ignore[return-value]


class LedgerPostgresApplicationRecorder(PostgresApplicationRecorder):
    """``PostgresApplicationRecorder`` whose retries stop at a lock timeout."""

    insert_events = retried_unless_lock_timeout(PostgresApplicationRecorder.insert_events)
    select_events = retried_unless_lock_timeout(PostgresApplicationRecorder.select_events)
    select_notifications = retried_unless_lock_timeout(
        PostgresApplicationRecorder.select_notifications
    )
    max_notification_id = retried_unless_lock_timeout(
        PostgresApplicationRecorder.max_notification_id
    )
