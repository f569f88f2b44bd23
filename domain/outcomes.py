"""Outcomes of second-track trajectories, sanctions and sick spells, from a case's
effective timeline (rules reference sections 3 and 6).

Each function is pure; the statistics projection stores what they return and the
queries count it, so a count can always be traced back to the cases behind it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum

from domain import events as ev
from domain.sicktime import shortened_sanction_end
from domain.state import (
    CaseState,
    CaseStatus,
    SecondTrackStatus,
    evolve,
    initial_state,
    opening_report,
)


class SecondTrackOutcome(StrEnum):
    """Where a second-track trajectory stands (Panteia 2016 categories, s6)."""

    PLACED_SECOND_TRACK = "placed_second_track"
    PLACED_ORIGINAL_EMPLOYER = "placed_original_employer"
    NO_RESULT_YET = "no_result_yet"
    OUT_OF_SERVICE_OR_OTHER = "out_of_service_or_other"


# Panteia 2016, n = 408: the reference shares shown beside ours (s6).
PANTEIA_2016 = {
    SecondTrackOutcome.PLACED_SECOND_TRACK: 0.20,
    SecondTrackOutcome.PLACED_ORIGINAL_EMPLOYER: 0.17,
    SecondTrackOutcome.NO_RESULT_YET: 0.24,
    SecondTrackOutcome.OUT_OF_SERVICE_OR_OTHER: 0.39,
}
PANTEIA_2016_N = 408

RETURN_OUTCOMES = frozenset(
    {
        ev.CaseOutcome.RECOVERED,
        ev.CaseOutcome.RETURNED_OWN_WORK,
        ev.CaseOutcome.RETURNED_ADAPTED_WORK,
        ev.CaseOutcome.RETURNED_OTHER_WORK_OWN_EMPLOYER,
    }
)


def trajectory_outcome(state: CaseState) -> SecondTrackOutcome | None:
    """The category of the case's (last) second track, or None without one.

    A placement counts even if the original employment then ended; a return to the
    original employer counts only without a placement; any other ending of the case
    or the trajectory is "out of service or other".
    """
    started = state.second_track_started_on
    if started is None:
        return None
    placements = state.milestones.get(ev.SecondTrackPlacement.__name__, ())
    if (
        any(day >= started for day in placements)  # in the last trajectory
        or state.second_track_end_reason is ev.SecondTrackEndReason.PLACEMENT
        or state.outcome is ev.CaseOutcome.PLACED_OTHER_EMPLOYER
    ):
        return SecondTrackOutcome.PLACED_SECOND_TRACK
    if state.employment_ended is not None or state.wia_outcome is not None:
        return SecondTrackOutcome.OUT_OF_SERVICE_OR_OTHER  # before any return: it is over
    if (
        state.status is CaseStatus.RECOVERED
        or state.outcome in RETURN_OUTCOMES
        or state.second_track_end_reason is ev.SecondTrackEndReason.RETURN_TO_OWN_EMPLOYER
    ):
        return SecondTrackOutcome.PLACED_ORIGINAL_EMPLOYER
    if state.status is CaseStatus.CLOSED or state.second_track is SecondTrackStatus.ENDED:
        return SecondTrackOutcome.OUT_OF_SERVICE_OR_OTHER
    return SecondTrackOutcome.NO_RESULT_YET


def outcome_history(timeline: Sequence[ev.CaseEvent]) -> list[tuple[date, SecondTrackOutcome]]:
    """Every change of the trajectory's category, in business order: the category on a
    day is that of the last change on or before it (none before the second track)."""
    state = initial_state(opening_report(timeline))
    changes: list[tuple[date, SecondTrackOutcome]] = []
    for index, event in enumerate(timeline):
        state = evolve(state, event)
        if index + 1 < len(timeline) and timeline[index + 1].occurred_on == event.occurred_on:
            continue  # classify once per day, after all of the day's facts
        outcome = trajectory_outcome(state)
        if outcome is not None and (not changes or changes[-1][1] is not outcome):
            changes.append((event.occurred_on, outcome))
    return changes


def outcome_on(
    history: Sequence[tuple[date, SecondTrackOutcome]], day: date
) -> SecondTrackOutcome | None:
    found = None
    for since, outcome in history:
        if since > day:
            break
        found = outcome
    return found


def start_week(state: CaseState) -> int | None:
    """The week of sickness in which the second track started (week 1 = days 1-7)."""
    if state.second_track_started_on is None:
        return None
    return max(state.clock.counted_sick_days(state.second_track_started_on) - 1, 0) // 7 + 1


WEEK_BANDS = ((1, 13), (14, 26), (27, 39), (40, 52), (53, None))


def week_band(week: int) -> str:
    for low, high in WEEK_BANDS:
        if week >= low and (high is None or week <= high):
            return f"{low}-{high}" if high else f"{low}+"
    return "1-13"  # a start before the first sick week counts with the first band


@dataclass(frozen=True)
class SanctionRecord:
    """One wage sanction (*loonsanctie*, s3) as the case's facts give it."""

    kind: ev.SanctionKind
    imposed_on: date
    normal_end: date  # the end of the waiting time it extends
    first_ends_on: date
    ends_on: date  # after any shortening (*bekorting*)
    shortened_on: date | None

    @property
    def weeks(self) -> float:
        return max((self.ends_on - self.normal_end).days, 0) / 7


def sanctions(timeline: Sequence[ev.CaseEvent], state: CaseState) -> list[SanctionRecord]:
    found: list[SanctionRecord] = []
    for event in timeline:
        if isinstance(event, ev.WageSanctionImposed):
            normal_end = state.end_of_waiting_time
            found.append(
                SanctionRecord(
                    event.kind, event.occurred_on, normal_end, event.ends_on, event.ends_on, None
                )
            )
        elif isinstance(event, ev.WageSanctionShortened) and found:
            found[-1] = replace(found[-1], ends_on=event.ends_on, shortened_on=event.occurred_on)
        elif isinstance(event, ev.SanctionShorteningDecided) and event.granted and found:
            last = found[-1]
            ends_on = shortened_sanction_end(last.ends_on, last.normal_end, event.occurred_on)
            found[-1] = replace(last, ends_on=ends_on, shortened_on=event.occurred_on)
    return found


@dataclass(frozen=True)
class Spell:
    """One sickness spell: from a report (or a relapse) to the first fit day, with the
    degree of incapacity over time (for the absence percentage, s7)."""

    reported_on: date
    ended_on: date | None  # first day no longer absent; None while it lasts
    segments: tuple[tuple[date, int], ...]  # (from day, incapacity percent)


def sick_spells(timeline: Sequence[ev.CaseEvent]) -> list[Spell]:
    spells: list[Spell] = []
    start: date | None = None
    segments: list[tuple[date, int]] = []

    def close(on: date) -> None:
        nonlocal start, segments
        if start is not None:
            spells.append(Spell(start, on, tuple(segments)))
        start, segments = None, []

    resume_at = 100  # the degree of incapacity to go back to after a pregnancy leave
    for event in timeline:
        if isinstance(event, ev.SicknessReported | ev.SicknessResumed) and start is None:
            start, segments = event.occurred_on, [(event.occurred_on, event.incapacity_percent)]
        elif isinstance(event, ev.WorkPartiallyResumed) and start is not None:
            segments.append((event.occurred_on, event.incapacity_percent))
        elif isinstance(event, ev.PregnancyLeaveStarted) and start is not None:
            resume_at = segments[-1][1]  # the leave is no absence (s7): 0 % while it lasts
            segments.append((event.occurred_on, 0))
        elif isinstance(event, ev.PregnancyLeaveEnded) and start is not None:
            if not segments[-1][1]:  # back from the leave, as sick as before it
                segments.append((event.occurred_on, resume_at))
        elif isinstance(event, ev.RecoveryReported | ev.EmploymentEnded | ev.CaseClosed):
            close(event.occurred_on)
    if start is not None:
        spells.append(Spell(start, None, tuple(segments)))
    return spells
