"""Sending reminders: e-mail over SMTP (``LEDGER_SMTP``: host:port, ``LEDGER_SMTP_FROM``)
and, optionally, a JSON webhook (``LEDGER_SIGNALS_WEBHOOK``). Each message carries a
Message-ID made from its reminder's key, so a message sent again after a crash is the
same message to the mail systems that receive it."""

from __future__ import annotations

import hashlib
import json
import os
import smtplib
import urllib.request
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any


@dataclass(frozen=True)
class MailSettings:
    smtp: str | None = field(default_factory=lambda: os.environ.get("LEDGER_SMTP"))
    sender: str = field(
        default_factory=lambda: os.environ.get("LEDGER_SMTP_FROM", "ledger@localhost")
    )
    webhook: str | None = field(default_factory=lambda: os.environ.get("LEDGER_SIGNALS_WEBHOOK"))
    timeout: float = 10.0


def message_id(key: str) -> str:
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@reintegration-ledger>"


def send_mail(settings: MailSettings, to: str, subject: str, body: str, key: str) -> str:
    """Send one message; its Message-ID."""
    if not settings.smtp:
        raise OSError("no SMTP server: set LEDGER_SMTP=host:port")
    host, _, port = settings.smtp.rpartition(":")
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = settings.sender, to, subject
    message["Message-ID"] = message_id(key)
    message.set_content(body)
    with smtplib.SMTP(host or settings.smtp, int(port or 25), timeout=settings.timeout) as smtp:
        smtp.send_message(message)
    return str(message["Message-ID"])


def post_webhook(settings: MailSettings, payload: dict[str, Any]) -> None:
    if not settings.webhook:
        return
    request = urllib.request.Request(
        settings.webhook, data=json.dumps(payload).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=settings.timeout):
        pass
