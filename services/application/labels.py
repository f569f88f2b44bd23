"""Names for people: code names in words, and a case's short reference (pages, the review
pack, reminders, forms)."""

from __future__ import annotations

import re


def words(name: str) -> str:
    """A code name as words: ``UWVNotified``, ``plan_of_approach`` -> ``UWV notified``,
    ``plan of approach`` (acronyms kept, the first letter as it was)."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", name)
    parts = spaced.replace("_", " ").split(" ")
    text = " ".join(p if len(p) > 1 and p.isupper() else p.lower() for p in parts)
    return text[:1].upper() + text[1:] if name[:1].isupper() else text


def short_reference(case_id: object) -> str:
    """A case's short reference: the first 8 characters of its id, what people quote."""
    return str(case_id)[:8]
