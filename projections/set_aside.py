"""Events a projection could not apply, set aside with the reason, so the rest goes on.

One bad event (a date an older ledger accepted, a bug in a projection) must not stop
every read model: the runner writes its rows here instead of the case's rows, in the
same transaction as the page, and moves on. The case's rows stay as they were before
the event. Each later event of the case is tried again together with what was set
aside; once they apply (after a correction, say), the rows are written and the set-aside
events are marked ``resolved_by`` that notification id. Nothing here is personal: case
ids are opaque and the events the runner reads are sealed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from uuid import UUID

from eventsourcing.persistence import PersistenceError

from domain import events as ev
from domain.case import Case
from infra.readmodel import Change, ReadModelStore, Replace, Row, Table

log = logging.getLogger("ledger.projections")

SET_ASIDE = Table(
    name="set_aside",
    columns=(
        ("projection", "text"),  # the projection's tracking name
        ("notification_id", "integer"),
        ("case_id", "text"),
        ("event_id", "text"),
        ("event_type", "text"),
        ("version", "integer"),
        ("reason", "text"),
        ("resolved_by", "integer"),  # the notification id whose page applied it
    ),
    key=("projection", "notification_id"),
    indexes=(("projection", "resolved_by"),),
)
MAX_REASON = 300


@dataclass(frozen=True)
class SetAside:
    projection: str
    notification_id: int
    case_id: str
    event_id: str
    event_type: str
    version: int
    reason: str


def describe(error: Exception) -> str:
    """The reason kept for an operator: the exception's type and message, cut short."""
    return f"{type(error).__name__}: {error}"[:MAX_REASON]


def set_aside_change(held: SetAside, resolved_by: int | None = None) -> Replace:
    """The row of a set-aside event (a ``Replace``: a replayed page writes it again)."""
    where = {"projection": held.projection, "notification_id": held.notification_id}
    return Replace(SET_ASIDE, where, [{**asdict(held), "resolved_by": resolved_by}])


def held_event(projection: str, notification_id: int, event: ev.CaseEvent, reason: str) -> SetAside:
    return SetAside(
        projection,
        notification_id,
        str(event.originator_id),
        str(event.event_id),
        event.type,
        event.originator_version,
        reason,
    )


def fold_each(
    case_ids: Iterable[UUID], fold: Callable[[UUID], Case]
) -> tuple[dict[UUID, Case], dict[UUID, str]]:
    """Each case as ``fold`` gives it, and why those it could not fold were not (their
    events are then set aside). The store being away is no reason: that is retried."""
    cases: dict[UUID, Case] = {}
    broken: dict[UUID, str] = {}
    for case_id in case_ids:
        try:
            cases[case_id] = fold(case_id)
        except PersistenceError:
            raise
        except Exception as error:
            broken[case_id] = describe(error)
    return cases, broken


def changes_or_set_aside(
    tracking: str,
    rows: Callable[[], list[Change]],
    events: Sequence[tuple[int, ev.CaseEvent]],
    held: Sequence[SetAside],
    end: int,
    reason: str = "",
) -> tuple[list[Change], list[SetAside]]:
    """A case's ``rows`` for a page ending at ``end``, with the events ``held`` for it marked
    applied; or, if the rows cannot be made (or ``reason`` says the case could not be
    folded), its ``events`` (notification id, event) set aside. Returns the changes to
    write and what was newly set aside."""
    if not reason:
        try:
            changes = rows()
        except Exception as error:  # one event must not stop every read model
            reason = describe(error)
        else:
            return changes + [set_aside_change(h, resolved_by=end) for h in held], []
    added = [held_event(tracking, number, event, reason) for number, event in events]
    for item in added:
        log.warning("%s set aside notification %d (%s of case %s): %s", tracking,
                    item.notification_id, item.event_type, item.case_id, reason)  # fmt: skip
    return [set_aside_change(h) for h in added], added


def pending_set_aside(store: ReadModelStore, projections: Sequence[str] = ()) -> list[SetAside]:
    """Events set aside and not applied since, oldest first (of ``projections``, or all)."""
    rows = store.query(
        "SELECT * FROM {set_aside} WHERE resolved_by IS NULL ORDER BY notification_id, projection"
    )
    return [_held_row(r) for r in rows if not projections or r["projection"] in projections]


def _held_row(r: Row) -> SetAside:
    return SetAside(**{name: r[name] for name in SetAside.__dataclass_fields__})


def forget_set_aside(store: ReadModelStore, projection: str) -> None:
    """A rebuild starts the projection from zero: what it set aside goes too."""
    store.write("DELETE FROM {set_aside} WHERE projection = ?", [projection])


def pending_of_cases(
    store: ReadModelStore, tracking: str, case_ids: Sequence[UUID]
) -> dict[str, list[SetAside]]:
    """What ``tracking`` holds set aside for these cases (one query), by case id."""
    if not case_ids:
        return {}
    marks = ", ".join("?" for _ in case_ids)
    rows = store.query(
        "SELECT * FROM {set_aside} WHERE resolved_by IS NULL AND projection = ? "
        f"AND case_id IN ({marks})",
        [tracking, *(str(c) for c in case_ids)],
    )
    found: dict[str, list[SetAside]] = {}
    for r in rows:
        found.setdefault(str(r["case_id"]), []).append(_held_row(r))
    return found
