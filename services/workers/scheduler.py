"""``ledger schedule``: the periodic jobs of a ledger (checkpoints, retention), at
configured times, each time slot run once across restarts and across schedulers.

A job is due at slots: ``every:SECONDS`` (slots on multiples of the interval since the
epoch) or ``daily:HH:MM`` (in ``LEDGER_TIMEZONE``, default Europe/Amsterdam). Before a
job runs for a slot, the scheduler claims the slot in the side store (one row per job
and slot; the primary key refuses a second claim), so a restart never runs a slot
twice, and two schedulers never run it both. Slots missed while no scheduler ran are
not each made up: the latest due slot runs once, which is what a catch-up of an
idempotent job (a checkpoint, a retention pass) needs.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from threading import Event
from typing import Any
from zoneinfo import ZoneInfo

from infra.log_consumer import Follower
from infra.mail import MailSettings
from infra.readmodel import ReadModelStore
from services.application import audit
from services.application.erasure import apply_retention, retention_review
from services.application.errors import InvalidRequest, Issue
from services.bootstrap import Runtime
from services.workers.signals import summary

log = logging.getLogger("ledger.schedule")

SPEC = re.compile(
    r"^(?:every:(?P<seconds>[1-9][0-9]*)|daily:(?P<hh>[01][0-9]|2[0-3]):(?P<mm>[0-5][0-9]))$"
)


def _invalid(message: str) -> InvalidRequest:
    return InvalidRequest(message, [Issue("job", message)])


@dataclass(frozen=True)
class Timing:
    every_seconds: int | None = None
    daily_at: tuple[int, int] | None = None

    @classmethod
    def parse(cls, text: str) -> Timing:
        found = SPEC.match(text)
        if found is None:
            raise _invalid(f"{text!r} is not a timing: use every:SECONDS or daily:HH:MM")
        if found["seconds"]:
            return cls(every_seconds=int(found["seconds"]))
        return cls(daily_at=(int(found["hh"]), int(found["mm"])))

    def latest_slot(self, now: datetime, zone: ZoneInfo) -> datetime:
        """The latest slot at or before ``now`` (aware)."""
        if self.every_seconds is not None:
            epoch = int(now.timestamp()) // self.every_seconds * self.every_seconds
            return datetime.fromtimestamp(epoch, UTC)
        assert self.daily_at is not None
        local = now.astimezone(zone)
        # fold=0: on the autumn clock change the hour that happens twice is one slot
        slot = local.replace(hour=self.daily_at[0], minute=self.daily_at[1], second=0,
                             microsecond=0, fold=0)  # fmt: skip
        if slot > local:
            slot = (slot - timedelta(days=1)).replace(fold=0)
        return slot.astimezone(UTC)


def run_checkpoint(rt: Runtime, on: date) -> str:
    signed = audit.checkpoint(rt)
    return f"checkpoint {signed['seq']}: {signed['tree_size']} events"


def run_retention(rt: Runtime, on: date) -> str:
    on = min(on, date.today())  # the slot's local day, never after the machine's today
    due = [d for d in retention_review(rt.ledger, rt.store, on) if d.erasable]
    erased = apply_retention(rt.ledger, due, on) if due else []
    return f"{len(erased)} files erased of {len(due)} due"


def run_signals(rt: Runtime, on: date) -> str:
    if not MailSettings().smtp:
        return "not configured: set LEDGER_SMTP=host:port to send reminders"
    return summary(rt.signal_sender().run_once(on))


JOBS: dict[str, Callable[[Runtime, date], str]] = {
    "checkpoint": run_checkpoint,
    "retention": run_retention,
    "signals": run_signals,
}
DEFAULT_TIMINGS = {"checkpoint": "every:300", "retention": "daily:02:30", "signals": "every:900"}


def parse_jobs(specs: list[str]) -> dict[str, Timing]:
    """``NAME=TIMING`` items (the defaults for those not named)."""
    chosen = dict(DEFAULT_TIMINGS)
    for spec in specs:
        name, _, timing = spec.partition("=")
        if name not in JOBS:
            raise _invalid(f"unknown job {name!r}: the jobs are {', '.join(JOBS)}")
        chosen[name] = timing
    return {name: Timing.parse(timing) for name, timing in chosen.items()}


class Scheduler(Follower):
    """Kept running by ``Follower.follow``: a look every few seconds, backing off while the
    database is away, a heartbeat after each look."""

    name = "scheduler"

    def __init__(self, rt: Runtime, jobs: dict[str, Timing], zone: ZoneInfo | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:  # fmt: skip
        self.rt, self.jobs = rt, jobs
        self.zone = zone or ZoneInfo(os.environ.get("LEDGER_TIMEZONE", "Europe/Amsterdam"))
        self.clock = clock or (lambda: datetime.now(UTC))
        self._ran: list[dict[str, Any]] = []

    def tick(self) -> list[dict[str, Any]]:
        """Run every job whose latest slot is not yet claimed; what ran."""
        ran = []
        for name, timing in self.jobs.items():
            now = self.clock()
            slot = timing.latest_slot(now, self.zone).isoformat()
            if self._claim(name, slot, now):
                ran.append(self._run(name, slot, now))
        return ran

    def _claim(self, job: str, slot: str, now: datetime) -> bool:
        claimed = self.rt.store.write(
            "INSERT INTO {scheduled_run} (job, slot, started_at, finished_at, outcome, detail) "
            "VALUES (?, ?, ?, NULL, 'running', '') ON CONFLICT (job, slot) DO NOTHING",
            [job, slot, now.isoformat()],
        )
        return claimed == 1

    def _run(self, job: str, slot: str, now: datetime) -> dict[str, Any]:
        try:
            detail, outcome = JOBS[job](self.rt, now.astimezone(self.zone).date()), "done"
        except Exception as error:  # a failed run is recorded; the next slot tries again
            detail, outcome = f"{type(error).__name__}: {error}", "failed"
            log.exception("job %s for slot %s failed", job, slot)
        self.rt.store.write(
            "UPDATE {scheduled_run} SET finished_at = ?, outcome = ?, detail = ? "
            "WHERE job = ? AND slot = ?",
            [self.clock().isoformat(), outcome, detail, job, slot],
        )
        log.info("job", extra={"job": job, "slot": slot, "outcome": outcome, "detail": detail})
        return {"job": job, "slot": slot, "outcome": outcome, "detail": detail}

    def step(self) -> int:
        self._ran = self.tick()
        return len(self._ran)

    def run(self, stop: Event, tick_seconds: float = 5.0,
            on_run: Callable[[dict[str, Any]], None] | None = None) -> None:  # fmt: skip
        def report(_: int) -> None:
            for ran in self._ran:
                if on_run is not None:
                    on_run(ran)

        self.follow(stop, poll_seconds=tick_seconds, max_backoff=60.0, on_step=report,
                    paced=True)  # fmt: skip

    def recent(self, limit: int = 20) -> list[dict[str, Any]]:
        """The latest runs, newest first."""
        return recent_runs(self.rt.store, limit)


def recent_runs(store: ReadModelStore, limit: int = 20) -> list[dict[str, Any]]:
    return store.query(
        "SELECT job, slot, started_at, finished_at, outcome, detail FROM {scheduled_run} "
        "ORDER BY started_at DESC LIMIT ?",
        [limit],
    )
