"""Issue 19, item 8: `ledger serve` printed an 8-hour admin token to its log, and the
pages took tokens in the sign-in URL, where logs and the browser's history keep them.
Now serve prints a one-time code that signs in once, and a token is posted in a form."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.api_support import ADMIN, api, free_port
from tests.processes import environment


def _serve(tmp_path: Path) -> tuple[subprocess.Popen[str], str, list[str]]:
    env = environment(f"sqlite:///{tmp_path / 'ledger.db'}")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    printed: list[str] = []
    while not any("pages:" in text for text in printed):
        text = process.stdout.readline()
        assert text, f"ledger serve stopped: {printed}"
        printed.append(text)
    link = next(t for t in printed if "pages:" in t).split("pages:")[1].split()[0]
    return process, link, printed


def test_ledger_serve_logs_no_token_and_its_link_signs_in_once(tmp_path: Path) -> None:
    process, link, printed = _serve(tmp_path)
    try:
        assert "token=" not in "".join(printed)
        assert "eyJ" not in "".join(printed)  # no JWT (their header starts so)
        deadline = time.monotonic() + 30
        while True:
            try:
                first = httpx.get(link, follow_redirects=False, timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "ledger serve did not answer"
                time.sleep(0.2)
        assert first.status_code == 303
        assert "ledger_token" in first.headers["set-cookie"]
        again = httpx.get(link, follow_redirects=False, timeout=2)  # from the history, say
        assert again.status_code == 401
        assert "set-cookie" not in again.headers
        assert "used already" in again.text
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_a_token_in_the_url_signs_nobody_in_and_the_form_does(database_url: str) -> None:
    token = ADMIN["Authorization"].split()[1]
    with api(database_url) as client:
        in_url = client.get(f"/ui/login?token={token}", follow_redirects=False)
        assert in_url.status_code == 401
        assert "set-cookie" not in in_url.headers
        assert "not taken from the URL" in in_url.text
        posted = client.post("/ui/login", data={"token": token}, follow_redirects=False)
        assert posted.status_code == 303
        assert "ledger_token" in posted.headers["set-cookie"]
        forged = client.post("/ui/login", data={"token": token[:-4] + "AAAA"},
                             follow_redirects=False)  # fmt: skip
        assert forged.status_code == 401
        assert "set-cookie" not in forged.headers
