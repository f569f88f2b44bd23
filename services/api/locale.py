"""Dates as the reader's language writes them (``Accept-Language``): ``dd-mm-jjjj`` in
Dutch, ``dd/mm/yyyy`` in British and ``mm/dd/yyyy`` in American English; ISO 8601
(``yyyy-mm-dd``) for anything else, which no reader misreads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from markupsafe import Markup

FORMATS = {"nl": "%d-%m-%Y", "en-gb": "%d/%m/%Y", "en-us": "%m/%d/%Y", "en": "%d/%m/%Y"}


def date_format(accept_language: str) -> str:
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip().lower()
        if tag in FORMATS:
            return FORMATS[tag]
        if tag.split("-")[0] in FORMATS and tag.split("-")[0] != "en":
            return FORMATS[tag.split("-")[0]]
    return "%Y-%m-%d"


def day_formatter(accept_language: str) -> Callable[[date | str | None], Markup]:
    """A function that writes a day (a date or ISO text) the reader's way, as HTML that
    keeps it on one line; '' for none."""
    pattern = date_format(accept_language)

    def write(day: date | str | None) -> Markup:
        if not day:
            return Markup("")
        value = date.fromisoformat(day[:10]) if isinstance(day, str) else day
        return Markup('<span class="day">{}</span>').format(value.strftime(pattern))

    return write
