"""Issue 19, hole 7: ``ledger verify`` passed with every checkpoint deleted
(``intact: ... 0 checkpoint(s) verified``), and deleting a key row "erased" a file with no
``PersonalDataErased`` event while verify still passed. Now each checkpoint is written to
a witness file outside the database (``LEDGER_WITNESS_FILE``, and ``--witness`` files a
reviewer keeps); verify remembers the latest checkpoint it saw there, fails when one a
witness saw is gone, and checks every file's key row against its erasure events."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import UUID

import pytest

from infra.audit import signing_key
from services.application.ledger import Ledger
from services.cli import main
from services.tools import verify_bundle as verifier
from tests.figures import record
from tests.test_audit import _sql, audited  # noqa: F401 (a fixture)


def _witnessed_seqs(path: Path) -> list[int]:
    return [json.loads(line)["seq"] for line in path.read_text().splitlines()]


def _deleted_checkpoint_2_is_caught(url: str, capsys: pytest.CaptureFixture[str],
                                    *options: str) -> None:  # fmt: skip
    _sql(url, [("DELETE FROM {s}.audit_checkpoint_v3 WHERE seq = 2", ())])
    code, err = _verify(capsys, *options)
    assert code == 1
    assert "checkpoint 2: not the one published" in err


def _verify(capsys: pytest.CaptureFixture[str], *options: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["verify", *options])
    return code, capsys.readouterr().err


def test_deleting_every_checkpoint_is_caught_by_the_witness(
    audited: tuple[str, UUID], capsys: pytest.CaptureFixture[str],  # noqa: F811
    request: pytest.FixtureRequest,
) -> None:  # fmt: skip
    url, _ = audited
    assert main(["checkpoint"]) == 0  # checkpoint 2
    assert _verify(capsys)[0] == 0
    _sql(url, [("DELETE FROM {s}.audit_checkpoint_v3", ()), ("DELETE FROM {s}.audit_leaf", ())])
    code, err = _verify(capsys)
    assert code == 1, err
    assert "checkpoint 2: not the one published" in err
    assert "deleted" in err
    record(request.node, tampering_found="every checkpoint and leaf deleted")


def test_a_reviewers_witness_file_catches_what_the_local_one_lost(
    audited: tuple[str, UUID], tmp_path: Path, capsys: pytest.CaptureFixture[str],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest,
) -> None:  # fmt: skip
    url, _ = audited
    reviewer = tmp_path / "reviewer-witness.jsonl"
    assert main(["checkpoint", "--witness", str(reviewer)]) == 0
    assert _witnessed_seqs(reviewer) == [2]
    kept = json.loads(reviewer.read_text())
    assert {"seq", "tree_size", "root", "at", "key", "signature"} <= set(kept)
    monkeypatch.setenv("LEDGER_WITNESS_FILE", str(tmp_path / "a-fresh-machine.jsonl"))
    _sql(url, [("DELETE FROM {s}.audit_checkpoint_v3 WHERE seq = 2", ())])
    assert _verify(capsys)[0] == 0, "unwitnessed, a deletion at the end is invisible"
    assert "checkpoint 2: not the one published" in _verify(capsys, "--witness", str(reviewer))[1]
    record(request.node, tampering_found="the latest checkpoint deleted (a reviewer's witness)")


def test_verify_remembers_the_latest_checkpoint_it_saw(
    audited: tuple[str, UUID], tmp_path: Path, capsys: pytest.CaptureFixture[str],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest,
) -> None:  # fmt: skip
    url, _ = audited
    assert main(["checkpoint"]) == 0  # signed on one machine, seen by verify on another
    monkeypatch.setenv("LEDGER_WITNESS_FILE", str(tmp_path / "verifier.jsonl"))
    assert _verify(capsys)[0] == 0
    assert _witnessed_seqs(tmp_path / "verifier.jsonl") == [2]
    _deleted_checkpoint_2_is_caught(url, capsys)
    record(request.node, tampering_found="the latest checkpoint deleted (verify's own witness)")


@pytest.mark.parametrize("how", ["deleted", "emptied"])
def test_a_key_row_gone_without_an_erasure_event_fails_verify(
    audited: tuple[str, UUID], capsys: pytest.CaptureFixture[str], how: str,  # noqa: F811
    request: pytest.FixtureRequest,
) -> None:  # fmt: skip
    url, case_id = audited
    statement = (
        "DELETE FROM {s}.file_key WHERE case_id = %s" if how == "deleted"
        else "UPDATE {s}.file_key SET personal = NULL, medical = NULL WHERE case_id = %s"
    )  # fmt: skip
    _sql(url, [(statement, (str(case_id),))])
    code, err = _verify(capsys)
    assert code == 1
    assert f"case {case_id}: its keys are gone but no PersonalDataErased" in err
    record(request.node, tampering_found=f"a key row {how} without its erasure event")


def test_an_erasure_through_the_ledger_keeps_verify_intact(
    audited: tuple[str, UUID], capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    url, _ = audited
    with Ledger(url) as ledger:
        cases = [ledger.get_case(c) for c in {e.originator_id for e in ledger.stored_events()}]
    employees = sorted({(str(c.current.employee_id), c.current.employer_id)
                        for c in cases if c.current.closed_on})  # fmt: skip
    erased = [e for e, er in employees
              if main(["erase", "--employee", e, "--employer", er, "--reference", "AVG-1"]) == 0]
    assert erased, "no employee of the simulated files could be erased"
    code, err = _verify(capsys)
    assert code == 0, err


def test_the_standalone_verifier_says_verified_only_with_a_pinned_key(
    audited: tuple[str, UUID], tmp_path: Path, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    """Issue 19, item 8: ``verify_bundle.py`` without a pinned key exited 0 on a bundle
    anyone could have signed with a key of their own."""
    _, case_id = audited
    bundle = tmp_path / "case.json"
    assert main(["proof", "--case", str(case_id), "--out", str(bundle)]) == 0
    capsys.readouterr()
    assert verifier.main([str(bundle)]) == 2
    assert "pin the ledger's key" in capsys.readouterr().err
    assert verifier.main([str(bundle), "--unpinned"]) == 3
    assert "NOT VERIFIED" in capsys.readouterr().out
    key = signing_key().public_key().public_bytes_raw().hex()
    assert verifier.main([str(bundle), "--public-key", key]) == 0
    with pytest.raises(SystemExit) as both:  # review: --unpinned was silently ignored
        verifier.main([str(bundle), "--public-key", key, "--unpinned"])
    assert both.value.code == 2
    assert "not allowed with" in capsys.readouterr().err


def test_a_witness_line_written_by_hand_is_read_as_the_checkpoint_it_names(
    audited: tuple[str, UUID], tmp_path: Path, capsys: pytest.CaptureFixture[str],  # noqa: F811
) -> None:
    """Review: a reviewer's witness line with its seq as text or its root in capitals was
    taken for another checkpoint, and verify called checkpoint 1 deleted."""
    del audited  # the fixture made the ledger
    reviewer = tmp_path / "by-hand.jsonl"
    assert main(["checkpoint", "--witness", str(reviewer)]) == 0
    kept = json.loads(reviewer.read_text())
    reviewer.write_text(json.dumps({**kept, "seq": str(kept["seq"]),
                                    "root": kept["root"].upper()}) + "\n")  # fmt: skip
    code, err = _verify(capsys, "--witness", str(reviewer))
    assert code == 0, err
