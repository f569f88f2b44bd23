"""Statistics read model: per case, its second-track trajectory, sanctions and sick
spells (rows fixed by the events, never by the clock); the reports in
``projections.reports`` count them as of a day."""

from __future__ import annotations

import json
from collections.abc import Sequence

from domain import events as ev
from domain.case import Case
from domain.outcomes import outcome_history, sanctions, sick_spells, start_week, week_band
from infra.readmodel import Change, Replace, Row, Table
from projections.base import CaseProjection

TRAJECTORY = Table(
    name="trajectory",
    columns=(
        ("case_id", "text"),
        ("employer_id", "text"),
        ("sector", "text"),
        ("provider_id", "text"),
        ("started_on", "text"),
        ("start_week", "integer"),
        ("start_band", "text"),
        ("start_year", "integer"),
        ("history", "json"),
    ),
    key=("case_id",),
    indexes=(("started_on",),),
)
SANCTION = Table(
    name="sanction",
    columns=(
        ("case_id", "text"),
        ("seq", "integer"),
        ("employer_id", "text"),
        ("kind", "text"),
        ("imposed_on", "text"),
        ("normal_end", "text"),
        ("first_ends_on", "text"),
        ("ends_on", "text"),
        ("shortened_on", "text"),
    ),
    key=("case_id", "seq"),
    indexes=(("imposed_on",),),
)
SICK_SPELL = Table(
    name="sick_spell",
    columns=(
        ("case_id", "text"),
        ("seq", "integer"),
        ("employer_id", "text"),
        ("subject_id", "text"),  # the employee's pseudonym: counts people, survives erasure
        ("reported_on", "text"),
        ("ended_on", "text"),
        ("segments", "json"),
    ),
    key=("case_id", "seq"),
    indexes=(("employer_id", "reported_on"),),
    version=2,  # v2: subject_id replaces the plain employee_id (issue 9)
)


class StatisticsProjection(CaseProjection):
    name = "statistics"
    tables = (TRAJECTORY, SANCTION, SICK_SPELL)

    def changes(self, case: Case, new_events: Sequence[ev.CaseEvent]) -> list[Change]:
        trajectory, sanction, spell = self.tables
        key = {"case_id": str(case.id)}
        return [
            Replace(trajectory, key, trajectory_rows(case)),
            Replace(sanction, key, sanction_rows(case)),
            Replace(spell, key, spell_rows(case)),
        ]


def trajectory_rows(case: Case) -> list[Row]:
    state = case.current
    week = start_week(state)
    if state.second_track_started_on is None or week is None:
        return []
    timeline = case.timeline()
    starts = [e for e in timeline if isinstance(e, ev.SecondTrackStarted)]
    history = [[day.isoformat(), outcome.value] for day, outcome in outcome_history(timeline)]
    # The case counts from its first start; its category is that of the last trajectory.
    return [
        {
            "case_id": str(case.id),
            "employer_id": state.employer_id,
            "sector": state.sector,
            "provider_id": starts[-1].provider_id if starts else None,
            "started_on": starts[0].occurred_on.isoformat(),
            "start_week": week,
            "start_band": week_band(week),
            "start_year": state.second_track_started_on.year,
            "history": json.dumps(history),
        }
    ]


def sanction_rows(case: Case) -> list[Row]:
    state = case.current
    return [
        {
            "case_id": str(case.id),
            "seq": seq,
            "employer_id": state.employer_id,
            "kind": record.kind.value,
            "imposed_on": record.imposed_on.isoformat(),
            "normal_end": record.normal_end.isoformat(),
            "first_ends_on": record.first_ends_on.isoformat(),
            "ends_on": record.ends_on.isoformat(),
            "shortened_on": record.shortened_on.isoformat() if record.shortened_on else None,
        }
        for seq, record in enumerate(sanctions(case.timeline(), state))
    ]


def spell_rows(case: Case) -> list[Row]:
    state = case.current
    return [
        {
            "case_id": str(case.id),
            "seq": seq,
            "employer_id": state.employer_id,
            # a ledger without keys (bench only) has no subjects: one person per case
            "subject_id": str(state.subject_id or state.case_id),
            "reported_on": spell.reported_on.isoformat(),
            "ended_on": spell.ended_on.isoformat() if spell.ended_on else None,
            "segments": json.dumps([[d.isoformat(), p] for d, p in spell.segments]),
        }
        for seq, spell in enumerate(sick_spells(case.timeline()))
    ]
