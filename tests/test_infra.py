"""The mapper and the database URL setting."""

from __future__ import annotations

import os

import pytest
from eventsourcing.compressor import ZlibCompressor
from eventsourcing.cryptography import AESCipher
from eventsourcing.persistence import JSONTranscoder
from eventsourcing.utils import Environment

from domain.case import Case
from domain.events import CaseEvent
from domain.interchange import event_fields, parse_line
from infra.config import ConfigurationError, eventsourcing_env
from infra.mapper import PydanticMapper
from tests.factories import every_event_type, jsonl


def _events() -> list[CaseEvent]:
    lines = [parse_line(jsonl([item])) for item in every_event_type()]
    case = Case.open(case_id=lines[0].case_id, **event_fields(lines[0]))
    for parsed in lines[1:]:
        from domain.events import CATALOGUE

        case.record(CATALOGUE[parsed.type], **event_fields(parsed))
    return case.collect_case_events()


@pytest.mark.parametrize("secure", [False, True], ids=["plain", "compressed+encrypted"])
def test_mapper_round_trips_every_event_type(secure: bool) -> None:
    cipher = None
    if secure:
        env = Environment(env={"CIPHER_KEY": AESCipher.create_key(16)})
        cipher = AESCipher(env)
    mapper = PydanticMapper(JSONTranscoder(), ZlibCompressor() if secure else None, cipher)
    for event in _events():
        stored = mapper.to_stored_event(event)
        assert (str(event.event_id).encode() in stored.state) is not secure
        assert mapper.to_domain_event(stored) == event


def test_sqlite_url_relative_and_absolute() -> None:
    assert eventsourcing_env("sqlite:///ledger.db")["SQLITE_DBNAME"] == "ledger.db"
    assert eventsourcing_env("sqlite:////var/x.db")["SQLITE_DBNAME"] == "/var/x.db"


def test_postgres_url_sets_lock_timeout_and_schema() -> None:
    env = eventsourcing_env("postgresql://u:p%40ss@db:6543/ledger?schema=s1")
    assert env["POSTGRES_PASSWORD"] == "p@ss"
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"], env["POSTGRES_DBNAME"]) == (
        "db",
        "6543",
        "ledger",
    )
    assert env["POSTGRES_SCHEMA"] == "s1"
    assert env["POSTGRES_LOCK_TIMEOUT"] == "5"  # stack.md: never wait forever


def test_unsupported_url_says_what_is_supported() -> None:
    with pytest.raises(ConfigurationError, match="sqlite:///PATH"):
        eventsourcing_env("redis://x")


def test_default_store_is_sqlite_in_the_working_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    from infra.config import database_url

    monkeypatch.delenv("LEDGER_DATABASE_URL", raising=False)
    assert database_url() == "sqlite:///ledger.db"
    assert os.path.basename(eventsourcing_env(database_url())["SQLITE_DBNAME"]) == "ledger.db"
