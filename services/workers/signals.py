"""``ledger signals``: reminders before deadlines and when they become overdue, by e-mail
(and a webhook when configured), and a daily digest per case manager.

Every reminder has a key (case, deadline, due day, kind, role). Before it is sent it is
claimed in the ``reminder`` table; once the mail server accepted it, it is marked sent.
A restart skips what is sent and takes over what a dead worker claimed and did not
mark (after ``takeover_seconds``): nothing is forgotten. A message whose worker died
between the server's acceptance and the mark is sent again with the same Message-ID,
which the receiving mail systems treat as the same message.

Addresses come from a contacts file (``LEDGER_SIGNALS_CONTACTS``, JSON): keys
``employer:ER00001``, ``occupational_physician:ER00001`` (the employer's occupational
health service), ``case_manager:cm-1``, or ``case_manager:*``. An employer's and its
health service's address is named per employer: one mailbox for all would hear every
employer's deadlines. A party without an address is recorded as such (``no_address``,
in ``ledger signals --status``) and sent its reminder once an address is known.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from threading import Event
from typing import Any

from infra.log_consumer import Follower
from infra.mail import MailSettings, message_id, post_webhook, send_mail
from infra.readmodel import ReadModelStore
from services.application.signals import (
    Signal,
    digest_text,
    reminder_text,
    signal_round,
)
from services.bootstrap import Runtime

log = logging.getLogger("ledger.signals")


CATCH_ALL_ROLES = {"case_manager"}  # people, not employers: one may serve them all


@dataclass(frozen=True)
class Contacts:
    addresses: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | None = None) -> Contacts:
        name = path or os.environ.get("LEDGER_SIGNALS_CONTACTS")
        if not name:
            return cls()
        if not Path(name).exists():
            log.warning("no contacts file at %s: every reminder waits for an address", name)
            return cls()
        found = json.loads(Path(name).read_text())
        if not isinstance(found, dict) or not all(isinstance(v, str) for v in found.values()):
            raise ValueError(f"{name}: a JSON object of party (role:id) to e-mail address")
        return cls(found)

    def address(self, party: str) -> str | None:
        if party in self.addresses:
            return self.addresses[party]
        role = party.split(":", 1)[0]
        return self.addresses.get(f"{role}:*") if role in CATCH_ALL_ROLES else None


@dataclass(frozen=True)
class Outcome:
    key: str
    status: str  # sent, no_address, failed, skipped (already sent or claimed)
    recipient: str | None = None


def summary(outcomes: list[Outcome]) -> str:
    """A round in a line: how many reminders went each way."""
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing due"


@dataclass
class Delivery:
    key: str
    party: str
    subject: str
    body: str
    payload: dict[str, Any]
    row: dict[str, Any]


class SignalSender(Follower):
    """Kept running by ``Follower.follow``: a round every so often, backing off while the
    database is away, a heartbeat after each round."""

    name = "signals"

    def __init__(self, rt: Runtime, *, contacts: Contacts | None = None,
                 mail: MailSettings | None = None, base_url: str | None = None,
                 takeover_seconds: float = 60.0) -> None:  # fmt: skip
        self.rt, self.store = rt, rt.store
        self.contacts = contacts or Contacts.load()
        self.mail = mail or MailSettings()
        self.base_url = base_url or os.environ.get("LEDGER_PUBLIC_URL", "http://127.0.0.1:8000")
        self.takeover_seconds = takeover_seconds
        self._last: list[Outcome] = []

    def run_once(self, on: date | None = None) -> list[Outcome]:
        """Send every reminder and digest due ``on`` (today) that is not sent yet."""
        day = on or date.today()
        due = signal_round(self.rt, day)
        outcomes = [self._deliver(self._reminder(s)) for s in due.signals]
        for manager, items in due.digests.items():
            subject, body = digest_text(manager, items, day, self.base_url)
            digest = Delivery(f"digest:{manager}:{day.isoformat()}", f"case_manager:{manager}",
                              subject, body, {"kind": "digest", "deadlines": len(items)},
                              {"kind": "digest", "role": "case_manager"})  # fmt: skip
            outcomes.append(self._deliver(digest))
        return outcomes

    def _reminder(self, signal: Signal) -> Delivery:
        subject, body = reminder_text(signal, self.base_url)
        d = signal.reminder.deadline
        row = {"case_id": str(signal.case_id), "deadline": d.deadline,
               "due_on": d.due_on.isoformat(), "kind": signal.reminder.kind.value,
               "role": signal.reminder.role.value}  # fmt: skip
        payload = {**row, "subject": subject, "rule": d.rule}
        return Delivery(signal.key, signal.party, subject, body, payload, row)

    def _deliver(self, delivery: Delivery) -> Outcome:
        recipient = self.contacts.address(delivery.party)
        if not self._claim(delivery, recipient):
            return Outcome(delivery.key, "skipped", recipient)
        if recipient is None:
            self._mark(delivery.key, "no_address", f"no address for {delivery.party}")
            return Outcome(delivery.key, "no_address")
        try:
            sent = send_mail(self.mail, recipient, delivery.subject, delivery.body, delivery.key)
        except (OSError, smtplib.SMTPException) as error:  # taken over in a later round
            # the class only: a refusal's text names the recipient's address
            log.warning("reminder %s not sent: %s", delivery.key, type(error).__name__)
            return Outcome(delivery.key, "failed", recipient)
        self._mark(delivery.key, "sent", "", sent)
        self._webhook(delivery)
        return Outcome(delivery.key, "sent", recipient)

    def _webhook(self, delivery: Delivery) -> None:
        try:
            post_webhook(self.mail, {**delivery.payload, "to": delivery.party})
        except (OSError, ValueError) as error:  # the mail went; the webhook is extra
            log.warning("webhook for %s failed: %s", delivery.key, type(error).__name__)

    def _claim(self, delivery: Delivery, recipient: str | None) -> bool:
        """Claim the reminder; False when it was sent, or another worker holds it."""
        now = int(time.time())
        row = delivery.row
        claimed = self.store.write(
            "INSERT INTO {reminder} (reminder_key, case_id, deadline, due_on, kind, role, "
            "recipient, status, claimed_at, sent_at, message_id, detail) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, 'sending', ?, NULL, ?, '') "
            "ON CONFLICT (reminder_key) DO NOTHING",
            [delivery.key, row.get("case_id"), row.get("deadline"), row.get("due_on"),
             row.get("kind"), row.get("role"), recipient, now, message_id(delivery.key)],
        )  # fmt: skip
        if claimed == 1:
            return True
        # left claimed by a worker that died (or a mail server that was away), or waiting
        # for an address that is now known: take it over
        taken = self.store.write(
            "UPDATE {reminder} SET claimed_at = ?, recipient = ?, status = 'sending' "
            "WHERE reminder_key = ? AND ((status = 'sending' AND claimed_at <= ?) "
            "OR (status = 'no_address' AND ? IS NOT NULL))",
            [now, recipient, delivery.key, now - self.takeover_seconds, recipient],
        )
        return taken == 1

    def _mark(self, key: str, status: str, detail: str, sent_id: str | None = None) -> None:
        self.store.write(
            "UPDATE {reminder} SET status = ?, sent_at = ?, detail = ?, "
            "message_id = COALESCE(?, message_id) WHERE reminder_key = ?",
            [status, datetime.now(UTC).isoformat(timespec="seconds"), detail, sent_id, key],
        )

    summary = staticmethod(summary)

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        return sent_reminders(self.store, limit)

    def step(self) -> int:
        self._last = self.run_once()
        return sum(1 for outcome in self._last if outcome.status != "skipped")

    def rounds(self, stop: Event, every_seconds: float = 60.0,
               on_round: Callable[[list[Outcome]], None] | None = None) -> None:  # fmt: skip
        """A round every ``every_seconds`` until ``stop``; ``on_round`` hears of each that
        did something."""
        heard = None if on_round is None else lambda _: on_round(self._last)
        self.follow(stop, poll_seconds=every_seconds, max_backoff=300.0, paced=True,
                    on_step=heard)  # fmt: skip


def sent_reminders(store: ReadModelStore, limit: int = 50) -> list[dict[str, Any]]:
    return store.query(
        "SELECT reminder_key, kind, role, recipient, status, sent_at, detail FROM {reminder} "
        "ORDER BY claimed_at DESC, reminder_key LIMIT ?",
        [limit],
    )
