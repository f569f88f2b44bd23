"""Working days under the Algemene termijnenwet (rules reference, "Working days"; issue 17).

Each worked case puts the end of sick week 42 just before a holiday and checks the due
date of the 42e-weeksmelding ("by the first working day after week 42", s1), through the
same path as a user: an interchange line imported into a case, its deadlines as of a day.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from uuid import uuid4

import pytest

from domain.case import Case
from domain.deadlines import case_deadlines
from domain.interchange import event_fields, parse_line
from domain.workdays import (
    EQUATED_DAYS,
    easter_sunday,
    first_working_day_after,
    holidays,
    is_working_day,
    last_working_day_on_or_before,
)
from tests.factories import report

WEEK_42_DAYS = 7 * 42 - 1  # the last day of week 42 is first_sick_day + 293 days


def notification_due(end_of_week_42: date) -> date:
    """The due date of the UWV notification of a case whose week 42 ends on that day."""
    first = end_of_week_42 - timedelta(days=WEEK_42_DAYS)
    parsed = parse_line(json.dumps(report(uuid4(), first)))
    case = Case.open(case_id=parsed.case_id, **event_fields(parsed))
    (row,) = [d for d in case_deadlines(case.timeline(), first) if d.deadline == "uwv_notification"]
    return row.due_on


# (end of week 42, due date, the holiday, its source)
WORKED_CASES = [
    (date(2024, 12, 31), date(2025, 1, 2), "New Year's Day, Wednesday 1 January 2025",
     "Atw art. 3 lid 1"),
    (date(2025, 4, 20), date(2025, 4, 22), "Easter Monday, 21 April 2025 (after Easter Sunday)",
     "Atw art. 3 lid 1"),
    (date(2026, 4, 2), date(2026, 4, 7), "Good Friday 3 April 2026, the weekend, then Easter "
     "Monday 6 April", "Atw art. 3 lid 1 and lid 2"),
    (date(2026, 4, 26), date(2026, 4, 28), "King's Day, Monday 27 April 2026 (issue 17's report)",
     "Atw art. 3 lid 1"),
    (date(2025, 4, 25), date(2025, 4, 28), "King's Day moved to Saturday 26 April 2025, since "
     "the 27th is a Sunday", "Atw art. 3 lid 1"),
    (date(2026, 5, 4), date(2026, 5, 6), "5 May 2026, a year that is no multiple of five",
     "Atw art. 3 lid 1 (every year)"),
    (date(2025, 5, 28), date(2025, 6, 2), "Ascension Day, Thursday 29 May 2025, and Friday 30 May "
     "2025 equated by decree", "Atw art. 3 lid 1 and lid 3"),
    (date(2026, 5, 24), date(2026, 5, 26), "Whit Monday, 25 May 2026", "Atw art. 3 lid 1"),
    (date(2023, 12, 24), date(2023, 12, 27), "Christmas Day and Boxing Day, Monday and Tuesday "
     "25-26 December 2023", "Atw art. 3 lid 1"),
    (date(2025, 12, 24), date(2025, 12, 29), "Christmas on Thursday and Friday 25-26 December "
     "2025, running into the weekend", "Atw art. 3 lid 1"),
    (date(2025, 12, 31), date(2026, 1, 5), "New Year's Day 2026 and Friday 2 January 2026 "
     "equated by decree", "Atw art. 3 lid 1 and lid 3"),
]  # fmt: skip


@pytest.mark.parametrize(("week_42_ends", "due", "holiday", "source"), WORKED_CASES,
                         ids=[case[2].split(",")[0] for case in WORKED_CASES])  # fmt: skip
def test_the_notification_skips_the_holiday(
    week_42_ends: date, due: date, holiday: str, source: str
) -> None:
    assert notification_due(week_42_ends) == due, f"{holiday} ({source})"


def test_an_ordinary_weekend_only_moves_to_monday() -> None:
    """Atw art. 1: the first day that is no Saturday, Sunday or holiday."""
    assert notification_due(date(2026, 9, 4)) == date(2026, 9, 7)  # Friday -> Monday
    assert notification_due(date(2026, 9, 8)) == date(2026, 9, 9)  # Tuesday -> Wednesday


def test_the_holidays_of_2026_are_exactly_those_of_the_law() -> None:
    """Atw art. 3: lid 1 and 2 every year, and the days the 2026-2028 decree equates."""
    assert [h.on for h in holidays(2026)] == [
        date(2026, 1, 1),  # Nieuwjaarsdag
        date(2026, 1, 2),  # equated (Besluit gelijkstelling 2026-2028)
        date(2026, 4, 3),  # Goede Vrijdag (lid 2)
        date(2026, 4, 6),  # tweede Paasdag
        date(2026, 4, 27),  # Koningsdag
        date(2026, 5, 5),  # 5 mei
        date(2026, 5, 14),  # Hemelvaartsdag
        date(2026, 5, 15),  # equated
        date(2026, 5, 25),  # tweede Pinksterdag
        date(2026, 12, 25),  # eerste Kerstdag
        date(2026, 12, 26),  # tweede Kerstdag
    ]


def test_king_s_day_moves_to_the_26th_when_the_27th_is_a_sunday() -> None:
    for year in (2014, 2025, 2031):
        assert date(year, 4, 27).weekday() == 6
        days = {h.on for h in holidays(year)}
        assert date(year, 4, 26) in days
        assert date(year, 4, 27) not in days
    assert date(2026, 4, 27) in {h.on for h in holidays(2026)}


def test_five_may_is_a_holiday_every_year() -> None:
    """Atw art. 3 lid 1 names "de vijfde mei" without the five-yearly rule of some
    collective agreements."""
    for year in range(2002, 2040):
        assert date(year, 5, 5) in {h.on for h in holidays(year)}


# Easter Sundays from the published tables (Western churches), across the range the
# ledger meets and both limits of the Gregorian computus (22 March, 25 April).
KNOWN_EASTERS = [
    date(2002, 3, 31), date(2008, 3, 23), date(2011, 4, 24), date(2016, 3, 27),
    date(2019, 4, 21), date(2024, 3, 31), date(2025, 4, 20), date(2026, 4, 5),
    date(2027, 3, 28), date(2038, 4, 25), date(2285, 3, 22),
]  # fmt: skip


@pytest.mark.parametrize("easter", KNOWN_EASTERS, ids=lambda d: str(d.year))
def test_easter_is_computed(easter: date) -> None:
    assert easter_sunday(easter.year) == easter
    assert easter.weekday() == 6


def test_every_equated_day_names_its_decree_and_is_a_weekday() -> None:
    """Rule data: a maintainer adds the next decree with its source (art. 3 lid 3)."""
    for decree in EQUATED_DAYS:
        assert decree.decree
        assert decree.source
        for day in decree.days:
            assert day.weekday() < 5
            assert not is_working_day(day)


def test_the_last_working_day_of_a_period_ending_on_a_holiday_comes_before_it() -> None:
    assert last_working_day_on_or_before(date(2026, 4, 27)) == date(2026, 4, 24)
    assert last_working_day_on_or_before(date(2026, 4, 28)) == date(2026, 4, 28)
    assert first_working_day_after(date(2026, 4, 24)) == date(2026, 4, 28)
