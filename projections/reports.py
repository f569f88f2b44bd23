"""Statistics reports as of a day, counted from the statistics and deadline read models.

``suppress_below`` hides groups smaller than that many cases (or employees), so that
an analyst cannot single out a person from a small group (rules reference s5).
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from domain.deadlines import DeadlineStatus
from domain.kpi import (
    Durations,
    EmployeeSpell,
    Period,
    Workforce,
    absence_percentage,
    average_duration,
    known_on,
    report_frequency,
    zero_absence,
)
from domain.outcomes import (
    PANTEIA_2016,
    PANTEIA_2016_N,
    SecondTrackOutcome,
    Spell,
    outcome_on,
)
from infra.readmodel import ReadModelStore, Row
from projections.deadlines import fact_from_row

COUNTED = (
    DeadlineStatus.DONE,
    DeadlineStatus.DONE_LATE,
    DeadlineStatus.OVERDUE,
    DeadlineStatus.MISSED,
)
GROUPINGS = {
    "band": "start_band",
    "provider": "provider_id",
    "employer": "employer_id",
    "sector": "sector",
    "year": "start_year",
}
OUTCOMES = list(SecondTrackOutcome)


def _shares(counts: Counter[SecondTrackOutcome], n: int) -> dict[str, float]:
    return {o.value: round(counts[o] / n, 4) if n else 0.0 for o in OUTCOMES}


def _hidden(groups: dict[Any, list[SecondTrackOutcome]], threshold: int | None) -> set[Any]:
    """Small groups, and then the smallest others until the hidden ones add up to at
    least ``threshold`` cases: otherwise the total minus the visible groups gives a
    small group away (secondary suppression)."""
    if threshold is None:
        return set()
    hidden = {key for key, outcomes in groups.items() if len(outcomes) < threshold}
    rest = sorted((len(o), str(key), key) for key, o in groups.items() if key not in hidden)
    while hidden and 0 < sum(len(groups[k]) for k in hidden) < threshold and rest:
        hidden.add(rest.pop(0)[2])
    if len(hidden) == 1 and rest:  # one hidden group alone equals total minus the rest
        hidden.add(rest.pop(0)[2])
    return hidden


def _group(
    by: dict[str, Any],
    outcomes: list[SecondTrackOutcome],
    hide: int | None,
    hidden: bool = False,
) -> dict[str, Any]:
    n = len(outcomes)
    if hidden or (hide is not None and n < hide):
        return {"by": by, "suppressed": True, "n": None, "counts": None, "shares": None}
    counts = Counter(outcomes)
    return {
        "by": by,
        "suppressed": False,
        "n": n,
        "counts": {o.value: counts[o] for o in OUTCOMES},
        "shares": _shares(counts, n),
    }


def second_track_report(
    store: ReadModelStore, on: date, by: Sequence[str] = (), suppress_below: int | None = None
) -> dict[str, Any]:
    """Every trajectory started by ``on`` in exactly one category as of ``on``."""
    unknown = [name for name in by if name not in GROUPINGS]
    if unknown:
        msg = f"cannot group by {', '.join(unknown)}; choose from {', '.join(GROUPINGS)}"
        raise ValueError(msg)
    if suppress_below is not None and len(by) > 1:
        # Crossed groupings let hidden cells be recovered by subtracting visible ones.
        msg = "with small groups hidden, group by one dimension at a time"
        raise ValueError(msg)
    rows = store.query(
        "SELECT * FROM {trajectory} WHERE started_on <= ? ORDER BY case_id", [on.isoformat()]
    )
    placed: list[tuple[Row, SecondTrackOutcome]] = []
    for row in rows:
        history = [
            (date.fromisoformat(d), SecondTrackOutcome(o)) for d, o in json.loads(row["history"])
        ]
        outcome = outcome_on(history, on) or SecondTrackOutcome.NO_RESULT_YET
        placed.append((row, outcome))
    groups: dict[tuple[Any, ...], list[SecondTrackOutcome]] = {}
    for row, outcome in placed:
        key = tuple(row[GROUPINGS[name]] for name in by)
        groups.setdefault(key, []).append(outcome)
    report = _group({}, [o for _, o in placed], suppress_below)
    hidden = _hidden(groups, suppress_below)
    return {
        "on": on.isoformat(),
        **{k: v for k, v in report.items() if k != "by"},
        "reference": {
            "source": "Panteia 2016 (poortwachter.md s6)",
            "n": PANTEIA_2016_N,
            "shares": {o.value: share for o, share in PANTEIA_2016.items()},
        },
        "groups": [
            _group(dict(zip(by, key, strict=True)), outcomes, suppress_below, key in hidden)
            for key, outcomes in sorted(groups.items(), key=lambda kv: [str(k) for k in kv[0]])
        ]
        if by
        else [],
    }


def sanction_report(
    store: ReadModelStore, on: date, suppress_below: int | None = None
) -> list[dict[str, Any]]:
    """Per year of imposition: sanctions by kind, how many were shortened, mean length."""
    rows = store.query(
        "SELECT * FROM {sanction} WHERE imposed_on <= ? ORDER BY imposed_on", [on.isoformat()]
    )
    years: dict[int, list[Row]] = {}
    for row in rows:
        years.setdefault(int(row["imposed_on"][:4]), []).append(row)
    report: list[dict[str, Any]] = []
    for year, found in sorted(years.items()):
        if suppress_below is not None and len(found) < suppress_below:
            report.append({"year": year, "suppressed": True})
            continue
        weeks = [_weeks(row, on) for row in found]
        report.append(
            {
                "year": year,
                "suppressed": False,
                "imposed": len(found),
                "insufficient_efforts": sum(1 for r in found if r["kind"] == "substantive"),
                "administrative": sum(1 for r in found if r["kind"] == "administrative"),
                "shortened": sum(
                    1 for r in found if r["shortened_on"] and r["shortened_on"] <= on.isoformat()
                ),
                "average_weeks": round(sum(weeks) / len(weeks), 1),
            }
        )
    return report


def _weeks(row: Row, on: date) -> float:
    shortened = row["shortened_on"] and row["shortened_on"] <= on.isoformat()
    ends = date.fromisoformat(row["ends_on"] if shortened else row["first_ends_on"])
    return max((ends - date.fromisoformat(row["normal_end"])).days, 0) / 7


def deadline_report(
    store: ReadModelStore, on: date, suppress_below: int | None = None
) -> list[dict[str, Any]]:
    """Per deadline: how many fell due by ``on``, the share met on time, median days late.
    A deadline an ended file missed counts once, late by the days up to the file's end."""
    rows = store.query(
        "SELECT * FROM {deadline} WHERE is_task = 1 AND due_on < ? "
        "AND (done_on IS NOT NULL OR file_ended_on IS NULL OR file_ended_on >= due_on)",
        [on.isoformat()],
    )
    kinds: dict[str, list[int]] = {}
    for row in rows:
        fact = fact_from_row(row)
        if fact.done_on is not None and fact.done_on > on:  # not yet done on the day asked
            fact = replace(fact, done_on=None)
        if fact.file_ended_on is not None and fact.file_ended_on > on:  # still running then
            fact = replace(fact, file_ended_on=None)
        deadline = fact.as_of(on)
        if deadline.status in COUNTED:
            kinds.setdefault(deadline.deadline, []).append(deadline.days_late or 0)
    report: list[dict[str, Any]] = []
    for name, lateness in sorted(kinds.items()):
        if suppress_below is not None and len(lateness) < suppress_below:
            report.append({"deadline": name, "suppressed": True})
            continue
        late = [days for days in lateness if days > 0]
        report.append(
            {
                "deadline": name,
                "suppressed": False,
                "due": len(lateness),
                "on_time": len(lateness) - len(late),
                "share_on_time": round((len(lateness) - len(late)) / len(lateness), 4),
                "median_days_late": statistics.median(late) if late else 0,
            }
        )
    return report


@dataclass  # not frozen: raising an exception sets its __traceback__
class MissingHeadcount(LookupError):
    employer_id: str
    period: str

    def __str__(self) -> str:
        return (
            f"no headcount for employer {self.employer_id} in {self.period}; "
            "import it with `ledger headcount import FILE.csv`"
        )


def spells_of(store: ReadModelStore, employer_id: str, period: Period) -> list[EmployeeSpell]:
    rows = store.query(
        "SELECT * FROM {sick_spell} WHERE employer_id = ? AND reported_on <= ? "
        "AND (ended_on IS NULL OR ended_on >= ?)",
        [employer_id, period.end.isoformat(), period.start.isoformat()],
    )
    return [
        EmployeeSpell(
            row["subject_id"],
            Spell(
                date.fromisoformat(row["reported_on"]),
                date.fromisoformat(row["ended_on"]) if row["ended_on"] else None,
                tuple((date.fromisoformat(d), p) for d, p in json.loads(row["segments"])),
            ),
        )
        for row in rows
    ]


def kpi_report(
    store: ReadModelStore,
    employer_id: str,
    period: Period,
    workforce: Workforce,
    suppress_below: int | None = None,
    on: date | None = None,
) -> dict[str, Any]:
    """The KPIs of a period, or of its part up to ``on`` with only what was known then."""
    base = {"employer_id": employer_id, "period": period.label, "headcount": workforce.headcount}
    if suppress_below is not None and workforce.headcount < suppress_below:
        return {**base, "suppressed": True}
    if on is not None:
        period = period.until(on)
    found = spells_of(store, employer_id, period)
    if on is not None:  # only what had happened by then
        found = [
            EmployeeSpell(s.employee_id, known_on(s.spell, on))
            for s in found
            if s.spell.reported_on <= on
        ]
    spells = [s.spell for s in found]
    durations = average_duration(spells, period)
    if suppress_below is not None and durations.spells < suppress_below:
        durations = Durations(None, {}, durations.spells)  # one person's length otherwise
    return {
        **base,
        "suppressed": False,
        "part_time_factor": workforce.part_time_factor,
        "absence_percentage": round(absence_percentage(spells, period, workforce), 2),
        "report_frequency": round(report_frequency(spells, period, workforce), 3),
        "period_covered": f"{period.start.isoformat()}..{period.end.isoformat()}",
        "average_duration_days": round(durations.mean_days, 1) if durations.mean_days else None,
        "ended_spells": durations.spells,
        "duration_bands": durations.bands or None,
        "zero_absence": round(zero_absence(found, period, workforce), 4),
    }
