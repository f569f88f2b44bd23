"""The ledger's notification log, read in pages, and the one base for whatever follows it.

``NotificationLog`` is the only place that pages ``select_notifications`` (ids may have
gaps; the paging skips them), and decodes each page sealed (what read models and the
feed get: protected fields unopened) or opened.

``Follower`` is the loop every long-running consumer shares: apply what is new, wait
when there was nothing, back off while the database (or a broker) is away.
``LogConsumer`` is a follower of the notification log that keeps its position with
its writes, one transaction per page, so a crash loses nothing and applies nothing
twice. The read-model runner and the Kafka feed are log consumers; the Kafka
projection worker is a follower whose pages come from its partitions.

Names: ``eventsourcing.projection`` has a ``ProjectionRunner`` of its own; ours are
``LogConsumer`` and, in ``projections.runner``, ``ReadModelRunner``.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from threading import Event
from typing import Any, cast
from uuid import UUID

from eventsourcing.persistence import (
    ApplicationRecorder,
    InterfaceError,
    Mapper,
    Notification,
    OperationalError,
)

from domain import events as ev
from infra.heartbeat import beat

log = logging.getLogger("ledger.log")

PAGE_SIZE = 5000


@dataclass(frozen=True)
class Page:
    """Consecutive notifications of the log (ids ascending, maybe with gaps), decoded."""

    notifications: Sequence[Notification]
    events: Sequence[ev.CaseEvent]

    @property
    def ids(self) -> list[int]:
        return [n.id for n in self.notifications]

    @property
    def last(self) -> int:
        return self.notifications[-1].id


class NotificationLog:
    """The notification log of one application's recorder."""

    def __init__(self, recorder: ApplicationRecorder, mapper: Mapper[UUID] | None = None) -> None:
        """Without a mapper the log gives stored notifications only (``notifications``)."""
        self.recorder, self.mapper = recorder, mapper

    def _decoder(self, sealed: bool) -> Callable[[Notification], Any]:
        if self.mapper is None:
            raise TypeError("this log has no mapper: it reads stored notifications only")
        opened = self.mapper.to_domain_event
        return getattr(self.mapper, "to_sealed_domain_event", opened) if sealed else opened

    def head(self) -> int:
        return self.recorder.max_notification_id() or 0

    def notifications(
        self,
        after: int | None,
        *,
        page_size: int = PAGE_SIZE,
        topics: Sequence[str] = (),
        limit: int | None = None,
    ) -> Iterator[Sequence[Notification]]:
        """Pages of stored notifications after ``after`` (``None``: from the very first,
        whatever its id, so that a row below the first id is not skipped)."""
        start, inclusive, left = after, after is None, limit
        while left is None or left > 0:
            size = page_size if left is None else min(page_size, left)
            page = self.recorder.select_notifications(
                start, size, inclusive_of_start=inclusive, topics=topics
            )
            if not page:
                return
            yield page
            if left is not None:
                left -= len(page)
            start, inclusive = page[-1].id, False

    def pages(
        self,
        after: int | None,
        *,
        sealed: bool = True,
        page_size: int = PAGE_SIZE,
        topics: Sequence[str] = (),
        limit: int | None = None,
    ) -> Iterator[Page]:
        """Decoded pages after ``after``: ``sealed`` leaves protected fields unopened."""
        decode = self._decoder(sealed)
        for notifications in self.notifications(
            after, page_size=page_size, topics=topics, limit=limit
        ):
            yield Page(notifications, [cast(ev.CaseEvent, decode(n)) for n in notifications])

    def sealed_decoder(self) -> Callable[[Notification], Any]:
        """How this log decodes a notification with protected fields left unopened."""
        return self._decoder(True)

    def event_at(self, notification_id: int, *, sealed: bool = True) -> ev.CaseEvent:
        """The event stored under ``notification_id``; ``LookupError`` if there is none."""
        for page in self.pages(notification_id - 1, sealed=sealed, limit=1):
            if page.last == notification_id:
                return page.events[0]
        raise LookupError(f"no stored event has notification id {notification_id}")

    def events(self, *, sealed: bool = False, page_size: int = 1000) -> Iterator[ev.CaseEvent]:
        """Every stored event in log order."""
        for page in self.pages(None, sealed=sealed, page_size=page_size):
            yield from page.events


@dataclass(frozen=True)
class Progress:
    """Where a run is: reported after every committed page."""

    position: int
    head: int  # the log's last notification id when the run started
    events: int  # events applied in this run
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


ProgressCallback = Callable[[Progress], None]
RETRYABLE: tuple[type[BaseException], ...] = (OperationalError, InterfaceError)


class Follower(ABC):
    """Something that applies what is new in a source and is kept running."""

    name: str = "follower"
    # errors after which the follower waits and tries again (the database is away)
    retry_on: tuple[type[BaseException], ...] = RETRYABLE

    @abstractmethod
    def step(self) -> int:
        """Apply whatever is new now; how many items (events, messages) were applied."""

    def on_retry(self, error: BaseException, backoff: float) -> None:
        """Called before waiting ``backoff`` seconds after ``error``."""
        log.warning("%s: unavailable (%s); retry in %.1fs", self.name, error, backoff)

    def follow(
        self,
        stop: Event,
        *,
        poll_seconds: float = 1.0,
        max_backoff: float = 30.0,
        first_backoff: float | None = None,
        on_step: Callable[[int], None] | None = None,
        paced: bool = False,
    ) -> None:
        """Apply new items until ``stop`` is set: wait ``poll_seconds`` when there were
        none (``paced``: after every step), and back off (from ``first_backoff``, default
        ``poll_seconds``, doubling up to ``max_backoff``) while a source is away."""
        first = poll_seconds if first_backoff is None else first_backoff
        backoff = first
        while not stop.is_set():
            try:
                applied = self.step()
            except self.retry_on as error:
                self.on_retry(error, backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, max_backoff)
                continue
            backoff = first
            beat()  # healthy: ``ledger health --heartbeat`` (container health checks)
            if applied and on_step is not None:
                on_step(applied)
            if paced or applied == 0:
                stop.wait(poll_seconds)


class LogConsumer(Follower):
    """A follower of the notification log that keeps its position with its writes.

    Subclasses say where they are (``start``) and apply a page, writing its results and
    the page's last id as their new position in one transaction (``apply``).
    """

    def __init__(self, log: NotificationLog, *, page_size: int = PAGE_SIZE, sealed: bool = True):
        self.log, self.page_size, self.sealed = log, page_size, sealed

    @abstractmethod
    def start(self) -> int | None:
        """The position to read after (``None`` before the first page)."""

    @abstractmethod
    def apply(self, page: Page) -> int:
        """Write the page's results and position; how many of its events were applied."""

    def catch_up(self, progress: ProgressCallback | None = None) -> int:
        """Apply everything in the log now; return when at the head (read-your-writes)."""
        head, started, applied = self.log.head(), time.monotonic(), 0
        for page in self.log.pages(self.start() or 0, sealed=self.sealed,
                                   page_size=self.page_size):  # fmt: skip
            applied += self.apply(page)
            if progress is not None:
                seconds = time.monotonic() - started
                progress(Progress(page.last, max(head, page.last), applied, seconds))
        return applied

    def step(self) -> int:
        return self.catch_up()
