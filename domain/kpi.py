"""Absence KPIs (rules reference section 7: Vernet / CBS, the 1996 standard).

- absence percentage (*verzuimpercentage*): sick calendar days x part-time factor x
  incapacity factor / (available days x part-time factor), in the period;
- report frequency (*meldingsfrequentie*): sickness reports / average headcount, per
  year (a quarter x 4, a month x 12);
- average duration (*gemiddelde verzuimduur*): mean calendar-day length of the spells
  that ended in the period, counting days before it; bands 1-14, 15-91, 92-365,
  366-730 days;
- zero absence (*nulverzuim*): share of employees with no sickness report in the period.

Headcount and part-time factor are per employer and period (never per person), so the
part-time factor of the sick equals the employer's average. Pregnancy leave is not
recorded by the ledger and so cannot be excluded.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from domain.outcomes import Spell

DURATION_BANDS = ((1, 14), (15, 91), (92, 365), (366, 730), (731, None))


@dataclass(frozen=True)
class Period:
    """A calendar year, quarter or month; ``per_year`` annualises a count over it."""

    start: date
    end: date  # inclusive
    per_year: float
    label: str

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def until(self, on: date) -> Period:
        """The part of the period up to and including ``on`` (a report on a running period)."""
        if on >= self.end:
            return self
        if on < self.start:
            msg = f"{self.label} had not begun on {on.isoformat()}"
            raise ValueError(msg)
        return Period(self.start, on, 365 / ((on - self.start).days + 1), f"{self.label} to {on}")

    @classmethod
    def parse(cls, text: str) -> Period:
        """``2026``, ``2026-Q1`` or ``2026-03``."""
        if m := re.fullmatch(r"(\d{4})", text):
            year = int(m[1])
            return cls(date(year, 1, 1), date(year, 12, 31), 1, text)
        if m := re.fullmatch(r"(\d{4})-Q([1-4])", text):
            year, quarter = int(m[1]), int(m[2])
            start = date(year, 3 * quarter - 2, 1)
            return cls(start, _month_end(year, 3 * quarter), 4, text)
        if m := re.fullmatch(r"(\d{4})-(\d{2})", text):
            year, month = int(m[1]), int(m[2])
            if 1 <= month <= 12:
                return cls(date(year, month, 1), _month_end(year, month), 12, text)
        msg = f"period {text!r} is not a year (2026), a quarter (2026-Q1) or a month (2026-03)"
        raise ValueError(msg)


def known_on(spell: Spell, on: date) -> Spell:
    """A spell as it stood on ``on``: a later end undone, later changes left out."""
    ended = spell.ended_on if spell.ended_on is not None and spell.ended_on <= on else None
    return Spell(spell.reported_on, ended, tuple(seg for seg in spell.segments if seg[0] <= on))


def _month_end(year: int, month: int) -> date:
    following = date(year + (month == 12), month % 12 + 1, 1)
    return following - timedelta(days=1)


@dataclass(frozen=True)
class Workforce:
    """An employer's average headcount and part-time factor in a period."""

    headcount: float
    part_time_factor: float = 1.0


@dataclass(frozen=True)
class EmployeeSpell:
    employee_id: str
    spell: Spell


def _overlap(start: date, end: date | None, period: Period) -> int:
    """Days of [start, end) inside the period (``end`` None: still running)."""
    last = period.end if end is None else min(period.end, end - timedelta(days=1))
    first = max(start, period.start)
    return max((last - first).days + 1, 0)


def weighted_sick_days(spell: Spell, period: Period) -> float:
    """Sick calendar days in the period, each weighted by the incapacity that day."""
    total = 0.0
    for index, (since, percent) in enumerate(spell.segments):
        until = spell.segments[index + 1][0] if index + 1 < len(spell.segments) else spell.ended_on
        total += _overlap(since, until, period) * percent / 100
    return total


def absence_percentage(spells: Sequence[Spell], period: Period, workforce: Workforce) -> float:
    sick = sum(weighted_sick_days(spell, period) for spell in spells) * workforce.part_time_factor
    available = workforce.headcount * period.days * workforce.part_time_factor
    return 100 * sick / available if available else 0.0


def report_frequency(spells: Sequence[Spell], period: Period, workforce: Workforce) -> float:
    reports = sum(1 for s in spells if period.start <= s.reported_on <= period.end)
    return reports / workforce.headcount * period.per_year if workforce.headcount else 0.0


def duration_band(days: int) -> str:
    for low, high in DURATION_BANDS:
        if days >= low and (high is None or days <= high):
            return f"{low}-{high}" if high else f"{low}+"
    return "1-14"


@dataclass(frozen=True)
class Durations:
    mean_days: float | None
    bands: dict[str, int]
    spells: int


def average_duration(spells: Sequence[Spell], period: Period) -> Durations:
    """Spells whose last sick day falls in the period, with their whole length."""
    lengths = [
        (s.ended_on - s.reported_on).days
        for s in spells
        if s.ended_on is not None and period.start <= s.ended_on - timedelta(days=1) <= period.end
    ]
    bands = {duration_band(low): 0 for low, _ in DURATION_BANDS}
    for days in lengths:
        bands[duration_band(days)] += 1
    mean = sum(lengths) / len(lengths) if lengths else None
    return Durations(mean, bands, len(lengths))


def zero_absence(spells: Sequence[EmployeeSpell], period: Period, workforce: Workforce) -> float:
    reported = {s.employee_id for s in spells if period.start <= s.spell.reported_on <= period.end}
    if not workforce.headcount:
        return 0.0
    return max(1 - len(reported) / workforce.headcount, 0.0)
