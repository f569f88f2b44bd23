"""A `ledger serve` for browser tests: its own SQLite store (a demo loaded, if asked),
a known token key, stopped afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.api_support import free_port, wait_ready
from tests.test_browser import CHROMIUM


def require_chromium() -> None:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: `make browser` installs Debian's chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@contextmanager
def served(folder: Path, jwt_key: str, demo_cases: int | None = None) -> Iterator[str]:
    """The base URL of a server on a store in ``folder``."""
    require_chromium()
    env = {**os.environ, "LEDGER_DATABASE_URL": f"sqlite:///{folder / 'ledger.db'}",
           "LEDGER_JWT_KEY": jwt_key, "LEDGER_MASTER_KEY_FILE": str(folder / "master.key")}
    cli = [sys.executable, "-m", "services.cli"]
    if demo_cases is not None:
        subprocess.run([*cli, "demo", "--cases", str(demo_cases)], env=env, check=True,
                       capture_output=True)  # fmt: skip
    port = free_port()
    process = subprocess.Popen([*cli, "serve", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_ready(f"http://127.0.0.1:{port}")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=20)
