"""The interchange format: one event per JSON line (import, export, Kafka payload).

``{"event_id", "case_id", "type", "occurred_on", "recorded_at", "actor", "data"}``

One pydantic model per event type is derived from the catalogue, so the schema
of ``data`` can never drift from the event classes; the line model is their
union, discriminated by ``type``.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any, Literal, Union, cast
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    create_model,
    model_validator,
)
from pydantic.fields import FieldInfo

from domain.events import CATALOGUE, ENVELOPE_FIELDS, Actor, CaseEvent, upcast

SCHEMA_VERSION = 1


class InterchangeLine(BaseModel):
    """Envelope shared by every line; ``data`` is specific to ``type``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID = Field(description="Unique id of the event; re-importing it appends nothing.")
    case_id: UUID = Field(description="Opaque case id. Never personal data.")
    type: str
    occurred_on: date = Field(description="Business date on which the fact happened.")
    recorded_at: AwareDatetime | None = Field(
        default=None, description="When the ledger learned the fact; optional on import."
    )
    actor: Actor
    class_version: int | None = Field(
        default=None,
        ge=1,
        description="Shape of ``data``; written when above 1. Older shapes are upcast.",
    )
    data: BaseModel

    @model_validator(mode="before")
    @classmethod
    def _upcast_data(cls, value: Any) -> Any:
        """Lines written in an older shape of their event type are read in the current one."""
        if not isinstance(value, dict):
            return value
        event_class = CATALOGUE.get(value.get("type"))  # type: ignore[arg-type]
        if event_class is None:
            return value
        from_version = value.get("class_version")
        from_version = 1 if from_version is None else from_version
        data = value.get("data")
        if not isinstance(from_version, int) or from_version < 1 or not isinstance(data, dict):
            return value  # the field validators report it
        if from_version > event_class.class_version:
            msg = (
                f"class_version {from_version} of {event_class.__name__} is newer than this "
                f"ledger reads (up to {event_class.class_version}); upgrade the ledger"
            )
            raise ValueError(msg)
        if event_class.class_version == 1:
            return value
        upcast(event_class, data := dict(data), from_version)
        return {**value, "data": data, "class_version": event_class.class_version}


def _data_model(event_class: type[CaseEvent]) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for name, info in event_class.model_fields.items():
        if name in ENVELOPE_FIELDS:
            continue
        fields[name] = (info.annotation, FieldInfo.merge_field_infos(info))
    model: type[BaseModel] = create_model(
        f"{event_class.__name__}Data",
        __config__=ConfigDict(frozen=True, extra="forbid"),
        __doc__=event_class.__doc__,
        **fields,
    )
    return model


def _line_model(name: str, event_class: type[CaseEvent]) -> type[InterchangeLine]:
    data_model = _data_model(event_class)
    model: type[InterchangeLine] = create_model(
        f"{name}Line",
        __base__=InterchangeLine,
        __doc__=event_class.__doc__,
        type=(cast(Any, Literal[name]), ...),
        data=(data_model, Field(default_factory=data_model)),
    )
    return model


LINE_MODELS: dict[str, type[InterchangeLine]] = {
    name: _line_model(name, cls) for name, cls in CATALOGUE.items()
}
_ANY_LINE: Any = Annotated[
    Union[tuple(LINE_MODELS.values())],  # noqa: UP007 (a union built at run time)
    Field(discriminator="type"),
]
LINE_ADAPTER: TypeAdapter[InterchangeLine] = TypeAdapter(_ANY_LINE)


class LineError(ValueError):
    """A line that is not a valid interchange event; ``field`` is a dotted path."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def parse_line(text: str | bytes) -> InterchangeLine:
    """Validate one JSON line, or raise ``LineError`` naming the first bad field."""
    try:
        return LINE_ADAPTER.validate_json(text)
    except ValidationError as error:
        raise _line_error(error) from None


def _line_error(error: ValidationError) -> LineError:
    detail = error.errors(include_url=False)[0]
    loc = [str(part) for part in detail["loc"]]
    if loc and loc[0] in LINE_MODELS:  # drop the union's tag from the path
        loc = loc[1:]
    if detail["type"] == "union_tag_invalid":
        return LineError("type", f"unknown event type; known types: {', '.join(CATALOGUE)}")
    if detail["type"] == "union_tag_not_found":
        return LineError("type", "field required")
    if detail["type"] == "json_invalid":
        return LineError("line", f"not valid JSON: {detail['msg']}")
    if detail["type"] == "model_type" and not loc:
        return LineError("line", "a line must be a JSON object")
    return LineError(".".join(loc) or "line", detail["msg"])


def event_fields(line: InterchangeLine) -> dict[str, Any]:
    """Keyword arguments for ``Case.open``/``Case.record`` from a validated line."""
    return {
        "event_id": line.event_id,
        "occurred_on": line.occurred_on,
        "actor": line.actor,
        "recorded_at": line.recorded_at,
        **{name: getattr(line.data, name) for name in type(line.data).model_fields},
    }


def to_line(event: CaseEvent) -> dict[str, Any]:
    """The interchange object of a stored event (export, feed)."""
    line: dict[str, Any] = {
        "event_id": str(event.event_id),
        "case_id": str(event.originator_id),
        "type": event.type,
        "occurred_on": event.occurred_on.isoformat(),
        "recorded_at": event.recorded_at.isoformat(),
        "actor": {"role": event.actor.role.value, "id": event.actor.id},
    }
    if event.class_version > 1:
        line["class_version"] = event.class_version
    line["data"] = event.payload()
    return line


def dumps_line(event: CaseEvent) -> str:
    return json.dumps(to_line(event), ensure_ascii=False, separators=(",", ":"))


def json_schema() -> dict[str, Any]:
    """JSON Schema of one interchange line (published as ``schemas/interchange-event.json``)."""
    schema = LINE_ADAPTER.json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Re-integration ledger interchange event"
    schema["description"] = (
        "One event per JSON line. Used for import, export and the Kafka feed. "
        f"Schema version {SCHEMA_VERSION}."
    )
    return schema


def data_schema(event_type: str) -> dict[str, Any]:
    """The JSON Schema of an event type's data (what forms are drawn from)."""
    return _data_model(CATALOGUE[event_type]).model_json_schema()
