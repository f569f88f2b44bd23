"""The read models the ledger keeps, in the order a runner feeds them."""

from __future__ import annotations

from projections.base import CaseProjection
from projections.case_state import CaseStateProjection
from projections.deadlines import DeadlineProjection
from projections.event_index import EventIndexProjection
from projections.statistics import StatisticsProjection


def all_projections() -> list[CaseProjection]:
    return [
        CaseStateProjection(),
        DeadlineProjection(),
        EventIndexProjection(),
        StatisticsProjection(),
    ]


def projections_named(names: list[str]) -> list[CaseProjection]:
    """The projections with these names; ``ValueError`` naming the known ones otherwise."""
    known = {p.name: p for p in all_projections()}
    unknown = [name for name in names if name not in known]
    if unknown:
        msg = f"unknown projection {', '.join(unknown)}; known: {', '.join(known)}"
        raise ValueError(msg)
    return [known[name] for name in names]
