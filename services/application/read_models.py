"""Running the read models for the ``ledger`` command: which ones, from the log or, to
scale out, from the feed's Kafka partitions."""

from __future__ import annotations

from projections.base import CaseProjection
from projections.catalogue import all_projections, projections_named
from projections.runner import Progress, ReadModelRunner, RunSummary
from services.application.errors import InvalidRequest, Issue

__all__ = ["SCALE_OUT", "Progress", "ReadModelRunner", "RunSummary", "chosen", "scale_out"]

SCALE_OUT = ["deadlines", "statistics"]  # read models that replace rows per case


def chosen(names: list[str] | None) -> list[CaseProjection]:
    """The read models named (every one when none), or ``InvalidRequest`` naming the known."""
    try:
        return projections_named(names) if names else all_projections()
    except ValueError as error:
        raise InvalidRequest(str(error), [Issue("only", str(error))]) from None


def scale_out(names: list[str] | None) -> list[CaseProjection]:
    """The read models a Kafka worker may keep: those that replace their rows per case."""
    wanted = names or SCALE_OUT
    if set(wanted) - set(SCALE_OUT):
        raise InvalidRequest(f"over Kafka only {', '.join(SCALE_OUT)} scale out",
                             [Issue("only", "not a scale-out read model")])  # fmt: skip
    return projections_named(wanted)
