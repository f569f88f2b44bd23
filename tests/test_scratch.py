"""Issue 19, hole 5 (scratch files): an import killed with kill -9 left its scratch file
in ``TMPDIR`` with the employee ids in plain text, and key rows of files it never wrote.
Now the scratch lines are encrypted with a key only the importing process holds, the
next import removes a dead import's scratch directory, and key rows of files never
written are taken back a day later."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from uuid import uuid4

import psycopg

from infra.keys import SWEPT
from services.application.importer import import_lines, numbered
from services.application.ledger import Ledger
from services.tools.simulate import simulate
from tests.factories import report
from tests.processes import environment


def _count(url: str, sql: str) -> int:
    """The count, or 0 while the import has not created the tables yet."""
    base, schema = url.split("?schema=")
    with psycopg.connect(base) as connection:
        connection.execute(f'SET search_path TO "{schema}"')
        try:
            row = connection.execute(sql).fetchone()
        except psycopg.errors.UndefinedTable:
            return 0
        return int(row[0]) if row else 0


def _every_byte_under(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


def test_a_killed_import_leaves_nothing_readable_and_the_next_one_cleans_up(
    postgres_schema_url: str, tmp_path: Path
) -> None:
    lines = list(simulate(6000, seed=41))
    employees = sorted({x["data"]["employee_id"] for x in lines if x["type"] == "SicknessReported"})
    source = tmp_path / "cases.jsonl"
    source.write_text("".join(json.dumps(x) + "\n" for x in lines))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = environment(postgres_schema_url, TMPDIR=str(scratch))
    importer = subprocess.Popen([sys.executable, "-m", "services.cli", "import", "--quiet",
                                 str(source)], env=env)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # checking: key rows opened, nothing written yet
            if _count(postgres_schema_url, "SELECT count(*) FROM file_key") > 100:
                break
            time.sleep(0.05)
        importer.send_signal(signal.SIGKILL)
        importer.wait(timeout=30)
    finally:
        if importer.poll() is None:
            importer.kill()
    assert _count(postgres_schema_url, "SELECT count(*) FROM ledger_events") == 0
    left = _every_byte_under(scratch)
    assert left, "the kill left the scratch directory behind (as kill -9 does)"
    assert not [e for e in employees if e.encode() in left], "an employee id in plain text"
    opened = _count(postgres_schema_url, "SELECT count(*) FROM file_key")
    assert opened > 100

    # a day later (the key rows aged in SQL), the next import takes both back
    base, schema = postgres_schema_url.split("?schema=")
    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f'UPDATE "{schema}".file_key SET created_at = %s',
                           ("2026-01-01T00:00:00.000000Z",))  # fmt: skip
        # and the sweep the killed import made at its start, aged alike (forgotten)
        connection.execute(f'UPDATE "{schema}".key_epoch SET n = 0 WHERE name = %s', (SWEPT,))
    with Ledger(postgres_schema_url) as ledger:
        import_lines(ledger, numbered([json.dumps(report(uuid4(), date(2026, 2, 2)))]),
                     scratch_dir=str(scratch))  # fmt: skip
    assert list(scratch.glob("ledger-import-*")) == [], "the dead import's directory is gone"
    assert _count(postgres_schema_url, "SELECT count(*) FROM file_key") == 1
