"""Absence KPIs on a hand-worked example, one per definition (poortwachter.md s7).

Employer with 10 employees (part-time factor 0.8) in 2026-Q1 (90 days):
- A: sick 2025-12-20, fit again 2026-01-11: 10 days in the quarter at 100 %;
- B: sick 2026-02-01 at 100 %, 50 % from 02-15, fit 03-01: 14 + 14 x 0.5 = 21;
- C: sick 2026-03-20, still sick: 12 days at 100 %.
"""

from __future__ import annotations

from datetime import date

import pytest

from domain.kpi import (
    EmployeeSpell,
    Period,
    Workforce,
    absence_percentage,
    average_duration,
    duration_band,
    report_frequency,
    weighted_sick_days,
    zero_absence,
)
from domain.outcomes import Spell

Q1 = Period.parse("2026-Q1")
STAFF = Workforce(headcount=10, part_time_factor=0.8)
A = Spell(date(2025, 12, 20), date(2026, 1, 11), ((date(2025, 12, 20), 100),))
B = Spell(date(2026, 2, 1), date(2026, 3, 1), ((date(2026, 2, 1), 100), (date(2026, 2, 15), 50)))
C = Spell(date(2026, 3, 20), None, ((date(2026, 3, 20), 100),))
SPELLS = [A, B, C]


def test_periods() -> None:
    assert (Q1.start, Q1.end, Q1.days, Q1.per_year) == (date(2026, 1, 1), date(2026, 3, 31), 90, 4)
    assert Period.parse("2024-02").days == 29
    assert Period.parse("2026").per_year == 1
    with pytest.raises(ValueError, match="2026-Q1"):
        Period.parse("2026-Q5")


def test_weighted_sick_days_count_only_the_period_and_the_incapacity() -> None:
    assert [weighted_sick_days(s, Q1) for s in SPELLS] == [10, 21, 12]


def test_absence_percentage() -> None:
    """sick days x part-time x incapacity / (available days x part-time) = 43 / 900."""
    assert absence_percentage(SPELLS, Q1, STAFF) == pytest.approx(100 * 43 / 900)


def test_report_frequency_is_per_year() -> None:
    """B and C were reported in the quarter: 2 / 10 employees x 4 quarters."""
    assert report_frequency(SPELLS, Q1, STAFF) == pytest.approx(0.8)


def test_average_duration_counts_days_before_the_period() -> None:
    """A (22 days, 12 of them in December) and B (28 days) ended in the quarter."""
    durations = average_duration(SPELLS, Q1)
    assert durations.mean_days == 25.0
    assert durations.spells == 2
    assert durations.bands == {"1-14": 0, "15-91": 2, "92-365": 0, "366-730": 0, "731+": 0}
    assert [duration_band(d) for d in (1, 14, 15, 91, 92, 365, 366, 730, 731)] == [
        "1-14", "1-14", "15-91", "15-91", "92-365", "92-365", "366-730", "366-730", "731+",
    ]  # fmt: skip


def test_zero_absence_share() -> None:
    """Two of ten employees reported sick in the quarter (A's report was in December)."""
    people = [EmployeeSpell("e1", A), EmployeeSpell("e2", B), EmployeeSpell("e3", C)]
    assert zero_absence(people, Q1, STAFF) == pytest.approx(0.8)


def test_a_report_on_a_running_period_counts_only_what_had_happened() -> None:
    """Review finding: on 2026-11-25 the fourth quarter has run 56 days; a spell that
    ended on 2026-10-20 and one running since 2026-11-01 give 40 of 560 days."""
    from domain.kpi import known_on

    q4 = Period.parse("2026-Q4")
    ten = Workforce(headcount=10)
    spells = [
        Spell(date(2026, 10, 5), date(2026, 10, 20), ((date(2026, 10, 5), 100),)),
        Spell(date(2026, 11, 1), None, ((date(2026, 11, 1), 100),)),
    ]
    on = date(2026, 11, 25)
    so_far = q4.until(on)
    assert so_far.days == 56
    known = [known_on(s, on) for s in spells if s.reported_on <= on]
    assert absence_percentage(known, so_far, ten) == pytest.approx(100 * 40 / 560)
    early = date(2026, 10, 6)
    known = [known_on(s, early) for s in spells if s.reported_on <= early]
    assert absence_percentage(known, q4.until(early), ten) == pytest.approx(100 * 2 / 60)
    assert report_frequency(known, q4.until(early), ten) == pytest.approx(1 / 10 * 365 / 6)
    with pytest.raises(ValueError, match="had not begun"):
        q4.until(date(2026, 9, 30))
