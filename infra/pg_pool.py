"""The check a pooled PostgreSQL connection passes before it is handed out.

The library's pre-ping (``POSTGRES_PRE_PING``) sends an empty statement for every
connection taken from the pool: a round trip before each read and each write, about a
quarter of a command's statements. A server that ends a session (restart, ``pg_terminate_backend``,
idle timeout) says so on the socket before it closes it, so an idle connection with
something to read is the one that may be dead: only that one is pinged, and the pool
replaces it when the ping fails. A connection lost without a word (a cut network) fails
its first statement instead, which the recorders retry and the API answers with 503.
"""

from __future__ import annotations

import select
from typing import Any

from eventsourcing.postgres import PostgresDatastore
from psycopg import Connection
from psycopg_pool import ConnectionPool


def check_connection(connection: Connection[Any]) -> None:
    """Raise if ``connection`` is closed, or if the server wrote to it while it was idle
    and it no longer answers."""
    if connection.closed or connection.broken:
        raise ConnectionError("the pooled connection is closed")
    readable, _, _ = select.select([connection.fileno()], [], [], 0)
    if readable:
        ConnectionPool.check_connection(connection)


def use_socket_check(datastore: PostgresDatastore) -> None:
    """Check ``datastore``'s pooled connections by their socket instead of a ping. The
    pool has no public setter for its check; psycopg_pool reads it at every getconn."""
    datastore.pool._check = check_connection
