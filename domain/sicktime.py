"""Sick-time arithmetic: weeks count sick days only (rules reference, "Week arithmetic").

Day 1 is the first sick day; "in week N" means on or before day 7N. A recovery
followed by renewed sickness within 28 days (*samentelling*, art. 7:629 lid 10 BW)
continues the same case, and the days in between do not count: every later
week boundary moves by the length of the gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

DAYS_PER_WEEK = 7
WAITING_TIME_WEEKS = 104  # art. 7:629 lid 1 BW
MAX_SANCTION_WEEKS = 52  # art. 25 lid 9 WIA
RELAPSE_WINDOW_DAYS = 28  # art. 7:629 lid 10 BW: "minder dan vier weken"
SHORTENED_SANCTION_WEEKS = 6  # art. 25 lid 12-15 WIA: the sanction ends 6 weeks after a yes


@dataclass(frozen=True)
class Gap:
    """Days between a recovery and renewed sickness; ``recovered_on`` is the first fit day."""

    recovered_on: date
    resumed_on: date

    @property
    def days(self) -> int:
        return (self.resumed_on - self.recovered_on).days


def merged(gaps: Sequence[Gap]) -> tuple[Gap, ...]:
    """Gaps in date order with overlapping ones joined (a pregnancy leave can overlap a
    recovery), so that no day is skipped twice."""
    joined: list[Gap] = []
    for gap in sorted(gaps, key=lambda g: g.recovered_on):
        if gap.days <= 0:
            continue
        if joined and gap.recovered_on <= joined[-1].resumed_on:
            last = joined[-1]
            joined[-1] = Gap(last.recovered_on, max(last.resumed_on, gap.resumed_on))
        else:
            joined.append(gap)
    return tuple(joined)


def days_within(gaps: Sequence[Gap], start: date, end: date) -> int:
    """How many days of ``gaps`` fall in ``[start, end)``."""
    return sum(
        max((min(end, gap.resumed_on) - max(start, gap.recovered_on)).days, 0)
        for gap in merged(gaps)
    )


@dataclass(frozen=True)
class SickClock:
    """Maps sick-time weeks of one case onto calendar dates; ``gaps`` are the days that do
    not count (recoveries that samentelling bridges, pregnancy leave)."""

    first_sick_day: date
    gaps: Sequence[Gap] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "gaps", merged(self.gaps))

    def sick_day(self, n: int) -> date:
        """The calendar date of sick day ``n`` (day 1 is the first sick day)."""
        day = self.first_sick_day + timedelta(days=n - 1)
        for gap in self.gaps:
            if gap.recovered_on <= day:
                day += timedelta(days=gap.days)
        return day

    def end_of_week(self, n: int) -> date:
        """The last day of sick week ``n``: ``first_sick_day + 7n - 1``, moved by gaps."""
        return self.sick_day(DAYS_PER_WEEK * n)

    def end_of_waiting_time(self, extension_weeks: int = 0) -> date:
        """The last day of wage continuation before any sanction (week 104 + extensions)."""
        return self.end_of_week(WAITING_TIME_WEEKS) + timedelta(weeks=extension_weeks)

    def latest_sanction_end(self, extension_weeks: int = 0) -> date:
        """A wage sanction extends wage continuation by at most 52 weeks."""
        return self.end_of_waiting_time(extension_weeks) + timedelta(weeks=MAX_SANCTION_WEEKS)

    def counted_sick_days(self, on: date) -> int:
        """Sick days counted up to and including ``on`` (0 before the first sick day)."""
        if on < self.first_sick_day:
            return 0
        days = (on - self.first_sick_day).days + 1
        for gap in self.gaps:
            if gap.recovered_on <= on:
                days -= (min(on + timedelta(days=1), gap.resumed_on) - gap.recovered_on).days
        return days


def sick_days_later(
    counted: int, counted_on: date, on: date, *, still_sick: bool, paused_until: date | None = None
) -> int:
    """Sick days counted by ``on``, from those counted by an earlier day when nothing
    happened in between: they keep counting only while the employee is still sick, and not
    before ``paused_until`` (the expected end of a pregnancy leave under way)."""
    if not still_sick:
        return counted
    start = counted_on if paused_until is None else max(counted_on, paused_until - timedelta(1))
    return counted + max((on - start).days, 0)


def shortened_sanction_end(current_end: date, normal_end: date, decided_on: date) -> date:
    """Where a sanction ends after a positive decision on the request to shorten it: 6 weeks
    after the decision, never later than it ended already, never before the normal end of
    wage continuation (art. 25 lid 12-15 WIA; rules reference s3)."""
    return max(normal_end, min(current_end, decided_on + timedelta(weeks=SHORTENED_SANCTION_WEEKS)))
