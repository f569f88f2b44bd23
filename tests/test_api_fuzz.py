"""Schemathesis against the app's own OpenAPI document: whatever the schema admits,
valid or not, the API never answers with a 5xx (bounded number of examples)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from services.api.app import create_app
from services.api.context import Settings
from services.application.importer import import_lines, numbered
from tests.api_support import ADMIN, KEY
from tests.factories import every_event_type, jsonl
from tests.figures import tally

# per operation; `make test` stays fast, `make attack` asks for more
EXAMPLES = int(os.environ.get("LEDGER_FUZZ_EXAMPLES", "25"))


def _app() -> Any:
    """An app on a fresh SQLite store holding one case with every event type."""
    folder = Path(tempfile.mkdtemp(prefix="ledger-fuzz-"))
    app = create_app(
        Settings(database_url=f"sqlite:///{folder / 'ledger.db'}", jwt_key=KEY, follow_seconds=0)
    )
    import_lines(app.state.ctx.ledger, numbered(jsonl(every_event_type()).splitlines()))
    return app


@schemathesis.serializer("application/x-ndjson")
def _ndjson(_: Any, value: Any) -> bytes:
    """Generated import bodies: strings as they are, anything else as one JSON line."""
    import json

    return value.encode() if isinstance(value, str) else (json.dumps(value) + "\n").encode()


schema = schemathesis.openapi.from_asgi("/openapi.json", _app())


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: Any, request: pytest.FixtureRequest) -> None:
    tally(request.node, "fuzz_cases")
    case.call_and_validate(headers=ADMIN, checks=[not_a_server_error])
