"""What leaves the ledger for analytics (rules reference s5, AVG): pseudonyms for
people and cases, nothing medical, no free text.

- people (the employee, case managers, occupational physicians, and actors in those
  roles) are replaced by keyed pseudonyms; organisations (employers, providers,
  UWV) and sectors stay, since analytics groups by them;
- the case id becomes a pseudonymous case key;
- medical judgements (the prognosis) and free text (reasons typed by people) are
  removed; enumerated reasons (why a second track ended) stay.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from enum import StrEnum
from typing import Any

from pydantic import StringConstraints

from domain import events as ev

PERSON_FIELDS = frozenset({"subject_id", "case_manager_id", "occupational_physician_id"})
# Dropped: the employee's own identifier (the subject pseudonym stands in for it), medical
# judgements and notes.
DROPPED_FIELDS = frozenset({"employee_id", "prognosis", "note"})
PERSON_ROLES = frozenset(
    {ev.ActorRole.EMPLOYEE, ev.ActorRole.CASE_MANAGER, ev.ActorRole.OCCUPATIONAL_PHYSICIAN}
)
FEED_SCHEMA_VERSION = 2  # v2: the employee is the pseudonym of subject_id, never employee_id


class Protection(StrEnum):
    """How a stored field is encrypted: with the employee's personal or medical key."""

    PERSONAL = "personal"
    MEDICAL = "medical"


# The fields stored encrypted with the employee's keys (issue 9). Identifiers of the
# employee and free text people type about them are personal; the physician's notes are
# medical. Enumerations, dates and organisations stay readable: deadlines and statistics
# need them, and they survive erasure unchanged.
PROTECTED: dict[type[ev.CaseEvent], dict[str, Protection]] = {
    ev.SicknessReported: {"employee_id": Protection.PERSONAL},
    ev.WagePaymentSuspended: {"reason": Protection.PERSONAL},
    ev.EventCorrected: {"reason": Protection.PERSONAL},
    ev.EventRetracted: {"reason": Protection.PERSONAL},
    ev.MedicalNoteRecorded: {"note": Protection.MEDICAL},
    ev.LegalHoldPlaced: {"reason": Protection.PERSONAL},
    ev.LegalHoldLifted: {"reason": Protection.PERSONAL},
}


PROTECTED_BY_NAME = {cls.__name__: fields for cls, fields in PROTECTED.items()}


def protected_fields(event_class: type[ev.CaseEvent]) -> dict[str, Protection]:
    return PROTECTED.get(event_class, {})


def withheld_fields(event: ev.CaseEvent) -> Iterator[str]:
    """The names of fields of ``event`` that hold a ``Withheld`` placeholder."""
    for name in type(event).model_fields:
        if isinstance(getattr(event, name), ev.Withheld):
            yield name


Pseudonym = Callable[[str], str]


def free_text_fields(event_class: type[ev.CaseEvent]) -> frozenset[str]:
    """Fields a person types freely (constrained only by length, not by a pattern)."""
    found = set()
    for name, info in event_class.model_fields.items():
        for meta in info.metadata:
            if isinstance(meta, StringConstraints) and meta.pattern is None and meta.max_length:
                found.add(name)
    return frozenset(found)


FREE_TEXT: dict[str, frozenset[str]] = {
    name: free_text_fields(cls) for name, cls in ev.CATALOGUE.items()
}


def _data(event_type: str, data: dict[str, Any], pseudonym: Pseudonym) -> dict[str, Any]:
    removed = DROPPED_FIELDS | FREE_TEXT[event_type] | set(PROTECTED_BY_NAME.get(event_type, {}))
    cleaned: dict[str, Any] = {}
    for name, value in data.items():
        if name in removed or (isinstance(value, dict) and "withheld" in value):
            continue
        if name in PERSON_FIELDS and value is not None:
            cleaned[name] = pseudonym(str(value))
        elif name == "corrected_data" and isinstance(value, dict):
            cleaned[name] = {  # a correction of any type: drop what could identify
                k: (pseudonym(str(v)) if k in PERSON_FIELDS and v is not None else v)
                for k, v in value.items()
                if k not in DROPPED_FIELDS and k != "reason"
            }
        else:
            cleaned[name] = value
    return cleaned


def feed_message(
    line: dict[str, Any], pseudonym: Pseudonym, subject_id: str | None = None
) -> dict[str, Any]:
    """The analytics form of an interchange line (``domain.interchange.to_line``); a
    sickness report carries the pseudonym of its ``subject_id`` (its employee)."""
    actor = line["actor"]
    actor_id = (
        pseudonym(actor["id"]) if ev.ActorRole(actor["role"]) in PERSON_ROLES else actor["id"]
    )
    message = {
        "schema_version": FEED_SCHEMA_VERSION,
        "event_id": line["event_id"],
        "case_key": pseudonym(line["case_id"]),
        "type": line["type"],
        "occurred_on": line["occurred_on"],
        "recorded_at": line["recorded_at"],
        "actor": {"role": actor["role"], "id": actor_id},
        "data": _data(line["type"], line["data"], pseudonym),
    }
    if subject_id is not None:
        message["data"]["subject_id"] = pseudonym(subject_id)
    if "class_version" in line:
        message["class_version"] = line["class_version"]
    return message


def feed_message_schema() -> dict[str, Any]:
    """JSON Schema of one feed message (published as ``schemas/feed-message.json``)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Re-integration ledger analytics feed message",
        "description": "Kafka value; key = case_key; headers event_id, type, schema_version, "
        "notification_id. People are keyed pseudonyms (p_ + 32 hex); no medical fields, "
        f"no free text. Schema version {FEED_SCHEMA_VERSION}. Deduplicate by event_id.",
        "type": "object",
        "required": [
            "schema_version",
            "event_id",
            "case_key",
            "type",
            "occurred_on",
            "recorded_at",
            "actor",
            "data",
        ],
        "additionalProperties": False,
        "properties": {
            "schema_version": {"const": FEED_SCHEMA_VERSION},
            "event_id": {"type": "string", "format": "uuid"},
            "case_key": {"type": "string", "pattern": "^p_[0-9a-f]{32}$"},
            "type": {"enum": sorted(ev.CATALOGUE)},
            "occurred_on": {"type": "string", "format": "date"},
            "recorded_at": {"type": "string", "format": "date-time"},
            "class_version": {"type": "integer", "minimum": 2},
            "actor": {
                "type": "object",
                "required": ["role", "id"],
                "properties": {
                    "role": {"enum": [r.value for r in ev.ActorRole]},
                    "id": {"type": "string"},
                },
            },
            "data": {"type": "object", "description": "the event's data, see above"},
        },
    }
