"""Issue 11: hostile input gets a clear 4xx (or an import problem naming the line) and
changes nothing: oversized and endless bodies, deep JSON, invalid UTF-8, dates out of
range, unknown types, injection in every free-text field, and fuzzed import files."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.api.app import create_app
from services.api.context import Settings
from services.application.importer import ImportRejectedError, import_lines, numbered
from services.application.ledger import Ledger
from tests.api_support import ADMIN, KEY, auth, report
from tests.factories import every_event_type, jsonl
from tests.figures import tally

INJECTIONS = [
    "'); DROP TABLE ledger_events; --",
    '" OR 1=1 --',
    "<script>alert('x')</script>",
    "<img src=x onerror=alert(1)>",
    "{{7*7}} ${7*7}",
    "\u0000 nul and \u202e right-to-left",
]


@pytest.fixture
def small(tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    """An API with small limits (64 KiB bodies, 128 KiB imports) and one case."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'l.db'}", jwt_key=KEY, follow_seconds=0,
        max_body_bytes=65536, max_import_bytes=131072,
    )  # fmt: skip
    app = create_app(settings)
    try:
        with TestClient(app) as client:
            yield client, report(client).json()["case_id"]
    finally:
        app.state.ctx.close()


def _stored(client: TestClient) -> str:
    return str(client.get("/export", headers=ADMIN).text)


def _problem(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = answer.json()
    return body


def test_oversized_bodies_are_413_whether_declared_or_streamed(
    small: tuple[TestClient, str],
) -> None:
    client, case = small
    before = _stored(client)
    body = {"type": "UWVNotified", "occurred_on": "2026-10-01", "data": {"x": "y" * 70_000}}
    declared = client.post(f"/cases/{case}/events", json=body, headers=ADMIN)
    assert "LEDGER_MAX_BODY_BYTES" in _problem(declared, 413)["detail"]

    def endless() -> Iterator[bytes]:  # no Content-Length: refused once past the limit
        for _ in range(1000):
            yield b" " * 1024

    streamed = client.post(f"/cases/{case}/events", content=endless(),
                           headers={**ADMIN, "content-type": "application/json"})  # fmt: skip
    _problem(streamed, 413)
    lines = jsonl(every_event_type() * 30)
    imported = client.post("/events:import", content=lines, headers=ADMIN)
    assert "LEDGER_MAX_IMPORT_BYTES" in _problem(imported, 413)["detail"]
    assert _stored(client) == before


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        (b"[" * 50_000 + b"]" * 50_000, 413, "larger"),
        (
            b'{"type":"UWVNotified","data":' + b'{"a":' * 5000 + b"1" + b"}" * 5000 + b"}",
            400,
            "nested",
        ),
        (
            b'{"type":"UWVNotified","occurred_on":"2026-10-01","data":{"x":"\xff\xfe"}}',
            400,
            "UTF-8",
        ),
        (b'{"type":"UWVNotified","occurred_on":"2026-10-01"', 422, "JSON"),
        (b'{"type":"UWVNotified","occurred_on":"99999-01-01","data":{}}', 422, "occurred_on"),
        (b'{"type":"UWVNotified","occurred_on":"2026-02-30","data":{}}', 422, "occurred_on"),
        (b'{"type":"UWVNotified","occurred_on":"0001-01-01","data":{}}', 422, "first sick day"),
        (b'{"type":"UWVNotified","occurred_on":"2999-01-01","data":{}}', 422, "after the day"),
        (b'{"type":"Nope","occurred_on":"2026-10-01","data":{}}', 422, "unknown event type"),
        (b'{"type":"UWVNotified","occurred_on":"2026-10-01","data":{"x":1}}', 422, "data.x"),
        (b'"just a string"', 422, ""),
    ],
    ids=[
        "huge-array",
        "deep-object",
        "invalid-utf8",
        "truncated",
        "year-99999",
        "feb-30",
        "year-1",
        "future",
        "unknown-type",
        "extra-field",
        "not-an-object",
    ],
)
def test_malformed_events_are_refused_and_change_nothing(
    small: tuple[TestClient, str], body: bytes, status: int, says: str
) -> None:
    client, case = small
    before = _stored(client)
    answer = client.post(f"/cases/{case}/events", content=body,
                         headers={**ADMIN, "content-type": "application/json"})  # fmt: skip
    problem = _problem(answer, status)
    assert says in json.dumps(problem)
    assert _stored(client) == before


FREE_TEXT_EVENTS = [
    ("WagePaymentSuspended", "reason", "employer"),
    ("MedicalNoteRecorded", "note", "occupational_physician"),
    ("LegalHoldPlaced", "reason", "admin"),
]


@pytest.mark.parametrize("text", INJECTIONS)
def test_injection_in_every_text_field_is_stored_as_text_and_escaped_on_pages(
    small: tuple[TestClient, str], text: str
) -> None:
    client, case = small
    for kind, field, role in FREE_TEXT_EVENTS:
        body = {"type": kind, "occurred_on": "2026-10-01", "data": {field: text}}
        headers = auth(role, f"{role}-1", ["ER1"] if role == "employer" else None)
        answer = client.post(f"/cases/{case}/events", json=body, headers=headers)
        if "\u0000" in text:  # issue 19: a NUL is refused on every store, naming the field
            assert answer.status_code == 422, answer.text
            assert f"data.{field}" in answer.text
            continue
        assert answer.status_code == 201, (kind, answer.text)
    appointed = {"type": "CaseManagerAppointed", "occurred_on": "2026-10-01",
                 "data": {"case_manager_id": text}}  # fmt: skip
    assert client.post(f"/cases/{case}/events", json=appointed, headers=ADMIN).status_code == 422
    reported = {"employee_id": text, "employer_id": "ER1", "first_sick_day": "2026-10-01"}
    assert client.post("/cases", json=reported, headers=ADMIN).status_code == 422
    assert client.get("/export", headers=ADMIN).status_code == 200  # the table is there
    physician = auth("occupational_physician", "op-1")
    client.post("/ui/login", data={"token": physician['Authorization'].split()[1]})
    page = client.get(f"/ui/cases/{case}").text
    assert "<script>" not in page
    assert "onerror=alert" not in page or "&lt;img" in page
    if "<script>" in text:
        assert "&lt;script&gt;" in page


def _json_values() -> st.SearchStrategy[Any]:
    def nested(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.lists(inner, max_size=4) | st.dictionaries(
            st.text(max_size=10), inner, max_size=4
        )

    scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=20)
    return st.recursive(scalars, nested, max_leaves=12)


def _near_valid_line(item: dict[str, Any]) -> st.SearchStrategy[str]:
    """A valid line with one field replaced by something else."""
    change = st.fixed_dictionaries({
        "field": st.sampled_from(sorted(item) + sorted(item["data"])),
        "value": st.one_of(st.none(), st.integers(), st.text(max_size=30),
                           st.just("2026-02-30"), st.just(str(uuid4()))),
    })  # fmt: skip
    return change.map(lambda c: json.dumps(_mutated(item, c)))


FUZZ_LINES = st.lists(
    st.one_of(
        st.binary(max_size=200),
        st.text(max_size=200),
        _json_values().map(json.dumps),
        st.sampled_from(every_event_type()).flatmap(_near_valid_line),
    ),
    min_size=1,
    max_size=8,
)


FUZZED_FILES = int(os.environ.get("LEDGER_FUZZ_FILES", "150"))  # `make attack` asks more


@given(lines=FUZZ_LINES)
@settings(max_examples=FUZZED_FILES, deadline=None, suppress_health_check=list(HealthCheck))
def test_fuzzed_import_files_are_imported_or_refused_whole(
    lines: list[Any], request: pytest.FixtureRequest
) -> None:
    """Whatever a file holds: the import stores all of it, or refuses it naming lines and
    stores nothing. Never another exception."""
    tally(request.node, "fuzz_cases")
    ledger = _fuzz_ledger()
    before = ledger.recorder.max_notification_id() or 0
    problems = None
    try:
        summary = import_lines(ledger, numbered(lines))
    except ImportRejectedError as refused:
        problems = refused.problems
    after = ledger.recorder.max_notification_id() or 0
    if problems is not None:
        assert problems
        assert all(p.line >= 1 and p.field for p in problems)
        assert after == before
    else:
        assert after == before + summary.appended


def _mutated(item: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(item))
    target = copy if change["field"] in copy else copy["data"]
    target[change["field"]] = change["value"]
    return copy


_LEDGERS: list[Ledger] = []


def _fuzz_ledger() -> Ledger:
    if not _LEDGERS:
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="ledger-import-fuzz-"))
        _LEDGERS.append(Ledger(f"sqlite:///{folder / 'l.db'}"))
    return _LEDGERS[0]


def test_an_overlong_import_line_is_refused_naming_it(tmp_path: Path) -> None:
    with Ledger(f"sqlite:///{tmp_path / 'l.db'}") as ledger:
        lines = [json.dumps(every_event_type()[0]), "x" * 70_000]
        with pytest.raises(ImportRejectedError) as refused:
            import_lines(ledger, numbered(lines))
        assert refused.value.problems[0].line == 2
        assert "longer than" in refused.value.problems[0].message
        assert ledger.recorder.max_notification_id() is None


def test_hostile_headcount_files_are_refused_with_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from services.cli import main

    monkeypatch.setenv("LEDGER_DATABASE_URL", f"sqlite:///{tmp_path / 'l.db'}")
    huge = tmp_path / "huge.csv"
    huge.write_text("employer_id,period,headcount\nER1,2026," + "9" * 200_000 + "\n")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"employer_id,period,headcount\n\xff\xfe,2026,1\n")
    for path in (huge, binary):
        assert main(["headcount", "import", str(path)]) in (1, 2)
        assert "Traceback" not in capsys.readouterr().err
