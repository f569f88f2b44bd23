"""Which dates and texts an event may carry at all, before any rule of the case looks at it.

A date far outside a file's life is not a fact but a typing error (9999-12-30 for
2026-12-30), and once stored it breaks every computation that counts weeks from it.
The bounds are data: the earliest first sick day the ledger accepts, how far ahead of
its recording a first sick day or a planned date may lie, and how far ahead of the
ledger's clock a ``recorded_at`` may be (clock skew between machines). Free text holds
no control characters: a NUL cannot be stored by PostgreSQL and no reader needs one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any, get_args, get_origin

from domain import events as ev

# The Wet verbetering poortwachter applies to sickness from 1 April 2002 (rules
# reference s8, rule set poortwachter-2002); a file that began before 2002 ended long ago.
EARLIEST_FIRST_SICK_DAY = date(2002, 1, 1)
# A sickness announced ahead (planned surgery) is reported at most this early.
FIRST_SICK_DAY_AHEAD = timedelta(days=14)
# A planned date in an event (a sanction's end, a leave's end) lies at most this far
# after the day it was recorded: 52 weeks of sanction after 104 weeks of sickness.
PLANNED_DATE_AHEAD = timedelta(weeks=156)
# How far a writer's clock may run ahead of the ledger's.
CLOCK_SKEW = timedelta(minutes=5)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@cache
def _fields(event_class: type[ev.CaseEvent]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The data fields of a class that may hold a date, and those that may hold text
    (worked out once per class: these checks run for every event of an import)."""
    dates, texts = [], []
    for name in event_class.payload_fields():
        kinds = _kinds(event_class.model_fields[name].annotation)
        if date in kinds:
            dates.append(name)
        if kinds & {str, dict, list, tuple, object}:
            texts.append(name)
    return tuple(dates), tuple(texts)


def _kinds(annotation: Any) -> set[Any]:
    """The plain types an annotation admits (through unions, Annotated and generics)."""
    origin = get_origin(annotation)
    if origin is None:
        if annotation is Any:
            return {object}
        return {annotation} if isinstance(annotation, type) else set()
    found = {origin} if isinstance(origin, type) else set()
    for argument in get_args(annotation):
        found |= _kinds(argument)
    return found


def data_dates(event: ev.CaseEvent) -> Iterator[tuple[str, date]]:
    """The dates in an event's data, by dotted field (``data.first_sick_day``)."""
    for name in _fields(type(event))[0]:
        value = getattr(event, name)
        if isinstance(value, date):
            yield f"data.{name}", value


def date_problem(event: ev.CaseEvent, recorded_day: date) -> tuple[str, str] | None:
    """The first date of ``event`` outside what a file can hold, as (field, message)."""
    if isinstance(event, ev.SicknessReported):
        first = event.first_sick_day
        if first < EARLIEST_FIRST_SICK_DAY:
            return "data.first_sick_day", (
                f"first_sick_day {first} is before {EARLIEST_FIRST_SICK_DAY}: the Wet "
                "verbetering poortwachter files this ledger keeps begin in 2002 or later"
            )
        if first - recorded_day > FIRST_SICK_DAY_AHEAD:  # a difference cannot overflow
            return "data.first_sick_day", (
                f"first_sick_day {first} is more than {FIRST_SICK_DAY_AHEAD.days} days after "
                f"the day it was reported ({recorded_day})"
            )
    for field, value in data_dates(event):
        if value < EARLIEST_FIRST_SICK_DAY or value - recorded_day > PLANNED_DATE_AHEAD:
            return field, (
                f"{field.removeprefix('data.')} {value} lies outside any file recorded on "
                f"{recorded_day}: from {EARLIEST_FIRST_SICK_DAY} to "
                f"{PLANNED_DATE_AHEAD.days // 7} weeks after that day"
            )
    return None


def recorded_at_problem(recorded_at: datetime, now: datetime) -> str | None:
    """Why ``recorded_at`` cannot be, by the ledger's clock ``now`` (the application's)."""
    if recorded_at > now + CLOCK_SKEW:
        return (
            f"recorded_at {recorded_at.isoformat()} is after the ledger's clock "
            f"({now.isoformat(timespec='seconds')}): a fact cannot be recorded in the future"
        )
    return None  # too early is refused through the dates: nothing precedes a first sick day


def control_character_field(event: ev.CaseEvent) -> str | None:
    """The first text field of the event's data holding a control character."""
    for name in _fields(type(event))[1]:
        found = _first_control(getattr(event, name), f"data.{name}")
        if found is not None:
            return found
    return None


def _first_control(value: Any, field: str) -> str | None:
    if isinstance(value, str):
        return field if _CONTROL.search(value) else None
    if isinstance(value, dict):
        for key, inner in value.items():
            found = _first_control(inner, f"{field}.{key}")
            if found is not None:
                return found
    if isinstance(value, list | tuple):
        for index, inner in enumerate(value):
            found = _first_control(inner, f"{field}.{index}")
            if found is not None:
                return found
    return None
