"""Statistics reports for people and scripts: one function per report, shared by the
CLI and the API, and their flat (CSV) form."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from domain.kpi import Period
from infra.headcount import workforce
from infra.readmodel import ReadModelStore
from projections.reports import (
    OUTCOMES,
    MissingHeadcount,
    deadline_report,
    kpi_report,
    sanction_report,
    second_track_report,
)

REPORTS = ("second-track", "sanctions", "deadlines", "kpi")


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
