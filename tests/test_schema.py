"""One schema (issue 18): every side-store table listed once, created by numbered
migrations at start, an upgrade explicit (``ledger migrate``), a newer store refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.kafka import partition_ends, record_partition_ends
from infra.readmodel import UnknownTableError, open_read_models
from projections.catalogue import all_projections
from services.cli import main
from services.schema import SCHEMA_VERSION, TABLES, migrate, schema_version, side_store


def test_every_table_is_listed_once_and_every_read_model_is_among_them() -> None:
    names = [table.name for table in TABLES]
    assert len(names) == len(set(names))
    for projection in all_projections():
        for table in projection.tables:
            assert table in TABLES, table.name


def test_a_fresh_store_is_migrated_once_and_then_left_alone(
    use_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert (first["before"], first["after"]) == (0, SCHEMA_VERSION)
    assert first["applied"]
    assert main(["migrate", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["before"], again["after"], again["applied"]) == (
        SCHEMA_VERSION, SCHEMA_VERSION, [],
    )  # fmt: skip
    assert main(["migrate"]) == 0
    assert f"at schema version {SCHEMA_VERSION}: up to date" in capsys.readouterr().out


def test_a_store_migrated_by_a_newer_ledger_is_refused(
    use_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with side_store(use_database) as store:
        store.write("UPDATE {schema_version} SET version = ? WHERE name = 'side_store'",
                    [SCHEMA_VERSION + 1])  # fmt: skip
    assert main(["cases"]) == 4
    assert "newer than this ledger" in capsys.readouterr().err


def test_queries_name_only_tables_of_the_schema(tmp_path: Path) -> None:
    store = open_read_models(f"sqlite:///{tmp_path / 'x.db'}", TABLES)
    try:
        migrate(store)
        assert schema_version(store) == SCHEMA_VERSION
        assert store.query("SELECT count(*) AS n FROM {case_state}") == [{"n": 0}]
        with pytest.raises(UnknownTableError, match="not in this store's schema"):
            store.query("SELECT * FROM {no_such_table}")
    finally:
        store.close()


def test_a_store_at_version_1_gets_the_set_aside_table_by_an_explicit_step(
    use_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 19 added a table: a store set up by the issue-18 ledger (version 1) is
    upgraded by migration 2, which ``ledger migrate`` names."""
    with side_store(use_database) as store:
        store.write("DROP TABLE {set_aside}")
        store.write("UPDATE {schema_version} SET version = 1 WHERE name = 'side_store'")
    assert main(["migrate", "--json"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert (done["before"], done["after"]) == (1, SCHEMA_VERSION)
    assert done["applied"][0] == "create the set_aside table of the projection runner"
    with side_store(use_database) as store:
        assert store.query("SELECT count(*) AS n FROM {set_aside}") == [{"n": 0}]


def test_a_store_at_version_2_claims_its_open_files_in_migration_3(
    use_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 19, hole 4: a store written before open files were claimed gets the claims of
    the files its case-state read model shows open, so a second file is refused there too."""
    assert main(["report", "--employee", "E-OLD", "--employer", "ER-M",
                 "--first-sick-day", "2026-09-07"]) == 0  # fmt: skip
    assert main(["project"]) == 0
    with side_store(use_database) as store:
        store.write("DROP TABLE {open_file}")
        store.write("UPDATE {schema_version} SET version = 2 WHERE name = 'side_store'")
    capsys.readouterr()
    assert main(["migrate", "--json"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert (done["before"], done["after"]) == (2, SCHEMA_VERSION)
    assert done["applied"][0] == "create the open_file claims and claim the open files"
    with side_store(use_database) as store:
        assert len(store.query("SELECT case_id FROM {open_file}")) == 1
    assert main(["report", "--employee", "E-OLD", "--employer", "ER-M",
                 "--first-sick-day", "2026-09-21"]) == 1  # fmt: skip
    assert "already has an open file" in capsys.readouterr().err


def test_a_store_at_version_3_gets_the_revocation_list_in_migration_4(
    use_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with side_store(use_database) as store:
        store.write("DROP TABLE {revoked_token}")
        store.write("UPDATE {schema_version} SET version = 3 WHERE name = 'side_store'")
    assert main(["migrate", "--json"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert (done["before"], done["after"]) == (3, SCHEMA_VERSION)
    assert done["applied"][0] == "create the revoked_token list of bearer tokens"
    assert main(["revoke", "--subject", "cm-9", "--reason", "left"]) == 0
    assert main(["revoke", "--list", "--json"]) == 0
    [entry] = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert (entry["kind"], entry["value"], entry["reason"]) == ("subject", "cm-9", "left")


def test_a_store_at_version_4_gets_the_kafka_partition_ends_in_migration_5(
    use_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with side_store(use_database) as store:
        store.write("DROP TABLE {kafka_partition}")
        store.write("UPDATE {schema_version} SET version = 4 WHERE name = 'side_store'")
    assert main(["migrate", "--json"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert (done["before"], done["after"]) == (4, SCHEMA_VERSION)
    assert done["applied"][0] == "create the kafka_partition ends of scale-out workers"
    with side_store(use_database) as store:
        record_partition_ends(store, "g", "t", {0: 7, 1: 9})
        record_partition_ends(store, "g", "t", {1: 11})
        ends = {(r["partition"], r["end_offset"]) for r in partition_ends(store)}
    assert ends == {(0, 7), (1, 11)}
