"""`ledger import` as a user runs it: validation, atomic refusal, idempotent re-import."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.interchange import parse_line
from services.application import importer
from services.application.importer import (
    MAX_LINE_BYTES,
    ImportRejectedError,
    import_lines,
    numbered,
    read_lines,
)
from services.application.ledger import Ledger
from services.cli import main
from tests.factories import every_event_type, import_via_cli, jsonl, line, report

D = date(2025, 3, 3)


def _stored(capsys: pytest.CaptureFixture[str]) -> list[str]:
    capsys.readouterr()
    assert main(["export"]) == 0
    return capsys.readouterr().out.splitlines()


def test_bad_lines_are_reported_with_line_and_field_and_nothing_is_stored(
    use_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = every_event_type()
    bad = report(uuid4(), D)
    bad["data"]["first_sick_day"] = "2025-02-30"
    unknown = line(uuid4(), "SicknessCelebrated", D)
    source = tmp_path / "in.jsonl"
    source.write_text(jsonl(good[:3]) + jsonl([bad]) + "\n" + "{not json\n" + jsonl([unknown]))
    assert main(["import", str(source)]) == 1
    err = capsys.readouterr().err
    assert "line 4: data.first_sick_day: " in err
    assert "line 6: line: not valid JSON" in err
    assert "line 7: type: unknown event type" in err
    assert "nothing was imported" in err
    assert _stored(capsys) == []


def test_a_rule_violation_refuses_the_whole_file(
    use_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case_id = uuid4()
    lines = [*every_event_type(), report(case_id, D), line(case_id, "SicknessResumed", D)]
    source = tmp_path / "in.jsonl"
    source.write_text(jsonl(lines))
    assert main(["import", str(source), "--json"]) == 1
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["imported"] == 0
    assert result["problems"][0]["line"] == len(lines)
    assert result["problems"][0]["rule"] == "relapse_requires_recovery"
    assert f"line {len(lines)}: type: " in captured.err
    assert _stored(capsys) == []


def test_reimport_appends_nothing_and_says_so(
    use_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.jsonl"
    lines = every_event_type()
    source.write_text(jsonl(lines))
    assert main(["import", str(source), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert (first["appended"], first["duplicates"], first["cases_opened"]) == (len(lines), 0, 1)
    assert main(["import", str(source)]) == 0
    assert f"{len(lines)} already stored (skipped)" in capsys.readouterr().out
    assert len(_stored(capsys)) == len(lines)


def test_an_event_id_reused_for_other_content_is_refused(
    use_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = every_event_type()
    assert import_via_cli(tmp_path, lines) == 0
    changed = dict(lines[3], occurred_on="2024-02-20")
    assert import_via_cli(tmp_path, [changed]) == 1
    assert "line 1: event_id: " in capsys.readouterr().err
    assert len(_stored(capsys)) == len(lines)


def test_import_adds_events_to_a_stored_case(
    use_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case_id = uuid4()
    first, rest = [report(case_id, D)], [line(case_id, "ReportedToOccupationalPhysician", D)]
    source = tmp_path / "in.jsonl"
    source.write_text(jsonl(first))
    assert main(["import", str(source)]) == 0
    capsys.readouterr()
    source.write_text(jsonl(first + rest))
    assert main(["import", str(source), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["appended"], summary["duplicates"], summary["cases_updated"]) == (1, 1, 1)


def test_import_reads_standard_input(
    use_database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = jsonl(every_event_type()).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert main(["import", "-", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["appended"] == len(every_event_type())


def test_large_imports_report_progress_in_batches(database_url: str) -> None:
    lines = [item for _ in range(30) for item in every_event_type()]  # 1,001 to 1,500 lines
    stages: list[tuple[str, int, int]] = []
    with Ledger(database_url) as ledger:
        summary = import_lines(
            ledger,
            numbered(jsonl(lines).splitlines()),
            batch_size=500,
            progress=lambda *args: stages.append(args),
        )
    total = len(lines)
    assert summary.batches == 3
    assert [s for s in stages if s[0] == "write"] == [
        ("write", 500, total),
        ("write", 1000, total),
        ("write", total, total),
    ]


def test_the_installed_command_runs(tmp_path: Path) -> None:
    ledger = Path(sys.executable).parent / "ledger"
    source = tmp_path / "in.jsonl"
    source.write_text(jsonl(every_event_type()))
    env = {"LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [str(ledger), "import", str(source)], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert f"imported {len(every_event_type())} events" in done.stdout


def test_an_unreachable_store_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LEDGER_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/none")
    assert main(["export"]) == 4
    assert "Check LEDGER_DATABASE_URL" in capsys.readouterr().err


def test_an_unsupported_database_url_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LEDGER_DATABASE_URL", "mysql://x")
    assert main(["export"]) == 4
    assert "use sqlite:///PATH or postgresql://" in capsys.readouterr().err


def test_deadlines_of_an_imported_case_as_json(
    use_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = every_event_type()
    assert import_via_cli(tmp_path, lines) == 0
    capsys.readouterr()
    assert main(["deadlines", "--case", lines[0]["case_id"], "--on", "2024-03-01", "--json"]) == 0
    rows = {row["deadline"]: row for row in json.loads(capsys.readouterr().out)}
    analysis = rows["problem_analysis"]  # corrected to day 34, due day 42: on time
    assert (analysis["status"], analysis["done_on"], analysis["due_on"]) == (
        "done",
        "2024-02-10",
        "2024-02-18",
    )
    assert rows["first_year_evaluation"]["status"] == "open"
    # s1: sick through pregnancy (the physician's finding on day 10): within 6 weeks
    notification = rows["uwv_notification"]
    assert (notification["due_on"], notification["status"]) == ("2024-02-18", "overdue")
    assert "within 6 weeks" in notification["rule"]
    assert {
        "case_id",
        "deadline",
        "due_on",
        "status",
        "done_on",
        "days_late",
        "rule",
        "rule_set",
    } <= set(analysis)


@pytest.mark.parametrize(
    "command", ["import", "export", "case", "deadlines", "simulate", "schema", "demo"]
)
def test_every_command_explains_itself_with_an_example(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    assert "example" in capsys.readouterr().out


def test_cases_whose_lines_are_scattered_and_spelled_differently_import_whole(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lines are checked a group of cases at a time (bounded memory, issue 10): every case
    still sees all its lines in file order, however far apart and however its id is written
    (upper case, no hyphens), across more cases than one group holds."""
    monkeypatch.setattr(importer, "CASES_PER_GROUP", 2)
    cases = [every_event_type() for _ in range(5)]
    for case in cases[1:3]:
        for item in case:
            item["case_id"] = item["case_id"].upper()
    cases[3] = [dict(item, case_id=item["case_id"].replace("-", "")) for item in cases[3]]
    interleaved = [item for group in zip(*cases, strict=True) for item in group]
    with Ledger(database_url) as ledger:
        summary = import_lines(ledger, numbered(jsonl(interleaved).splitlines()))
        assert (summary.appended, summary.cases_opened) == (len(interleaved), 5)
        stored = list(ledger.stored_events())
    assert [str(e.event_id) for e in stored] == [item["event_id"] for item in interleaved]


def test_a_repeated_case_id_key_is_checked_in_the_case_validation_reads(
    database_url: str,
) -> None:
    """Grouping reads the case id without validating the line; with the key given twice it
    must agree with validation (the last one), so the line meets its real case's rules."""
    case_id, other = uuid4(), uuid4()
    text = json.dumps(report(case_id, D))
    twice = text[:-1] + f', "case_id": "{other}"' + "}"
    with Ledger(database_url) as ledger:
        with pytest.raises(ImportRejectedError) as refused:
            import_lines(ledger, numbered([json.dumps(report(other, D)), twice]))
        assert list(ledger.stored_events()) == []
    problems = [(p.line, p.rule) for p in refused.value.problems]
    assert problems == [(2, "one_sickness_report_per_case")]
    assert importer.case_key(twice) == str(other)


def test_one_event_id_in_two_cases_is_refused_on_the_later_line(database_url: str) -> None:
    first, second = report(uuid4(), D), report(uuid4(), D)
    second["event_id"] = first["event_id"]
    later = line(first["case_id"], "ReportedToOccupationalPhysician", D)
    with Ledger(database_url) as ledger, pytest.raises(ImportRejectedError) as refused:
        import_lines(ledger, numbered(jsonl([first, second, later]).splitlines()))
    assert [str(p) for p in refused.value.problems] == [
        "line 2: event_id: also used on line 1 for different content"
    ]


def test_problems_are_listed_by_line_the_earliest_hundred(database_url: str) -> None:
    bad = [json.dumps(dict(report(uuid4(), D), type="Nope")) for _ in range(150)]
    with Ledger(database_url) as ledger, pytest.raises(ImportRejectedError) as refused:
        import_lines(ledger, numbered(list(reversed(bad))))
    assert refused.value.total == 150
    assert [p.line for p in refused.value.problems] == list(range(1, 101))


def test_a_refused_import_leaves_no_keys_for_files_it_did_not_write(database_url: str) -> None:
    """Keys are opened while checking (to seal early); a refusal takes them back."""
    good = [report(uuid4(), D) for _ in range(3)]
    broken = [report(uuid4(), D), line(uuid4(), "SicknessResumed", D)]
    with Ledger(database_url) as ledger:
        assert ledger.keys is not None
        before = ledger.keys.store.query("SELECT count(*) AS n FROM {file_key}")[0]["n"]
        with pytest.raises(ImportRejectedError):
            import_lines(ledger, numbered(jsonl(good + broken).splitlines()))
        after = ledger.keys.store.query("SELECT count(*) AS n FROM {file_key}")[0]["n"]
        assert after == before
        summary = import_lines(ledger, numbered(jsonl(good).splitlines()))
        assert summary.appended == 3


@given(
    parts=st.lists(st.binary(max_size=12).map(lambda b: b.replace(b"\x00", b"a")), max_size=30),
    ends=st.lists(st.sampled_from([b"\n", b"\r\n", b"\r", b""]), max_size=30),
    chunk=st.integers(min_value=1, max_value=64),
)
def test_reading_a_file_in_chunks_splits_it_as_splitlines(
    parts: list[bytes], ends: list[bytes], chunk: int
) -> None:
    """`ledger import FILE` streams the file (bounded memory) and must number its lines
    exactly as the whole-file split did, CRLF and CR included, wherever a chunk ends."""
    data = b"".join(p + e for p, e in zip(parts, ends, strict=False))
    assert list(read_lines(io.BytesIO(data), chunk)) == data.splitlines(keepends=True)


def test_a_line_too_long_is_cut_not_held_and_the_next_lines_keep_their_numbers() -> None:
    data = b"x" * (3 * MAX_LINE_BYTES) + b"\r\n" + b"second\n" + b"third"
    lines = list(read_lines(io.BytesIO(data), chunk=4096))
    assert [len(line) for line in lines] == [MAX_LINE_BYTES + 1, 7, 5]


def test_a_file_with_cr_line_ends_imports(
    use_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "mac.jsonl"
    source.write_bytes(jsonl(every_event_type()).replace("\n", "\r").encode())
    assert main(["import", str(source), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["appended"] == len(every_event_type())


def test_a_deeply_nested_line_is_a_problem_not_a_crash(database_url: str) -> None:
    with Ledger(database_url) as ledger, pytest.raises(ImportRejectedError) as refused:
        import_lines(ledger, numbered([json.dumps(report(uuid4(), D)), "[" * 60_000]))
    assert [p.line for p in refused.value.problems] == [2]


def test_a_refused_import_keeps_keys_another_writer_created(database_url: str) -> None:
    """Keys are taken back by the token of the rows the import itself inserted: a file
    another writer opened meanwhile (and may be about to write) keeps its key."""
    case_id = uuid4()
    with Ledger(database_url) as ledger:
        assert ledger.keys is not None
        first = report(case_id, D)
        subject = ledger.subject_of(parse_line(json.dumps(first)))
        assert subject is not None
        ledger.keys.open_files([(case_id, subject)])  # the other writer's key row
        broken = [first, line(uuid4(), "SicknessResumed", D)]
        with pytest.raises(ImportRejectedError):
            import_lines(ledger, numbered(jsonl(broken).splitlines()))
        rows = ledger.keys.store.query(
            "SELECT count(*) AS n FROM {file_key} WHERE case_id = ?", [str(case_id)]
        )
        assert rows[0]["n"] == 1


def test_a_file_already_refused_creates_no_subjects(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once a line is bad, the rest is only checked: no employee gets a subject (a blind
    index row) from a file that will not be stored."""
    monkeypatch.setattr(importer, "CASES_PER_GROUP", 1)
    bad = dict(report(uuid4(), D), type="Nope")
    later = [report(uuid4(), D) for _ in range(3)]
    for n, item in enumerate(later):
        item["data"]["employee_id"] = f"EMP-NEW-{n}"
    with Ledger(database_url) as ledger:
        assert ledger.keys is not None
        count = "SELECT count(*) AS n FROM {subject_index}"
        before = ledger.keys.store.query(count)[0]["n"]
        with pytest.raises(ImportRejectedError):
            import_lines(ledger, numbered(jsonl([bad, *later]).splitlines()))
        assert ledger.keys.store.query(count)[0]["n"] == before
