"""A heartbeat file for container health checks of the workers (feed, projection
workers, scheduler): each healthy step touches ``LEDGER_HEARTBEAT_FILE``;
``ledger health --heartbeat FILE --within SECONDS`` says whether it is recent. A worker
that is stuck or retrying against a database or broker that is away stops beating."""

from __future__ import annotations

import os
import time
from pathlib import Path


def beat() -> None:
    name = os.environ.get("LEDGER_HEARTBEAT_FILE")
    if name:
        Path(name).touch()


def age_seconds(path: Path) -> float | None:
    """Seconds since the last beat; None when there never was one."""
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return None
