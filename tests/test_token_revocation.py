"""Issue 19, item 8: a token could not be revoked. A leaked one stayed good until it
expired (up to a week), and signing out of the pages left the session token valid for
anyone who had copied the cookie. Now every token carries an id (``jti``), and
``ledger revoke`` refuses a token, or every token of a subject issued until then, on
every server of the ledger within a few seconds, and after a restart."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.api.auth import read_claims
from services.cli import main
from tests.api_support import KEY, api, auth
from tests.processes import JWT_KEY, Server, environment


def _ledger(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args], env=env, capture_output=True, text=True
    )


def _minted(env: dict[str, str], *args: str) -> dict[str, Any]:
    done = _ledger(env, "token", "--json", *args)
    assert done.returncode == 0, done.stderr
    minted: dict[str, Any] = json.loads(done.stdout)
    return minted


def _status(base: str, token: str) -> httpx.Response:
    return httpx.get(f"{base}/deadlines?employer=ER1", headers={"Authorization": f"Bearer {token}"},
                     timeout=10)  # fmt: skip


def _refused_soon(base: str, token: str) -> httpx.Response:
    """The server reloads the list every few seconds; wait at most ten."""
    deadline = time.monotonic() + 10
    while (answer := _status(base, token)).status_code == 200:
        assert time.monotonic() < deadline, "the revoked token was still accepted after 10 s"
        time.sleep(0.2)
    return answer


def test_a_token_revoked_by_id_is_refused_by_a_running_server_and_after_a_restart(
    tmp_path: Path,
) -> None:
    env = environment(f"sqlite:///{tmp_path / 'ledger.db'}")
    leaked = _minted(env, "--role", "admin", "--subject", "ops-1")
    other = _minted(env, "--role", "admin", "--subject", "ops-1")
    assert leaked["token_id"] != other["token_id"]
    server = Server(env, tmp_path / "serve.log").start()
    try:
        assert _status(server.base, leaked["token"]).status_code == 200
        done = _ledger(env, "revoke", "--token-id", leaked["token_id"], "--reason", "leaked")
        assert done.returncode == 0, done.stderr
        refused = _refused_soon(server.base, leaked["token"])
        assert refused.status_code == 401
        assert "revoked" in refused.json()["detail"]
        assert _status(server.base, other["token"]).status_code == 200  # only that one
    finally:
        server.stop()
    server = Server(env, tmp_path / "serve-2.log").start()
    try:
        assert _status(server.base, leaked["token"]).status_code == 401
        assert _status(server.base, other["token"]).status_code == 200
    finally:
        server.stop()


def test_revoking_a_subject_refuses_its_tokens_issued_until_then_not_later_ones(
    tmp_path: Path,
) -> None:
    env = environment(f"sqlite:///{tmp_path / 'ledger.db'}")
    first = _minted(env, "--role", "case_manager", "--subject", "cm-1")
    second = _minted(env, "--role", "case_manager", "--subject", "cm-1", "--employer", "ER1")
    bystander = _minted(env, "--role", "case_manager", "--subject", "cm-2")
    server = Server(env, tmp_path / "serve.log").start()
    try:
        done = _ledger(env, "revoke", "--subject", "cm-1", "--reason", "left the company")
        assert done.returncode == 0, done.stderr
        for minted in (first, second):
            assert "revoked" in _refused_soon(server.base, minted["token"]).json()["detail"]
        assert _status(server.base, bystander["token"]).status_code == 200
        time.sleep(1.1)  # a token's iat is in whole seconds: the next second is later
        rehired = _minted(env, "--role", "case_manager", "--subject", "cm-1")
        assert _status(server.base, rehired["token"]).status_code == 200
    finally:
        server.stop()


def test_revoke_by_the_token_itself_checks_its_signature_and_stores_nothing_forged(
    tmp_path: Path,
) -> None:
    env = environment(f"sqlite:///{tmp_path / 'ledger.db'}")
    minted = _minted(env, "--role", "admin")
    forged = minted["token"][:-4] + ("AAAA" if not minted["token"].endswith("AAAA") else "BBBB")
    done = _ledger(env, "revoke", "--token", forged)
    assert done.returncode == 2
    assert "not valid" in done.stderr
    listed = _ledger(env, "revoke", "--list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []
    done = _ledger(env, "revoke", "--token", minted["token"], "--reason", "pasted in a chat")
    assert done.returncode == 0, done.stderr
    [entry] = json.loads(_ledger(env, "revoke", "--list", "--json").stdout)
    assert entry["kind"] == "token"
    assert entry["value"] == minted["token_id"]
    assert entry["reason"] == "pasted in a chat"
    assert entry["revoked_by"]
    assert minted["token"] not in json.dumps(entry)  # the list never holds a token


def test_revoke_asks_for_exactly_one_target(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    monkeypatch.setenv("LEDGER_DATABASE_URL", database_url)
    with pytest.raises(SystemExit) as stopped:
        main(["revoke"])
    assert stopped.value.code == 2
    with pytest.raises(SystemExit) as stopped:
        main(["revoke", "--token-id", "a", "--subject", "b"])
    assert stopped.value.code == 2
    assert "not allowed with" in capsys.readouterr().err
    assert main(["revoke", "--subject", "x y"]) == 2
    assert main(["revoke", "--token-id", "not/an id"]) == 2
    assert "nothing was revoked" in capsys.readouterr().err
    assert main(["revoke", "--list"]) == 0
    assert "no revocations in force" in capsys.readouterr().out


def test_ledger_token_json_names_the_token_id_it_minted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LEDGER_JWT_KEY", JWT_KEY)
    assert main(["token", "--role", "uwv_reviewer", "--hours", "1", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    claims = read_claims(printed["token"], JWT_KEY)
    assert claims.token_id == printed["token_id"]
    assert printed["expires_at"].endswith("Z")
    assert main(["token", "--role", "admin"]) == 0
    shown = capsys.readouterr()
    token_id = read_claims(shown.out.strip(), JWT_KEY).token_id
    assert token_id is not None
    assert token_id in shown.err  # to revoke it later


def test_signing_out_revokes_the_page_session_and_not_the_token_pasted_in(
    database_url: str,
) -> None:
    pasted = auth("admin", "ops-2")["Authorization"].split()[1]
    with api(database_url) as client:
        signed_in = client.post("/ui/login", data={"token": pasted}, follow_redirects=False)
        assert signed_in.status_code == 303
        session = signed_in.cookies["ledger_token"]
        assert session != pasted  # the page session is a token of its own, revocable alone
        assert read_claims(session, KEY).expires_at <= read_claims(pasted, KEY).expires_at
        assert client.get("/").status_code == 200
        client.get("/ui/logout", follow_redirects=False)
        client.cookies.set("ledger_token", session)  # a copy of the cookie, kept
        assert client.get("/").status_code == 401
        bearer = client.get("/deadlines?employer=ER1",
                            headers={"Authorization": f"Bearer {session}"})  # fmt: skip
        assert bearer.status_code == 401
        assert "revoked" in bearer.json()["detail"]
        still = client.get("/deadlines?employer=ER1", headers={"Authorization": f"Bearer {pasted}"})
        assert still.status_code == 200
