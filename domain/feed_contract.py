"""The feed topic's contract: CloudEvents headers and the AsyncAPI document.

Each Kafka message is a CloudEvent in binary content mode (CloudEvents 1.0, Kafka
protocol binding): the attributes travel as ``ce_`` headers, the payload is the feed
message of ``domain.privacy.feed_message`` unchanged. Beside them the feed keeps its
own headers (``event_id``, ``type``, ``schema_version``, ``notification_id``), which
the scale-out workers read.

The AsyncAPI 3 document (``schemas/feed-asyncapi.json``, ``ledger feed --asyncapi``)
is generated here from the same JSON Schema as ``schemas/feed-message.json``, so the
two cannot drift.
"""

from __future__ import annotations

from typing import Any

from domain import events as ev
from domain.privacy import FEED_SCHEMA_VERSION, feed_message_schema

CLOUDEVENTS_VERSION = "1.0"
SOURCE = "urn:reintegration-ledger:feed"  # ce_source: this ledger's analytics feed
TYPE_PREFIX = "nl.reintegration-ledger.case."  # ce_type: reverse-DNS prefix + event type
CONTENT_TYPE = "application/json"
KAFKA_BINDING_VERSION = "0.5.0"


def cloudevent_type(event_type: str) -> str:
    return TYPE_PREFIX + event_type


def feed_headers(message: dict[str, Any], notification_id: int) -> list[tuple[str, bytes]]:
    """The Kafka headers of one feed message: CloudEvents binary mode, then our own."""
    attributes = {
        "ce_specversion": CLOUDEVENTS_VERSION,
        "ce_id": message["event_id"],
        "ce_source": SOURCE,
        "ce_type": cloudevent_type(message["type"]),
        "ce_time": message["recorded_at"],
        "ce_subject": message["case_key"],  # the case pseudonym, never the case id
        "content-type": CONTENT_TYPE,
        "event_id": message["event_id"],
        "type": message["type"],
        "schema_version": str(FEED_SCHEMA_VERSION),
        "notification_id": str(notification_id),
    }
    return [(name, value.encode()) for name, value in attributes.items()]


def _payload_schema() -> dict[str, Any]:
    """The feed message schema as AsyncAPI's schema object (a superset of JSON Schema
    draft 07: the keywords it uses are the same, only ``$schema`` goes)."""
    return {k: v for k, v in feed_message_schema().items() if k != "$schema"}


def headers_schema() -> dict[str, Any]:
    """The headers as AsyncAPI describes them (Kafka header values are UTF-8 strings)."""
    payload = feed_message_schema()["properties"]
    uuid = {"type": "string", "format": "uuid"}
    properties: dict[str, Any] = {
        "ce_specversion": {"const": CLOUDEVENTS_VERSION, "description": "CloudEvents version"},
        "ce_id": {**uuid, "description": "the event id (equals event_id): deduplicate by it"},
        "ce_source": {"const": SOURCE},
        "ce_type": {"enum": [cloudevent_type(t) for t in sorted(ev.CATALOGUE)]},
        "ce_time": {"type": "string", "format": "date-time", "description": "recorded_at"},
        "ce_subject": {**payload["case_key"], "description": "the case pseudonym (case_key)"},
        "content-type": {"const": CONTENT_TYPE},
        "event_id": uuid,
        "type": payload["type"],
        "schema_version": {"const": str(FEED_SCHEMA_VERSION)},
        "notification_id": {
            "type": "string",
            "pattern": "^[1-9][0-9]*$",
            "description": "the event's position in the ledger's log (scale-out workers)",
        },
    }
    return {"type": "object", "required": list(properties), "properties": properties}


def asyncapi_document(topic: str, partitions: int) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the feed topic."""
    message = {
        "name": "CaseEvent",
        "title": "A case event, pseudonymised",
        "summary": "One stored ledger event: no person, nothing medical, no free text.",
        "contentType": CONTENT_TYPE,
        "headers": headers_schema(),
        "payload": _payload_schema(),
        "bindings": {
            "kafka": {
                "key": feed_message_schema()["properties"]["case_key"],
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Re-integration ledger analytics feed",
            "version": str(FEED_SCHEMA_VERSION),
            "description": "Every stored event of the re-integration ledger, in store order, "
            "at least once (deduplicate by ce_id). The key is the case pseudonym, so a "
            "case's events share a partition and keep their order. Each message is a "
            "CloudEvent in binary content mode.",
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "production": {
                "host": "kafka:9092",
                "protocol": "kafka",
                "description": "the compose file's broker (host listener 127.0.0.1:29092)",
            }
        },
        "channels": {
            "caseEvents": {
                "address": topic,
                "messages": {"caseEvent": {"$ref": "#/components/messages/caseEvent"}},
                "bindings": {
                    "kafka": {"partitions": partitions, "bindingVersion": KAFKA_BINDING_VERSION}
                },
            }
        },
        "operations": {
            "receiveCaseEvents": {
                "action": "receive",
                "summary": "Analytics consumers read the case events.",
                "channel": {"$ref": "#/channels/caseEvents"},
                "messages": [{"$ref": "#/channels/caseEvents/messages/caseEvent"}],
            }
        },
        "components": {"messages": {"caseEvent": message}},
    }
