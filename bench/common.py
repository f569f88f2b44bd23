"""Helpers shared by the benchmarks: the machine, the commit, fresh stores, timing."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg

from services.application.importer import numbered
from services.tools.simulate import simulate

ROOT = Path(__file__).resolve().parent.parent


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {memory:.0f} GiB, Python {platform.python_version()}"


def commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    return done.stdout.strip() or "uncommitted"


def timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def lines_for(events: int) -> list[tuple[int, bytes | str]]:
    """Whole simulated cases, at least ``events`` events in all."""
    rows: list[str] = []
    seed = 1
    while len(rows) < events:
        rows.extend(json.dumps(x) for x in simulate(2000, seed=seed, today=date(2026, 11, 1)))
        seed += 1
    return list(numbered(rows))


def fresh_url(base: str, kind: str, workdir: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{workdir / f'bench-{uuid4().hex[:8]}.db'}"
    schema = f"bench_{uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    return f"{base}?schema={schema}"


def drop(url: str) -> None:
    if "schema=" in url:
        base, schema = url.split("?schema=")
        with psycopg.connect(base, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


def pg_version(base: str) -> str:
    with psycopg.connect(base) as connection:
        row = connection.execute("SHOW server_version").fetchone()
    return f"PostgreSQL {row[0] if row else '?'}"


def record(text: str) -> None:
    """Append a result section to BENCHMARKS.md."""
    with (ROOT / "BENCHMARKS.md").open("a") as file:
        file.write("\n" + text)


def bench_parser(doc: str | None) -> argparse.ArgumentParser:
    """The options every benchmark takes; each adds its own."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--no-record", action="store_true", help="do not append to BENCHMARKS.md")
    return parser


def finish(text: str, args: argparse.Namespace) -> None:
    """Print the results and, unless --no-record, append them to BENCHMARKS.md."""
    print(text)
    if not args.no_record:
        record(text)
