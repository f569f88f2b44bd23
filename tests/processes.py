"""Real processes for reliability tests: `ledger serve`, `ledger project --follow` and
`ledger feed --follow`, started, killed with SIGKILL and restarted by the test; and a
load client that remembers what the ledger answered."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx

from tests.api_support import free_port, wait_ready

JWT_KEY = "reliability-test-key-long-enough-for-hs256-0123"


def environment(database_url: str, **extra: str) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if k != "PGOPTIONS"}  # the URL says
    return {
        **inherited,
        "LEDGER_DATABASE_URL": database_url,
        "LEDGER_JWT_KEY": JWT_KEY,  # the master key file is the test session's (conftest)
        **extra,
    }


@dataclass
class Process:
    """A `ledger` command in its own process group, with its output in a file."""

    args: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "services.cli", *self.args],
                env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        return self

    def kill9(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill9()


class Server(Process):
    def __init__(self, env: dict[str, str], log: Path, *options: str) -> None:
        """``options``: more of ``ledger serve``'s options (``--follower process``)."""
        self.port = free_port()
        super().__init__(["serve", "--port", str(self.port), *options], env, log)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        super().start()
        wait_ready(self.base)
        return self


def token(env: dict[str, str], role: str = "admin") -> str:
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "token", "--role", role],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


@dataclass
class Outcome:
    """One request and what came of it: a status, or None when the answer was lost."""

    key: str
    method: str
    path: str
    body: dict[str, Any]
    status: int | None = None
    answer: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


class LoadClient:
    """Sends commands with an Idempotency-Key each and remembers every outcome."""

    def __init__(self, base: Callable[[], str], token: str) -> None:
        self.base = base
        self.headers = {"Authorization": f"Bearer {token}"}
        self.outcomes: list[Outcome] = []
        self.requests_sent = 0
        self.lock = threading.Lock()
        self._local = threading.local()

    def _client(self) -> httpx.Client:
        """One HTTP client per sending thread, kept: building one costs some 22 ms of CPU
        (its TLS context), which the first soak counted as server latency."""
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = httpx.Client(timeout=15)
        return client

    def send(self, method: str, path: str, body: dict[str, Any], key: str | None = None,
             headers: dict[str, str] | None = None) -> Outcome:  # fmt: skip
        outcome = Outcome(key or str(uuid4()), method, path, body)
        self._try(outcome, headers or {})
        with self.lock:
            self.outcomes.append(outcome)
        return outcome

    def _try(self, outcome: Outcome, headers: dict[str, str]) -> None:
        started = time.monotonic()
        with self.lock:
            self.requests_sent += 1  # retries too: the attack's figure of requests
        try:
            answer = self._client().request(
                outcome.method, self.base() + outcome.path, json=outcome.body,
                headers={**self.headers, **headers, "Idempotency-Key": outcome.key},
            )  # fmt: skip
            outcome.status = answer.status_code
            if answer.headers.get("content-type", "").endswith("json"):
                outcome.answer = answer.json()
            outcome.answer["retry_after"] = answer.headers.get("retry-after")
        except httpx.HTTPError:
            outcome.status = None
        outcome.seconds = time.monotonic() - started

    def retry_lost(self, attempts: int = 20) -> None:
        """Send every request whose answer was lost again, with its own key, until answered
        (the ledger applies it at most once, whatever happened the first time)."""
        for outcome in [o for o in self.outcomes if o.status is None or o.status >= 500]:
            for _ in range(attempts):
                self._try(outcome, {})
                if outcome.status is not None and outcome.status < 500 and outcome.status != 409:
                    break
                time.sleep(0.5)

    def accepted_event_ids(self) -> list[str]:
        """The event of each accepted request; one per Idempotency-Key (a retry of a key is
        the same request)."""
        by_key = {o.key: o.answer["event_id"] for o in self.outcomes if o.status in (200, 201)}
        return list(by_key.values())


def report_body(employee: str, employer: str = "ER-L", days_ago: int = 30) -> dict[str, Any]:
    day = date.today() - timedelta(days=days_ago)
    return {"employee_id": employee, "employer_id": employer, "first_sick_day": day.isoformat()}


def appointment(case_manager: str, days_ago: int = 1) -> dict[str, Any]:
    """A fact any number of which a case may hold: a case manager was appointed."""
    on = (date.today() - timedelta(days=days_ago)).isoformat()
    return {"type": "CaseManagerAppointed", "occurred_on": on,
            "data": {"case_manager_id": case_manager}}  # fmt: skip
