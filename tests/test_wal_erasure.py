"""Issue 19, hole 5: crypto-shredding reaches every copy the database keeps.

An erasure destroys a file's data keys in their row, but the row's earlier versions
stay where PostgreSQL wrote them: WAL segments, dead tuples in the table's files, base
backups, `export --backup`. Each copy holds the data key wrapped by the master key, so
the erasure holds for every copy once that master key is gone: `ledger keys rotate
--new` re-wraps the keys of the living files under a new master key and `ledger keys
retire` drops the old one. The test reads every WAL segment and every file of the
ledger's tables, as an attacker with the disk would (rules reference section 5)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import psycopg
import pytest
from cryptography.exceptions import InvalidTag

from infra.keys import MasterKey, _unseal, configured_master_keys
from services.cli import main
from tests.factories import jsonl, line
from tests.figures import record

pytestmark = pytest.mark.postgres
FIRST = date(2026, 3, 2)
PHYSICIAN = ("occupational_physician", "op-9")


def _file(case_id: UUID, employee: str, note: str) -> list[dict[str, object]]:
    return [
        line(case_id, "SicknessReported", FIRST, employee_id=employee, employer_id="ER-W",
             first_sick_day=FIRST),
        line(case_id, "ReportedToOccupationalPhysician", FIRST + timedelta(days=2),
             occupational_physician_id="op-9"),
        line(case_id, "MedicalNoteRecorded", FIRST + timedelta(days=9), actor=PHYSICIAN,
             note=note),
        line(case_id, "RecoveryReported", FIRST + timedelta(days=30)),
        line(case_id, "CaseClosed", FIRST + timedelta(days=31), outcome="recovered"),
    ]  # fmt: skip


def _disk(admin_url: str, schema: str) -> Iterator[tuple[Path, bytes]]:
    """Every WAL segment of the cluster and every file of the schema's relations, after
    a checkpoint has written the shared buffers out."""
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute("CHECKPOINT")
        data = Path(admin.execute("SHOW data_directory").fetchone()[0])  # type: ignore[index]
        relations = admin.execute(
            "SELECT pg_relation_filepath(c.oid) FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind IN ('r','i','t')",
            [schema],
        ).fetchall()
    files = sorted((data / "pg_wal").glob("0*"))
    for (relative,) in relations:
        files += sorted(data.glob(f"{relative}*"))  # the main fork and its segments
    for path in files:
        yield path, path.read_bytes()


def _opens(master: MasterKey, wrapped: str, label: str) -> bool:
    try:
        _unseal(master.secret, wrapped, label)
    except InvalidTag:
        return False
    return True


def test_after_erasure_and_rotation_no_copy_on_disk_opens_the_erased_note(
    postgres_url: str, postgres_schema_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:  # fmt: skip
    schema = postgres_schema_url.rsplit("schema=", 1)[1]
    monkeypatch.setenv("LEDGER_DATABASE_URL", postgres_schema_url)
    monkeypatch.setenv("LEDGER_MASTER_KEY_FILE", str(tmp_path / "master.key"))
    monkeypatch.delenv("LEDGER_MASTER_KEY", raising=False)
    erased, kept = uuid4(), uuid4()
    note = f"Consultation {uuid4().hex}: burn-out, sertraline 50 mg"
    lines = _file(erased, "EMP-WAL-1", note) + _file(kept, "EMP-WAL-2", "another note")
    (tmp_path / "file.jsonl").write_text(jsonl(lines))
    assert main(["import", "--quiet", str(tmp_path / "file.jsonl")]) == 0
    capsys.readouterr()
    with psycopg.connect(postgres_schema_url.split("?")[0], autocommit=True) as db:
        wrapped, old_id = db.execute(
            f'SELECT medical, master_key_id FROM "{schema}".file_key WHERE case_id = %s',
            [str(erased)],
        ).fetchone()  # type: ignore[misc]
    (old,) = configured_master_keys()
    assert old.id == old_id
    label = f"{erased}:medical"

    erase = ["erase", "--employee", "EMP-WAL-1", "--employer", "ER-W", "--reference", "AVG-9"]
    assert main([*erase, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["copies_open_until_retired"] == [old.id]
    copies = [path for path, content in _disk(postgres_url, schema) if wrapped.encode() in content]
    assert copies, "the erased file's wrapped key should still be on disk (WAL, dead tuple)"
    assert _opens(old, wrapped, label)  # the hole: with the unchanged master key it opens

    assert main(["keys", "rotate", "--new", "--json"]) == 0
    assert main(["keys", "retire", "--json"]) == 0
    capsys.readouterr()
    configured = configured_master_keys()
    assert [m.id for m in configured] != [old.id]
    assert old.secret.hex() not in (tmp_path / "master.key").read_text()
    scanned, files = 0, 0
    for path, content in _disk(postgres_url, schema):
        assert note.encode() not in content, f"the plain note is in {path}"
        assert old.secret not in content, path
        assert old.secret.hex().encode() not in content, path
        if wrapped.encode() in content:
            assert not any(_opens(master, wrapped, label) for master in configured), path
        scanned, files = scanned + len(content), files + 1
    record(request.node, disk_files_scanned=files,
           disk_MiB_scanned=scanned >> 20, erased_note_copies_found=len(copies),
           copies_that_open_after_retire=0)  # fmt: skip
    assert main(["export"]) == 0
    exported = capsys.readouterr().out
    assert "EMP-WAL-2" in exported  # the kept file still opens under the new master key
    assert "EMP-WAL-1" not in exported
