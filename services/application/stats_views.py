"""Statistics reports for people and scripts: one function per report, shared by the
CLI and the API, and their flat (CSV) form."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from pydantic import ValidationError

from domain.access import (
    Principal,
    Role,
    may_read_statistics,
    published_as_of,
    suppress_below,
)
from domain.kpi import Period
from infra.headcount import HeadcountRow, parse_csv, store_headcount, workforce

__all__ = ["HeadcountRow", "record_headcount", "report", "statistics"]
from infra.readmodel import ReadModelStore
from projections.reports import (
    OUTCOMES,
    MissingHeadcount,
    deadline_report,
    kpi_report,
    sanction_report,
    second_track_report,
)
from services.application.context import Context
from services.application.errors import Forbidden, InvalidRequest, Issue

REPORTS = ("second-track", "sanctions", "deadlines", "kpi")
S5 = "poortwachter.md s5"


def statistics(
    ctx: Context,
    principal: Principal,
    kind: str,
    on: date,
    *,
    by: list[str] | None = None,
    employer_id: str | None = None,
    period: str | None = None,
) -> Any:
    """A report for a caller: population figures for unscoped roles, an employer's own
    KPIs for its own; for analysts, groups too small to hide a person are suppressed."""
    Forbidden.unless(may_read_statistics(principal, employer_id if kind == "kpi" else None))
    ctx.catch_up()
    on = published_as_of(principal, on)  # analysts: per month, never per day (no differencing)
    try:
        return report(ctx.store, kind, on, by=by, employer_id=employer_id, period=period,
                      suppress_below=suppress_below(principal))  # fmt: skip
    except ValueError as error:
        raise InvalidRequest(str(error), [Issue("query", str(error))]) from None


def record_headcount(
    ctx: Context, principal: Principal, employer_id: str, period: str, values: dict[str, Any]
) -> HeadcountRow:
    """An employer's headcount and part-time factor for a period (for the absence KPIs)."""
    if principal.role not in (Role.ADMIN, Role.EMPLOYER) or not principal.serves(employer_id):
        raise Forbidden("headcounts come from the employer itself or an admin", S5)
    try:
        row = HeadcountRow(employer_id=employer_id, period=period, **values)
    except ValidationError as error:
        detail = error.errors(include_url=False)[0]
        raise InvalidRequest(
            detail["msg"], [Issue(str(detail["loc"][0]), detail["msg"])]
        ) from None
    store_headcount(ctx.store, [row])
    return row


def report(
    store: ReadModelStore,
    kind: str,
    on: date,
    *,
    by: list[str] | None = None,
    employer_id: str | None = None,
    period: str | None = None,
    suppress_below: int | None = None,
) -> Any:
    """The report ``kind`` as of ``on``; ``ValueError`` names a wrong parameter."""
    if kind == "second-track":
        return second_track_report(store, on, by or [], suppress_below)
    if kind == "sanctions":
        return sanction_report(store, on, suppress_below)
    if kind == "deadlines":
        return deadline_report(store, on, suppress_below)
    if kind == "kpi":
        if employer_id is None or period is None:
            raise ValueError("the kpi report needs an employer and a period (e.g. 2026-Q1)")
        span = Period.parse(period)
        staff = workforce(store, employer_id, span)
        if staff is None:
            raise MissingHeadcount(employer_id, period)
        return kpi_report(store, employer_id, span, staff, suppress_below, on)
    raise ValueError(f"unknown report {kind!r}; choose from {', '.join(REPORTS)}")


def as_rows(kind: str, result: Any) -> list[dict[str, Any]]:
    """A report as flat rows (one per group, year, deadline or employer)."""
    if kind == "second-track":
        groups = [{"by": {"all": "all"}, **result}, *result["groups"]]
        rows = []
        for group in groups:
            row: dict[str, Any] = {"group": ";".join(f"{k}={v}" for k, v in group["by"].items())}
            row["n"] = group["n"]
            for outcome in OUTCOMES:
                counts, shares = group["counts"], group["shares"]
                row[outcome.value] = counts[outcome.value] if counts else None
                row[f"{outcome.value}_share"] = shares[outcome.value] if shares else None
            rows.append(row)
        return rows
    if kind == "kpi":
        flat = {k: v for k, v in result.items() if k != "duration_bands"}
        for band, count in (result.get("duration_bands") or {}).items():
            flat[f"duration_{band}"] = count
        return [flat]
    return list(result)


def to_csv(rows: list[dict[str, Any]]) -> str:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def import_headcounts(ctx: Context, text: str) -> list[HeadcountRow]:
    """Store every row of a headcount CSV in one transaction, or none when any line is
    wrong (``HeadcountRejectedError`` names each)."""
    rows = parse_csv(text)
    store_headcount(ctx.store, rows)
    return rows
