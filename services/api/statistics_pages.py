"""The statistics page, for people (issue 21): labelled charts of our figures beside
Panteia 2016 and of each deadline met on time, the absence KPIs of rules reference s7
for an employer (an employer's token: its own), and, for analysts, which groups are
too small to show."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from domain.access import default_employer, suppress_below
from services.api.page_kit import caller_of, context, login_page, page, refused_page
from services.api.pages import DEADLINE_TERMS
from services.application.errors import ApplicationError, Forbidden, MissingHeadcount
from services.application.labels import words
from services.application.stats_views import statistics

router = APIRouter(include_in_schema=False)
OUTCOME_COLOURS = {
    "placed_second_track": "#2e7d32",
    "placed_original_employer": "#1f5fa8",
    "no_result_yet": "#b26a00",
    "out_of_service_or_other": "#9e9e9e",
}
KPI_TERMS = {  # rules reference s7 (Vernet / CBS)
    "absence_percentage": ("Absence percentage", "verzuimpercentage"),
    "report_frequency": ("Reports per employee per year", "meldingsfrequentie"),
    "average_duration_days": ("Mean duration of ended spells (days)", "gemiddelde verzuimduur"),
    "zero_absence": ("Employees without a report", "nulverzuim"),
}


def quarter_of(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


@router.get("/ui/statistics", response_class=HTMLResponse)
def statistics_page(request: Request, on: date | None = None,
                    employer: Annotated[str | None, Query(max_length=64)] = None,
                    period: Annotated[str | None, Query(max_length=10)] = None,
                    ) -> HTMLResponse:  # fmt: skip
    caller = caller_of(request)
    if caller is None:
        return login_page(request, "sign in to see statistics")
    ctx, day = context(request), on or date.today()
    own = default_employer(caller, employer or None)
    try:
        population = _population(ctx, caller, day) if caller.employers is None else None
        kpi, kpi_problem = _kpis(ctx, caller, day, own, period or quarter_of(day))
    except Forbidden as refused:
        return refused_page(request, refused)
    return page(request, "statistics.html", day=day, population=population, kpi=kpi,
                 kpi_problem=kpi_problem, employer=own, period=period or quarter_of(day),
                 kpi_terms=KPI_TERMS, colours=OUTCOME_COLOURS, terms=DEADLINE_TERMS,
                 small_group=suppress_below(caller), words=words)  # fmt: skip


def _population(ctx: Any, caller: Any, day: date) -> dict[str, Any]:
    second = statistics(ctx, caller, "second-track", day, by=["band"])
    return {"second": second, "bars": _outcome_bars(second),
            "sanctions": statistics(ctx, caller, "sanctions", day),
            "deadlines": statistics(ctx, caller, "deadlines", day)}  # fmt: skip


def _kpis(ctx: Any, caller: Any, day: date, employer: str | None, period: str
          ) -> tuple[dict[str, Any] | None, str | None]:  # fmt: skip
    """The KPIs of ``employer`` in ``period``, or why there are none."""
    if employer is None:
        return None, None
    try:
        return statistics(ctx, caller, "kpi", day, employer_id=employer, period=period), None
    except Forbidden:
        raise  # the page of a refusal, not a note
    except (MissingHeadcount, ApplicationError) as missing:  # a period, say, it cannot read
        return None, str(missing)


def _outcome_bars(second: dict[str, Any]) -> list[dict[str, Any]]:
    """Stacked bars (ours, Panteia 2016) as segments with x offsets in percent."""
    rows = []
    for label, shares, n in (
        ("this ledger", second["shares"], second["n"]),
        ("Panteia 2016", second["reference"]["shares"], second["reference"]["n"]),
    ):
        x, segments = 0.0, []
        for outcome, share in (shares or {}).items():
            segments.append({"outcome": outcome, "x": round(x * 100, 2),
                             "width": round(share * 100, 2)})  # fmt: skip
            x += share
        rows.append({"label": label, "n": n, "segments": segments})
    return rows
