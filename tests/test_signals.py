"""Reminders (*signalering*, issue 21) against a real SMTP server (aiosmtpd) started by
the tests: the right reminders to the right parties, none twice across runs and a
kill -9 of the worker, none with personal or medical data."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from domain.access import Role
from domain.deadlines import Deadline, DeadlineStatus
from domain.signals import ReminderKind, reminders_due
from services.application.importer import import_lines, numbered
from services.application.ledger import Ledger
from services.application.signals import digests, due_signals
from services.bootstrap import bootstrap
from services.cli import main
from services.tools.showcase import showcase
from tests.api_support import free_port
from tests.factories import MEDICAL_NOTE, line
from tests.processes import environment

CONTACTS = {"employer:ER00001": "hr@employer.test", "case_manager:*": "cm@ledger.test",
            "occupational_physician:ER00001": "arbo@health.test"}  # fmt: skip


@dataclass
class Inbox:
    """What the SMTP server received; a handler that can be slowed down."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.delay:
            time.sleep(self.delay)
        parsed = message_from_bytes(envelope.content)
        body: Any = parsed.get_payload(decode=True)
        with self.lock:
            self.messages.append({"to": list(envelope.rcpt_tos), "id": parsed["Message-ID"],
                                  "subject": parsed["Subject"], "body": body.decode()})  # fmt: skip
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[str, Inbox]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"127.0.0.1:{port}", inbox
    finally:
        controller.stop()


@pytest.fixture
def demo_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, list[dict[str, Any]]]:
    """The demo employer's files as of today, one with a physician's note."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    contacts = tmp_path / "contacts.json"
    contacts.write_text(json.dumps(CONTACTS))
    monkeypatch.setenv("LEDGER_DATABASE_URL", url)
    monkeypatch.setenv("LEDGER_SIGNALS_CONTACTS", str(contacts))
    lines = showcase(date.today())
    first = lines[0]
    note = line(first["case_id"], "MedicalNoteRecorded", date.today() - timedelta(days=1),
                actor=("occupational_physician", "op-1"), note=MEDICAL_NOTE)  # fmt: skip
    with Ledger(url) as ledger:
        import_lines(ledger, numbered([json.dumps(x) for x in [*lines, note]]))
    return url, lines


def deadline(name: str, due: date, status: DeadlineStatus, done: date | None = None) -> Deadline:
    return Deadline(name, due, status, done, None, "poortwachter.md s1", "poortwachter-2002")


def test_reminders_are_due_from_days_before_and_once_overdue() -> None:
    """s1: the problem analysis by the physician (week 6), reminded 7 days before."""
    on = date(2026, 12, 3)
    analysis = deadline("problem_analysis", on + timedelta(days=7), DeadlineStatus.OPEN)
    early = deadline("problem_analysis", on + timedelta(days=8), DeadlineStatus.OPEN)
    late = deadline("uwv_notification", on - timedelta(days=1), DeadlineStatus.OVERDUE)
    done = deadline("plan_of_approach", on, DeadlineStatus.DONE, done=on)
    found = reminders_due([analysis, early, late, done], on)
    assert {(r.deadline.deadline, r.kind, r.role) for r in found} == {
        ("problem_analysis", ReminderKind.BEFORE, Role.OCCUPATIONAL_PHYSICIAN),
        ("problem_analysis", ReminderKind.BEFORE, Role.CASE_MANAGER),
        ("uwv_notification", ReminderKind.OVERDUE, Role.EMPLOYER),
        ("uwv_notification", ReminderKind.OVERDUE, Role.CASE_MANAGER),
    }


def _expected(url: str) -> dict[str, str]:
    """Reminder key: address, as the application computes what is due today."""
    with bootstrap(database_url=url) as rt:
        sender = rt.signal_sender()
        due = due_signals(rt, date.today())
        return {s.key: sender.contacts.address(s.party) or "" for s in due}


def _managers_with_work(url: str) -> int:
    with bootstrap(database_url=url) as rt:
        return len(digests(rt, date.today()))


def test_the_right_reminders_reach_the_right_parties_once(
    demo_store: tuple[str, list[dict[str, Any]]], smtp: tuple[str, Inbox],
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    url, lines = demo_store
    address, inbox = smtp
    monkeypatch.setenv("LEDGER_SMTP", address)
    assert main(["signals", "--once", "--json"]) == 0
    reported = json.loads(capsys.readouterr().out)
    expected = _expected(url)
    reminders = [m for m in inbox.messages if m["subject"].startswith("[ledger] case ")]
    assert len(reminders) == len(expected) == len([r for r in reported
                                                   if not r["key"].startswith("digest:")])
    by_subject = {(m["to"][0], m["subject"]) for m in reminders}
    assert any(to == "arbo@health.test" and "problem analysis is due" in subject
               for to, subject in by_subject)  # fmt: skip
    assert any(to == "hr@employer.test" and "plan of approach is due" in subject
               for to, subject in by_subject)  # fmt: skip
    assert any(to == "hr@employer.test" and "uwv notification is overdue" in subject
               for to, subject in by_subject)  # fmt: skip
    assert not any(to == "hr@employer.test" and "problem analysis" in subject
                   for to, subject in by_subject), "the physician's task is not the employer's"
    digests = [m for m in inbox.messages if m not in reminders]
    managers = {x["data"]["case_manager_id"] for x in lines if x["type"] == "PlanOfApproachAgreed"}
    assert len(digests) == len([r for r in reported if r["key"].startswith("digest:")])
    assert 1 <= len(digests) <= len(managers)  # one per case manager with work this week
    assert all(m["to"] == ["cm@ledger.test"] for m in digests)
    assert all("due this week" in m["subject"] for m in digests)

    everything = json.dumps(inbox.messages)
    employees = {x["data"]["employee_id"] for x in lines if x["type"] == "SicknessReported"}
    assert not [e for e in employees if e in everything]
    assert MEDICAL_NOTE not in everything
    assert "hernia" not in everything

    before = len(inbox.messages)
    assert main(["signals", "--once"]) == 0  # the same day again: nothing new
    assert len(inbox.messages) == before
    assert len({m["id"] for m in inbox.messages}) == before


def test_a_party_without_an_address_is_recorded(
    demo_store: tuple[str, list[dict[str, Any]]], smtp: tuple[str, Inbox], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    contacts = tmp_path / "only-cm.json"
    contacts.write_text(json.dumps({"case_manager:*": "cm@ledger.test"}))
    monkeypatch.setenv("LEDGER_SIGNALS_CONTACTS", str(contacts))
    monkeypatch.setenv("LEDGER_SMTP", smtp[0])
    assert main(["signals", "--once", "--json"]) == 0
    reported = json.loads(capsys.readouterr().out)
    assert {r["status"] for r in reported} == {"sent", "no_address"}
    assert all(m["to"] == ["cm@ledger.test"] for m in smtp[1].messages)
    assert main(["signals", "--status", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert any(r["status"] == "no_address" and "no address for employer:" in r["detail"]
               for r in rows)  # fmt: skip


def _outbox(url: str) -> Counter[str]:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        return Counter(status for (status,) in db.execute("SELECT status FROM reminder"))


def test_a_kill_9_of_the_worker_neither_loses_nor_repeats_a_reminder(
    demo_store: tuple[str, list[dict[str, Any]]], smtp: tuple[str, Inbox], tmp_path: Path,
) -> None:
    url, _ = demo_store
    address, inbox = smtp
    inbox.delay = 0.15  # a slow mail server: the kill lands in the middle of the round
    env = environment(url, LEDGER_SMTP=address,
                      LEDGER_SIGNALS_CONTACTS=os.environ["LEDGER_SIGNALS_CONTACTS"])  # fmt: skip
    command = [sys.executable, "-m", "services.cli", "signals", "--every", "0.5"]
    log = (tmp_path / "signals.log").open("w")
    first = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline_at = time.monotonic() + 60
    while len(inbox.messages) < 3 and time.monotonic() < deadline_at:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    sent_before = len(inbox.messages)
    expected = _expected(url)
    assert 3 <= sent_before < len(expected), "the kill should land mid-round"
    second = subprocess.Popen([*command, "--takeover", "0"], env=env, stdout=log,
                              stderr=subprocess.STDOUT)  # fmt: skip
    try:
        everything = len(expected) + _managers_with_work(url)
        while time.monotonic() < deadline_at and (
            _outbox(url).get("sending", 0) or _outbox(url).get("sent", 0) < everything
        ):
            time.sleep(0.2)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=20)
    outbox = _outbox(url)
    assert outbox.get("sending", 0) == 0
    ids = Counter(m["id"] for m in inbox.messages)
    assert len(ids) == everything  # every reminder, and every digest, arrived
    # The one message in flight at the kill may have been accepted by the server before
    # the worker could record it: it is sent again, with the same Message-ID.
    repeated = [i for i, n in ids.items() if n > 1]
    assert len(repeated) <= 1
    assert sum(ids.values()) - len(ids) == len(repeated)


def test_the_scheduler_runs_the_signals(
    demo_store: tuple[str, list[dict[str, Any]]], smtp: tuple[str, Inbox],
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("LEDGER_SMTP", smtp[0])
    assert main(["schedule", "--once", "--json"]) == 0
    ran = {r["job"]: r for r in json.loads(capsys.readouterr().out)}
    assert ran["signals"]["outcome"] == "done"
    assert "sent" in ran["signals"]["detail"]
    assert smtp[1].messages
    assert main(["schedule", "--once", "--json"]) == 0  # the same slot: it does not run again
    assert json.loads(capsys.readouterr().out) == []
