"""The feed topic's AsyncAPI 3 document: valid against the AsyncAPI 3.0.0 JSON Schema
(from the @asyncapi/specs package, which `make install` fetches), and current."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from domain.feed_contract import asyncapi_document

DEFAULT_TOPIC = "reintegration.case-events"  # infra.kafka's default

ROOT = Path(__file__).parent.parent
SPECS = ROOT / ".venv/share/asyncapi-specs-6.11.1.tgz"
PUBLISHED = ROOT / "schemas/feed-asyncapi.json"


@pytest.fixture(scope="module")
def asyncapi_schema() -> dict[str, Any]:
    if not SPECS.exists():
        pytest.fail(f"{SPECS} is missing: `make install` downloads it")
    with tarfile.open(SPECS) as archive:
        member = archive.extractfile("package/schemas/3.0.0.json")
        assert member is not None
        schema: dict[str, Any] = json.load(member)
    return schema


def _errors(schema: dict[str, Any], document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def test_the_published_document_is_valid_asyncapi_3(asyncapi_schema: dict[str, Any]) -> None:
    document = json.loads(PUBLISHED.read_text())
    assert document["asyncapi"] == "3.0.0"
    assert _errors(asyncapi_schema, document) == []


def test_the_schema_finds_a_broken_document(asyncapi_schema: dict[str, Any]) -> None:
    """The validation is real: an operation without its channel, or a channel whose
    message is a bare string, is refused."""
    document = asyncapi_document(DEFAULT_TOPIC, 6)
    del document["operations"]["receiveCaseEvents"]["channel"]
    document["channels"]["caseEvents"]["messages"]["caseEvent"] = "a message"
    assert len(_errors(asyncapi_schema, document)) >= 2


def test_the_published_document_is_current() -> None:
    """schemas/feed-asyncapi.json is what the code generates (`make schema` rewrites it)."""
    assert json.loads(PUBLISHED.read_text()) == asyncapi_document(DEFAULT_TOPIC, 6), (
        "run `make schema`"
    )


def test_the_payload_is_the_feed_message_schema() -> None:
    """One model: the AsyncAPI payload and schemas/feed-message.json are the same schema."""
    payload = asyncapi_document(DEFAULT_TOPIC, 6)["components"]["messages"]["caseEvent"]
    message = json.loads((ROOT / "schemas/feed-message.json").read_text())
    assert payload["payload"] == {k: v for k, v in message.items() if k != "$schema"}
    assert payload["headers"]["properties"]["ce_subject"]["pattern"] == (
        message["properties"]["case_key"]["pattern"]
    )


def test_ledger_feed_asyncapi_prints_it_for_the_topic_asked() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "feed", "--asyncapi", "--topic", "t.x",
         "--partitions", "3"], capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    document = json.loads(done.stdout)
    assert document["channels"]["caseEvents"]["address"] == "t.x"
    assert document["channels"]["caseEvents"]["bindings"]["kafka"]["partitions"] == 3
