"""Forms for recording events, generated from the event catalogue: each field from the
JSON Schema of the event's data (``domain.interchange.data_schema``), the event types a
role is offered from ``domain.access``. A form's values are turned back into the data
of the command the API takes; the rules are the API's.

A form carries three hidden fields: ``csrf`` (the session's token, checked on submit),
``idempotency_key`` (made when the form is drawn: a form sent twice stores once) and
``version`` (the case version it was drawn on: a form drawn before someone else wrote
says so instead of storing over it).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from typing import Any

from domain import events as ev
from domain.access import Principal, may_record_kind
from domain.interchange import data_schema
from services.application.labels import words

# Fields that a form does not offer: set by the ledger, or too rich for a form (the API
# takes them).
NOT_ON_FORMS = {"corrected_data", "subject_id"}
EVENT_REFERENCES = {"corrects", "retracts"}


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str  # text, date, number, select, checkbox, event
    required: bool
    options: tuple[tuple[str, str], ...] = ()  # (value, label)
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None
    description: str = ""


@dataclass
class Form:
    event_type: str
    title: str
    fields: list[Field]
    values: dict[str, str] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)


def recordable_types(principal: Principal) -> list[tuple[str, str]]:
    """The event types ``principal`` may record on a case's page (value, label)."""
    return [(name, words(name)) for name, cls in ev.CATALOGUE.items()
            if cls is not ev.SicknessReported and may_record_kind(principal, cls)
            and cls not in ev.CORRECTION_TYPES]  # fmt: skip


def form_for(event_type: str, events: list[tuple[str, str]]) -> Form:
    """The form of ``event_type``; ``events`` are the case's (id, label) for a field that
    names an event (a correction's ``corrects``)."""
    schema = data_schema(event_type)
    defs, required = schema.get("$defs", {}), set(schema.get("required", []))
    fields = [Field("occurred_on", "Occurred on", "date", True)]
    for name, spec in schema["properties"].items():
        if name not in NOT_ON_FORMS:
            fields.append(_field(name, spec, defs, name in required, events))
    return Form(event_type, words(event_type), fields)


def _field(name: str, spec: dict[str, Any], defs: dict[str, Any], required: bool,
           events: list[tuple[str, str]]) -> Field:  # fmt: skip
    options = [s for s in spec.get("anyOf", [spec]) if s.get("type") != "null"]
    chosen = _resolve(options[0], defs) if options else {}
    label = spec.get("title") or words(name).capitalize()
    common = {"name": name, "label": label, "required": required,
              "description": chosen.get("description", "")}  # fmt: skip
    if name in EVENT_REFERENCES:
        return Field(kind="event", options=tuple(events), **common)
    if "enum" in chosen:
        values = tuple((v, words(str(v))) for v in chosen["enum"])
        return Field(kind="select", options=values, **common)
    if chosen.get("type") == "boolean":
        return Field(kind="checkbox", **common)
    if chosen.get("type") == "integer":
        return Field(kind="number", minimum=chosen.get("minimum"),
                     maximum=chosen.get("maximum"), **common)  # fmt: skip
    if chosen.get("format") == "date":
        return Field(kind="date", **common)
    return Field(kind="text", max_length=chosen.get("maxLength"), **common)


def _resolve(spec: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = spec.get("$ref", "")
    return dict(defs.get(ref.rsplit("/", 1)[-1], {})) if ref else spec


def data_of(form: Form, submitted: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """The occurred-on text and the event data of a submitted form (types as the schema
    says; an empty optional field is left out; the API's validation judges the rest)."""
    data: dict[str, Any] = {}
    for item in form.fields:
        raw = submitted.get(item.name, "").strip()
        if item.name == "occurred_on":
            continue
        if item.kind == "checkbox":
            data[item.name] = raw == "on"
        elif raw == "":
            continue
        elif item.kind == "number":
            data[item.name] = int(raw) if re.fullmatch(r"-?\d+", raw) else raw
        else:
            data[item.name] = raw
    return submitted.get("occurred_on", "").strip(), data


def csrf_token(key: str, session: str) -> str:
    """The form token of a page session: only a page drawn for this session has it."""
    return hmac.new(key.encode(), b"csrf:" + session.encode(), hashlib.sha256).hexdigest()[:32]


def csrf_ok(key: str, session: str, given: str) -> bool:
    return hmac.compare_digest(csrf_token(key, session).encode(), given.encode())
