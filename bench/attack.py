"""The attack of issue 19, run again and counted: every hole's regression tests, the fault
scenarios (concurrent writers, kill -9, PostgreSQL stopped, a stuck lock, a poison event
amid 10,000), the tampering ``ledger verify`` must find, the WAL scan after erasure, the
byte-for-byte restore and the fuzzing, with more fuzz cases than ``make test`` asks.

The figures come from the tests themselves (``tests/figures.py``): requests sent,
faults injected, events stored, lost and duplicated, tampering found, fuzz cases, bytes
scanned. A test that fails or is skipped is reported as such; skipping is refused
(``CI=1``), since a hole not tried is not a hole closed.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest

from bench.common import bench_parser, commit, finish, machine, pg_version

RELIABILITY = "tests/test_reliability.py::"
HOLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("1. one accepted line stopped every read model", (
        "tests/test_poison_events.py",
        RELIABILITY + "test_a_poison_event_amid_ten_thousand_is_set_aside_and_every_other_"
        "event_projected")),
    ("2. event_id unique per case only", ("tests/test_event_ids.py",)),
    ("3. the export was not a backup", (
        "tests/test_backup.py",
        RELIABILITY + "test_a_backup_restores_into_an_empty_postgresql_byte_for_byte")),
    ("4. one employer could block another's erasure", (
        "tests/test_employer_scope.py", "tests/test_open_files.py")),
    ("5. crypto-shredding missed the WAL and scratch files", (
        "tests/test_wal_erasure.py", "tests/test_scratch.py")),
    ("6. analysts could subtract across days", (
        "tests/test_stats_api.py::test_analysts_cannot_subtract_one_day_from_the_next",
        "tests/test_stats_api.py::test_the_publication_period_is_data")),
    ("7. verify passed with every checkpoint deleted", (
        "tests/test_witness.py", "tests/test_audit.py")),
    ("8. the smaller items", (
        "tests/test_security.py", "tests/test_api_roles.py", "tests/test_sign_in.py",
        "tests/test_token_lifetime.py", "tests/test_token_revocation.py",
        "tests/test_security_headers.py", "tests/test_employee_role.py",
        "tests/test_import_responsive.py")),
    ("faults under load", (
        RELIABILITY + "test_concurrent_writers_lose_nothing_and_invent_nothing",
        RELIABILITY + "test_kill_9_of_server_projector_and_feed_loses_and_repeats_nothing",
        RELIABILITY + "test_a_retry_after_a_crash_between_claim_and_write_is_applied_once",
        RELIABILITY + "test_the_api_answers_503_while_postgres_restarts_and_recovers_by_itself",
        RELIABILITY + "test_a_stuck_lock_is_a_clear_503_not_a_hang")),
    ("fuzzing", ("tests/test_api_fuzz.py", "tests/test_hostile_input.py")),
)  # fmt: skip


@dataclass
class Outcome:
    nodeid: str
    outcome: str
    seconds: float
    figures: list[tuple[str, Any]] = field(default_factory=list)


class Collector:
    """A pytest plugin that keeps each test's outcome and the figures it recorded. A test
    may run more than once under one id (schemathesis runs each API operation so): each
    run, from its setup, is an outcome of its own."""

    def __init__(self) -> None:
        self.outcomes: list[Outcome] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "setup" or not self.outcomes:
            self.outcomes.append(Outcome(report.nodeid, "passed", 0.0))
        kept = self.outcomes[-1]
        kept.seconds += report.duration
        if report.outcome != "passed" and kept.outcome == "passed":
            kept.outcome = report.outcome if report.when == "call" else \
                f"{report.outcome} in {report.when}"  # fmt: skip
        if report.when == "call":
            kept.figures = list(report.user_properties)


def hole_of(nodeid: str) -> str:
    for hole, prefixes in HOLES:
        if any(nodeid.startswith(prefix) for prefix in prefixes):
            return hole
    return "other"


def totals(outcomes: Sequence[Outcome]) -> tuple[dict[str, int], dict[str, list[str]]]:
    """Numbers summed by name, texts listed by name, over ``outcomes``."""
    numbers: dict[str, int] = {}
    texts: dict[str, list[str]] = {}
    for outcome in outcomes:
        for name, value in outcome.figures:
            if isinstance(value, int):
                numbers[name] = numbers.get(name, 0) + value
            else:
                texts.setdefault(name, []).append(str(value))
    return numbers, texts


def report(outcomes: Sequence[Outcome], args: argparse.Namespace, seconds: float) -> str:
    rows = ["| hole or scenario | tests passed | figures measured |", "|---|---|---|"]
    for hole, _ in HOLES:
        mine = [o for o in outcomes if hole_of(o.nodeid) == hole]
        numbers, texts = totals(mine)
        shown = [f"{name} {value:,}" for name, value in numbers.items()]
        shown += [f"{name}: {len(values)}" for name, values in texts.items()]
        passed = sum(o.outcome == "passed" for o in mine)
        rows.append(f"| {hole} | {passed} of {len(mine)} | {'; '.join(shown) or '-'} |")
    numbers, texts = totals(outcomes)
    failed = [o for o in outcomes if o.outcome != "passed"]
    lines = [
        f"### Attack (issue 19) - {datetime.now().isoformat(timespec='seconds')}",
        "",
        f"Machine: {machine()}; {pg_version(args.database_url.split('?')[0])}; commit {commit()}; "
        f"{seconds:.0f} s; {args.fuzz_examples} fuzz cases per API operation, "
        f"{args.fuzz_files} fuzzed import files.",
        "",
        *rows,
        "",
        f"In all: {len(outcomes)} tests, {len(outcomes) - len(failed)} passed; "
        f"{numbers.get('requests', 0):,} HTTP requests under faults, "
        f"{len(texts.get('faults', []))} faults injected, "
        f"{numbers.get('events stored', 0):,} events stored, "
        f"lost {numbers.get('lost', 0)}, duplicated {numbers.get('duplicated', 0)}; "
        f"{len(texts.get('tampering found', []))} kinds of tampering found; "
        f"{numbers.get('fuzz cases', 0):,} fuzz cases.",
        "",
        "Faults: " + "; ".join(texts.get("faults", [])) + ".",
        "",
        "Tampering found: " + "; ".join(texts.get("tampering found", [])) + ".",
    ]
    if failed:
        lines += ["", "Not passed: " + ", ".join(f"{o.nodeid} ({o.outcome})" for o in failed)]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--fuzz-examples", type=int, default=300,
                        help="schemathesis cases per API operation (make test: 25)")
    parser.add_argument("--fuzz-files", type=int, default=1000,
                        help="fuzzed import files (make test: 150)")  # fmt: skip
    parser.add_argument("pytest_args", nargs="*", help="passed on to pytest (e.g. -x)")
    args = parser.parse_args(argv)
    base = args.database_url.split("?")[0]  # the tests make their own schemas there
    os.environ.update(CI="1", LEDGER_TEST_POSTGRES=base,
                      LEDGER_FUZZ_EXAMPLES=str(args.fuzz_examples),
                      LEDGER_FUZZ_FILES=str(args.fuzz_files))  # fmt: skip
    collector = Collector()
    targets = list(dict.fromkeys(p.split("::")[0] if p.endswith(".py") else p
                                 for _, prefixes in HOLES for p in prefixes))  # fmt: skip
    started = time.monotonic()
    code = pytest.main(["-q", "-p", "no:cacheprovider", *targets, *args.pytest_args],
                       plugins=[collector])  # fmt: skip
    outcomes = collector.outcomes
    finish(report(outcomes, args, time.monotonic() - started), args)
    return int(code)


if __name__ == "__main__":
    raise SystemExit(main())
