"""Issue 19, item 8: a 95 MB admin import blocked `/health` for 4 s, because the body was
split into lines on the event loop. The import is parsed in a worker thread, so the
server goes on answering while it runs; a real `ledger serve`, a real 95 MB body."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.processes import Server, environment, token

BODY_BYTES = 95 * 1024 * 1024


def _bad_lines() -> bytes:
    line = b'{"type": "SicknessReported", "note": "' + b"x" * 240 + b'"}\n'
    return line * (BODY_BYTES // len(line))


def test_health_answers_while_a_95_mb_import_is_checked(tmp_path: Path) -> None:
    env = environment(f"sqlite:///{tmp_path / 'ledger.db'}")
    server = Server(env, tmp_path / "serve.log").start()
    body = _bad_lines()
    sent = threading.Event()  # the whole body is with the server: the import is checked
    answered_while_checked: list[int] = []
    imported: list[httpx.Response] = []

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 1 << 20):
            yield body[start : start + (1 << 20)]
        sent.set()

    def upload() -> None:
        imported.append(httpx.post(
            f"{server.base}/events:import", content=chunks(), timeout=300,
            headers={"Authorization": f"Bearer {token(env)}",
                     "Content-Type": "application/x-ndjson"},
        ))  # fmt: skip

    try:
        uploading = threading.Thread(target=upload)
        uploading.start()
        with httpx.Client(base_url=server.base, timeout=60) as client:
            while uploading.is_alive():
                asked_after_sending = sent.is_set()
                status = client.get("/health").status_code
                if asked_after_sending and not imported:  # asked and answered meanwhile
                    answered_while_checked.append(status)
                time.sleep(0.05)
        uploading.join()
    finally:
        server.stop()
    (response,) = imported
    assert response.status_code == 422, response.text[:300]  # every line refused, none stored
    # a loop busy with the import would answer at most the one request it held
    assert answered_while_checked.count(200) >= 3, answered_while_checked
