"""Structured logs: one JSON object per line on stderr, for every long-running process.

Each line carries ``time``, ``level``, ``logger`` and ``message``; inside a request also
``request_id`` and ``role`` (never a token, never a person). Libraries that talk a lot
(kafka-python logs a line per connection step) are held at WARNING.
``LEDGER_LOG_FORMAT=text`` gives plain lines for a terminal; ``LEDGER_LOG_LEVEL`` the level.
"""

from __future__ import annotations

import logging
import os
import sys
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

# Loggers of libraries, quieted to WARNING: their INFO lines name hosts and steps, not
# what an operator acts on.
THIRD_PARTY = ("kafka", "uvicorn", "uvicorn.error", "uvicorn.access", "eventsourcing",
               "httpx", "psycopg", "psycopg.pool", "asyncio", "multipart")  # fmt: skip


@dataclass
class RequestScope:
    """What a log line inside a request says of it; the role is filled in once the token
    has been read."""

    request_id: str
    role: str | None = None


current_request: ContextVar[RequestScope | None] = ContextVar("current_request", default=None)


class RequestFields(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        scope = current_request.get()
        if scope is not None:
            record.request_id = scope.request_id
            if scope.role is not None:
                record.role = scope.role
        return True


def configure(stream: TextIO | None = None) -> None:
    """Send every logger's lines to ``stream`` (stderr) as JSON, once per process."""
    level = os.environ.get("LEDGER_LOG_LEVEL", "INFO").upper()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestFields())
    if os.environ.get("LEDGER_LOG_FORMAT", "json") == "text":
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    else:
        handler.setFormatter(JsonFormatter(
            "{asctime}{levelname}{name}{message}", style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            datefmt="%Y-%m-%dT%H:%M:%S%z",
        ))  # fmt: skip
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in THIRD_PARTY:
        logging.getLogger(name).setLevel(logging.WARNING)
