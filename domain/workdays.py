"""Working days under the Algemene termijnenwet (Atw), the rules reference's "Working days".

A working day (*werkdag*) is a day that is not a Saturday, a Sunday or a generally
recognised holiday. Art. 3 lid 1 names the holidays, lid 2 equates Good Friday, and
lid 3 lets the government equate further days by decree, three years at a time; those
decrees are dated rule data below (``EQUATED_DAYS``), each with its source, so that a
maintainer adds the next one instead of changing code. Easter is computed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

ATW = "Algemene termijnenwet art. 3 (BWBR0002448); poortwachter.md, Working days"


def easter_sunday(year: int) -> date:
    """Easter Sunday of the Gregorian calendar (the anonymous algorithm of 1876, as given
    by Meeus, *Astronomical Algorithms*); valid for every Gregorian year."""
    golden = year % 19
    century, in_century = divmod(year, 100)
    leap_centuries, century_rest = divmod(century, 4)
    moon_correction = (century + 8) // 25
    moon_shift = (century - moon_correction + 1) // 3
    epact = (19 * golden + century - leap_centuries - moon_shift + 15) % 30
    leap_years, year_rest = divmod(in_century, 4)
    weekday = (32 + 2 * century_rest + 2 * leap_years - epact - year_rest) % 7
    late = (golden + 11 * epact + 22 * weekday) // 451
    month, day = divmod(epact + weekday - 7 * late + 114, 31)
    return date(year, month, day + 1)


@dataclass(frozen=True)
class RoyalDay:
    """The day the monarch's birthday is celebrated, as the law of the time gave it."""

    from_year: int
    month: int
    day: int
    source: str

    def in_year(self, year: int) -> date:
        """The date, a day earlier when it falls on a Sunday (as both days have been kept)."""
        celebrated = date(year, self.month, self.day)
        return celebrated - timedelta(days=1) if celebrated.weekday() == 6 else celebrated


# Later first: the first whose ``from_year`` has come applies.
ROYAL_DAYS: tuple[RoyalDay, ...] = (
    RoyalDay(
        2014, 4, 27,
        "King's Day, 27 April or 26 April when the 27th is a Sunday (Atw art. 3 lid 1; "
        "secondary: nl.wikipedia.org 'Koningsdag')",
    ),
    RoyalDay(
        1949, 4, 30,
        "Queen's Day, 30 April or 29 April when the 30th is a Sunday (secondary: "
        "nl.wikipedia.org 'Koningsdag')",
    ),
)  # fmt: skip


def royal_day(year: int) -> date | None:
    for rule in ROYAL_DAYS:
        if year >= rule.from_year:
            return rule.in_year(year)
    return None


@dataclass(frozen=True)
class EquatedDays:
    """Days a decree equates with a holiday for the Atw (art. 3 lid 3)."""

    decree: str
    source: str
    days: tuple[date, ...]


EQUATED_DAYS: tuple[EquatedDays, ...] = (
    EquatedDays(
        "Besluit van 31 oktober 2016 (gelijkstelling 2017-2019)",
        "Staatscourant 2016, 58653 (secondary: uitvaart.nl, 'Is 28 april 2017 geen werkdag?')",
        (
            date(2017, 4, 28),
            date(2017, 5, 26),
            date(2018, 5, 11),
            date(2018, 12, 24),
            date(2018, 12, 31),
            date(2019, 5, 31),
            date(2019, 12, 27),
        ),
    ),
    EquatedDays(
        "Besluit gelijkstelling 2020-2022 (partly: only the day a source confirmed)",
        "Staatscourant (secondary: wvhl.nl, 'Algemene termijnenwet 2022'); the decree's other "
        "days are still to be added",
        (date(2022, 5, 27),),
    ),
    EquatedDays(
        "Besluit gelijkstelling van 28 april 2023, 19 mei 2023, 10 mei 2024, 27 december 2024 "
        "en 30 mei 2025 met een algemeen erkende feestdag",
        "Staatscourant (secondary: sterfgeval.nl, question 70745, 4 October 2025)",
        (
            date(2023, 4, 28),
            date(2023, 5, 19),
            date(2024, 5, 10),
            date(2024, 12, 27),
            date(2025, 5, 30),
        ),
    ),
    EquatedDays(
        "Besluit gelijkstelling van 2 januari 2026, 15 mei 2026, 7 mei 2027, 28 april 2028 en "
        "26 mei 2028 met een algemeen erkende feestdag",
        "Staatscourant (secondary: sterfgeval.nl, question 70745, 4 October 2025)",
        (
            date(2026, 1, 2),
            date(2026, 5, 15),
            date(2027, 5, 7),
            date(2028, 4, 28),
            date(2028, 5, 26),
        ),
    ),
)


@dataclass(frozen=True)
class Holiday:
    on: date
    name: str
    source: str


def _statutory(year: int) -> Iterator[Holiday]:
    easter = easter_sunday(year)
    lid_1 = "Atw art. 3 lid 1"
    yield Holiday(date(year, 1, 1), "New Year's Day (Nieuwjaarsdag)", lid_1)
    yield Holiday(easter - timedelta(days=2), "Good Friday (Goede Vrijdag)", "Atw art. 3 lid 2")
    yield Holiday(easter + timedelta(days=1), "Easter Monday (tweede Paasdag)", lid_1)
    king = royal_day(year)
    if king is not None:
        yield Holiday(king, "King's Day (Koningsdag)", lid_1)
    yield Holiday(date(year, 5, 5), "5 May (Bevrijdingsdag), every year for the Atw", lid_1)
    yield Holiday(easter + timedelta(days=39), "Ascension Day (Hemelvaartsdag)", lid_1)
    yield Holiday(easter + timedelta(days=50), "Whit Monday (tweede Pinksterdag)", lid_1)
    yield Holiday(date(year, 12, 25), "Christmas Day (eerste Kerstdag)", lid_1)
    yield Holiday(date(year, 12, 26), "Boxing Day (tweede Kerstdag)", lid_1)


def holidays(year: int) -> list[Holiday]:
    """Every day of ``year`` the Atw treats as a holiday, by date."""
    found = list(_statutory(year))
    for decree in EQUATED_DAYS:
        found.extend(
            Holiday(day, f"equated: {decree.decree}", f"Atw art. 3 lid 3; {decree.source}")
            for day in decree.days
            if day.year == year
        )
    return sorted(found, key=lambda h: h.on)


@cache
def _holiday_dates(year: int) -> frozenset[date]:
    return frozenset(h.on for h in holidays(year))


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _holiday_dates(day.year)


def first_working_day_after(day: date) -> date:
    """The first working day after ``day`` (Atw art. 1: a period ending on a Saturday,
    Sunday or holiday runs on to the next day that is none of these)."""
    day += timedelta(days=1)
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def last_working_day_on_or_before(day: date) -> date:
    while not is_working_day(day):
        day -= timedelta(days=1)
    return day
