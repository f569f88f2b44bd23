"""Holes a review of the pages, reminders, scheduler and compose file found, each shown
here before it was mended."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from domain.access import Principal, Role
from services.api.app import create_app
from services.bootstrap import Settings, bootstrap
from services.cli import main
from services.workers.scheduler import Scheduler, Timing, parse_jobs, run_signals
from tests.api_support import KEY, free_port
from tests.test_compose import ROOT, ignored_patterns, problems
from tests.test_record_pages import EMPLOYER, FIRST, hidden, report, sign_in
from tests.test_signals import Inbox

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'l.db'}", jwt_key=KEY,
                              follow_seconds=0))  # fmt: skip
    try:
        with TestClient(app, raise_server_exceptions=False) as test_client:
            yield test_client
    finally:
        app.state.ctx.close()


def test_forms_without_a_key_do_not_share_ids(client: TestClient) -> None:
    """An empty idempotency key gave every report the same case and event ids, and the
    second report a 422 with no message."""
    sign_in(client, EMPLOYER)
    for employee in ("EMP-A", "EMP-B"):
        form = {**hidden(client.get("/ui/report").text), "idempotency_key": ""}
        done = client.post("/ui/report", data={**form, "employee_id": employee,
                                               "employer_id": "ER1",
                                               "first_sick_day": FIRST.isoformat()},
                           follow_redirects=False)  # fmt: skip
        assert done.status_code == 303, re.findall(r'class="problem"[^>]*>([^<]*)', done.text)


def test_malformed_hidden_fields_are_a_client_error(client: TestClient) -> None:
    case_id = report(client)
    form = hidden(client.get(f"/ui/cases/{case_id}/record?type=RecoveryReported").text)
    day = date.today().isoformat()
    bad_version = client.post(f"/ui/cases/{case_id}/record",
                              data={**form, "version": "x", "occurred_on": day})  # fmt: skip
    assert 400 <= bad_version.status_code < 500
    bad_csrf = client.post(f"/ui/cases/{case_id}/record",
                           data={**form, "csrf": "é" * 32, "occurred_on": day})  # fmt: skip
    assert bad_csrf.status_code == 403


def test_commands_from_the_pages_are_counted(client: TestClient) -> None:
    report(client)
    sign_in(client, Principal("admin", Role.ADMIN))
    metrics = client.get("/metrics", headers={"Authorization": "Bearer " + _admin_token()}).text
    assert 'ledger_commands_total{outcome="stored",route="/ui/report"} 1.0' in metrics


def _admin_token() -> str:
    from tests.api_support import token

    return token("admin")


def test_a_daily_job_runs_once_on_the_autumn_clock_change(tmp_path: Path) -> None:
    """On 25 October 02:30 happens twice in Amsterdam; the job's slot is one."""
    daily = Timing.parse("daily:02:30")
    first = datetime(2026, 10, 25, 0, 31, tzinfo=UTC)  # 02:31 CEST
    second = datetime(2026, 10, 25, 1, 31, tzinfo=UTC)  # 02:31 CET, an hour later
    assert daily.latest_slot(first, AMSTERDAM) == daily.latest_slot(second, AMSTERDAM)
    clock = [first]
    with bootstrap(database_url=f"sqlite:///{tmp_path / 'l.db'}") as rt:
        scheduler = Scheduler(rt, parse_jobs(["retention=daily:02:30"]), AMSTERDAM,
                              lambda: clock[0])  # fmt: skip
        assert "retention" in {r["job"] for r in scheduler.tick()}
        clock[0] = second
        assert "retention" not in {r["job"] for r in scheduler.tick()}


@pytest.fixture
def smtp_refusing() -> Iterator[str]:
    class Refuse(Inbox):
        async def handle_RCPT(self, server: Any, session: Any, envelope: Any,  # noqa: N802
                              address: str, options: Any) -> str:  # fmt: skip
            return "550 no such user"

    port = free_port()
    controller = Controller(Refuse(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        controller.stop()


def _demo_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, contacts: dict[str, str]) -> str:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    monkeypatch.setenv("LEDGER_DATABASE_URL", url)
    path = tmp_path / "contacts.json"
    path.write_text(json.dumps(contacts))
    monkeypatch.setenv("LEDGER_SIGNALS_CONTACTS", str(path))
    assert main(["demo", "--cases", "0"]) == 0
    return url


def test_no_address_goes_into_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smtp_refusing: str,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    _demo_store(tmp_path, monkeypatch, {"case_manager:*": "secret-cm@example.test"})
    monkeypatch.setenv("LEDGER_SMTP", smtp_refusing)
    with caplog.at_level(logging.WARNING):
        assert main(["signals", "--once"]) == 0
    assert caplog.records, "a refused reminder is logged"
    assert "secret-cm@example.test" not in caplog.text


def test_a_reminder_without_an_address_is_sent_once_one_is_known(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        _demo_store(tmp_path, monkeypatch, {})
        capsys.readouterr()
        monkeypatch.setenv("LEDGER_SMTP", f"127.0.0.1:{port}")
        assert main(["signals", "--once", "--json"]) == 0
        assert {r["status"] for r in json.loads(capsys.readouterr().out)} == {"no_address"}
        (tmp_path / "contacts.json").write_text(json.dumps({"case_manager:*": "cm@x.test"}))
        assert main(["signals", "--once", "--json"]) == 0
        assert "sent" in {r["status"] for r in json.loads(capsys.readouterr().out)}
    finally:
        controller.stop()
    assert inbox.messages


def test_a_catch_all_employer_address_is_not_used() -> None:
    """One address for every employer would tell each employer's deadlines to one
    mailbox; an employer's address is named per employer."""
    from services.workers.signals import Contacts

    contacts = Contacts({"employer:*": "all@x.test", "case_manager:*": "cm@x.test",
                         "employer:ER1": "hr@er1.test"})  # fmt: skip
    assert contacts.address("employer:ER2") is None
    assert contacts.address("employer:ER1") == "hr@er1.test"
    assert contacts.address("case_manager:cm-9") == "cm@x.test"


def test_the_signals_job_without_contacts_or_mail_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGER_SIGNALS_CONTACTS", str(tmp_path / "missing.json"))
    monkeypatch.delenv("LEDGER_SMTP", raising=False)
    with bootstrap(database_url=f"sqlite:///{tmp_path / 'l.db'}") as rt:
        assert "not configured" in run_signals(rt, date.today())


def test_postgres_in_compose_is_not_open_to_anyone() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    postgres = compose["services"]["postgres"]
    assert postgres["environment"].get("POSTGRES_HOST_AUTH_METHOD") != "trust"
    assert "POSTGRES_PASSWORD_FILE" in postgres["environment"]
    assert not postgres.get("ports"), "the database is reached over the compose network only"
    broken = json.loads(json.dumps(compose))
    broken["services"]["postgres"]["environment"]["POSTGRES_HOST_AUTH_METHOD"] = "trust"
    assert any("trust" in p for p in problems(broken, ignored_patterns()))


def test_the_database_password_comes_from_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from infra.config import ConfigurationError, eventsourcing_env

    secret = tmp_path / "db.password"
    monkeypatch.setenv("LEDGER_DATABASE_PASSWORD_FILE", str(secret))
    monkeypatch.setenv("LEDGER_MASTER_KEY_FILE", str(tmp_path / "m.key"))
    monkeypatch.setenv("LEDGER_SIGNING_KEY_FILE", str(tmp_path / "s.key"))
    monkeypatch.setenv("LEDGER_JWT_KEY_FILE", str(tmp_path / "j.key"))
    monkeypatch.setenv("LEDGER_PSEUDONYM_KEY_FILE", str(tmp_path / "p.key"))
    with pytest.raises(ConfigurationError, match="cannot be read"):
        eventsourcing_env("postgresql://postgres@db:5432/ledger")
    assert main(["keys", "init"]) == 0
    assert oct(secret.stat().st_mode & 0o777) == "0o600"
    env = eventsourcing_env("postgresql://postgres@db:5432/ledger")
    assert env["POSTGRES_PASSWORD"] == secret.read_text().strip()
    assert len(env["POSTGRES_PASSWORD"]) >= 32


def test_the_review_page_does_not_build_the_proof(tmp_path: Path) -> None:
    """Building a proof reads the whole log: only the bundle's download does it."""
    from infra.audit import AuditLog

    built: list[object] = []
    original = AuditLog.case_bundle

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        built.append(args)
        return original(self, *args, **kwargs)

    AuditLog.case_bundle = counting  # type: ignore[method-assign]
    try:
        app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'l.db'}", jwt_key=KEY,
                                  follow_seconds=0))  # fmt: skip
        with TestClient(app) as client:
            case_id = report(client)
            sign_in(client, Principal("uwv-1", Role.UWV_REVIEWER))
            assert client.get(f"/ui/cases/{case_id}/review-pack").status_code == 200
            assert built == []
            client.get(f"/ui/cases/{case_id}/proof.json")
            assert built
        app.state.ctx.close()
    finally:
        AuditLog.case_bundle = original  # type: ignore[method-assign]
