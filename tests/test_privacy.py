"""Issue 9: per-person encryption, crypto-shredding, retention and key rotation
(rules reference section 5, AVG: medical data only for the occupational physician;
retention at most two years after re-integration ends, longer in a dispute)."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from cryptography.exceptions import InvalidTag

from domain import events as ev
from domain.privacy import Protection
from infra.keys import (
    CaseOwnerError,
    KeyRing,
    MasterKey,
    MissingKeyError,
    configured_master_keys,
)
from projections.catalogue import all_projections
from projections.runner import ReadModelRunner
from services.application.erasure import ErasureError, erase_employee
from services.application.importer import import_lines, numbered
from services.application.ledger import Ledger
from services.cli import main
from services.schema import side_store as read_models
from services.tools.simulate import simulate
from tests.api_support import api, auth, free_port, wait_ready
from tests.factories import jsonl, line

EMPLOYEE = "EMP-PRIV-93017"
NOTE = "Consultation: burn-out, sleeps four hours, sertraline 50 mg"
FREE_TEXT = "missed the control appointment with dr Jansen"
PHYSICIAN = ("occupational_physician", "op-7")
FIRST = date(2024, 1, 8)
ADMIN_ACTOR = ev.Actor(role=ev.ActorRole.SYSTEM, id="admin")


def at(days: int) -> date:
    return FIRST + timedelta(days=days)


def private_file(
    case_id: UUID | str, employee: str = EMPLOYEE, closed: bool = True
) -> list[dict[str, Any]]:
    suspended = line(case_id, "WagePaymentSuspended", at(20), reason=FREE_TEXT)
    lines = [
        line(case_id, "SicknessReported", FIRST, employee_id=employee, employer_id="ER-P",
             first_sick_day=FIRST, sector="care"),
        line(case_id, "ReportedToOccupationalPhysician", at(2), occupational_physician_id="op-7"),
        line(case_id, "MedicalNoteRecorded", at(10), actor=PHYSICIAN, note=NOTE),
        suspended,
        line(case_id, "WagePaymentSuspensionLifted", at(25)),
        line(case_id, "EventRetracted", at(26), retracts=suspended["event_id"],
             reason=f"{FREE_TEXT}, wrongly"),
        line(case_id, "ProblemAnalysisCompleted", at(35), actor=PHYSICIAN, prognosis="unclear"),
        line(case_id, "PlanOfApproachAgreed", at(50), goal="own_work"),
        line(case_id, "RecoveryReported", at(90)),
    ]  # fmt: skip
    if closed:
        lines.append(line(case_id, "CaseClosed", at(95), outcome="recovered"))
    return lines


PLAIN = (EMPLOYEE, NOTE, FREE_TEXT)
WHO = ("--employee", EMPLOYEE, "--employer", "ER-P")  # ledger erase: who, at which employer


def _import(ledger: Ledger, lines: list[dict[str, Any]]) -> None:
    import_lines(ledger, numbered([json.dumps(item) for item in lines]))


# --- keys -------------------------------------------------------------------------


def test_sealed_fields_round_trip_bound_to_their_place(database_url: str) -> None:
    with read_models(database_url) as store:
        keys = KeyRing(store, [MasterKey.generate()])
        subject = keys.subject_for(EMPLOYEE, "ER-P")
        assert keys.subject_for(EMPLOYEE, "ER-P") == subject  # one subject per employee
        assert keys.subject_for(EMPLOYEE, "ER-Q") != subject  # at another employer: another
        assert keys.find_subject("someone-else", "ER-P") is None
        bulk = keys.subjects_for([(EMPLOYEE, "ER-P"), ("EMP-B", "ER-P"), (EMPLOYEE, "ER-P"),
                                 ("EMP-C", "ER-P")])  # as the importer asks
        assert bulk[EMPLOYEE, "ER-P"] == subject
        assert len({bulk["EMP-B", "ER-P"], bulk["EMP-C", "ER-P"], subject}) == 3
        assert keys.subject_for("EMP-C", "ER-P") == bulk["EMP-C", "ER-P"]
        file, other = uuid4(), uuid4()
        keys.open_files([(file, subject), (other, subject)])
        with pytest.raises(CaseOwnerError):  # one case, one employee
            keys.open_files([(file, bulk["EMP-B", "ER-P"])])
        personal = keys.seal(file, Protection.PERSONAL, "case:1:employee_id", EMPLOYEE)
        medical = keys.seal(file, Protection.MEDICAL, "case:2:note", NOTE)
        kept = keys.seal(other, Protection.PERSONAL, "case:3:reason", FREE_TEXT)
        assert EMPLOYEE not in json.dumps(personal)
        assert NOTE not in json.dumps(medical)
        assert keys.open(personal, "case:1:employee_id") == EMPLOYEE
        assert keys.open(medical, "case:2:note") == {"withheld": "medical"}
        assert keys.open(medical, "case:2:note", medical=True) == NOTE
        with pytest.raises(InvalidTag):  # moved to another event or field: refused
            keys.open(personal, "case:9:employee_id")

        assert keys.erase_files([file]) == 1  # one file: its own keys only
        assert keys.open(personal, "case:1:employee_id") == {"withheld": "erased"}
        assert keys.open(medical, "case:2:note", medical=True) == {"withheld": "erased"}
        assert keys.open(kept, "case:3:reason") == FREE_TEXT
        assert keys.find_subject(EMPLOYEE, "ER-P") == subject  # the other file needs the index
        # what is written to an erased file afterwards is forgotten at once
        assert keys.seal(file, Protection.PERSONAL, "x", "y") == {"withheld": "erased"}
        assert keys.erase_files([other]) == 1
        assert keys.find_subject(EMPLOYEE, "ER-P") is None  # the index went with the last file


def test_a_ledger_with_keys_refuses_to_start_without_its_master_key(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with Ledger(database_url) as ledger:
        _import(ledger, private_file(uuid4()))
    monkeypatch.setenv("LEDGER_MASTER_KEY_FILE", str(tmp_path / "missing.key"))
    with pytest.raises(MissingKeyError, match="LEDGER_MASTER_KEY"):
        Ledger(database_url)
    assert not (tmp_path / "missing.key").exists()  # no silent new key for old data
    monkeypatch.setenv("LEDGER_MASTER_KEY", MasterKey.generate().secret.hex())
    with Ledger(database_url) as ledger, pytest.raises(MissingKeyError, match="not configured"):
        list(ledger.export())


# --- nothing in plain text -----------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def _database_text(database_url: str) -> str:
    """Every value of every row of every table of the store, bytes decoded, as text."""
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as connection:
            tables = [
                r[0]
                for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            rows = [row for t in tables for row in connection.execute(f'SELECT * FROM "{t}"')]
    else:
        base, schema = database_url.split("?schema=")
        with psycopg.connect(base) as connection:
            tables = [r[0] for r in connection.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema]
            )]  # fmt: skip
            rows = [
                row for t in tables for row in connection.execute(f'SELECT * FROM "{schema}"."{t}"')
            ]
    assert len(tables) >= 8, tables
    return "\n".join(" ".join(_text(value) for value in row) for row in rows)


def test_the_scan_finds_plain_values_when_protection_is_off(database_url: str) -> None:
    """The scan below can fail: without keys, the same file is readable in the store."""
    with Ledger(database_url, protect=False) as ledger, read_models(database_url) as store:
        _import(ledger, private_file(uuid4()))
        ReadModelRunner(ledger, store, all_projections()).run()
    stored = _database_text(database_url)
    assert all(value in stored for value in PLAIN)


def test_stores_topics_and_logs_hold_no_plain_personal_or_medical_value(
    use_database: str, broker: Any, caplog: pytest.LogCaptureFixture, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from infra.kafka import KafkaSettings
    from services.workers.feed import Feed
    from tests.test_feed import read_topic

    caplog.set_level(logging.DEBUG)
    case_id = uuid4()
    with Ledger(use_database) as ledger:
        _import(ledger, private_file(case_id) + list(simulate(10, seed=4)))
    assert main(["project"]) == 0
    settings = KafkaSettings(
        bootstrap=broker.bootstrap, topic=f"priv-{uuid4().hex[:8]}", partitions=2
    )
    with Ledger(use_database) as ledger, read_models(use_database) as store:
        feed = Feed(ledger, store, settings, b"pseudonym-key")
        assert feed.publish().published > 10
        feed.close()
    with api(use_database) as client:  # every role reads the case: the access log grows
        for role in ("employer", "case_manager", "occupational_physician", "uwv_reviewer"):
            headers = auth(
                role, f"{role}-1", ["ER-P"] if role in ("employer", "case_manager") else None
            )
            assert client.get(f"/cases/{case_id}", headers=headers).status_code == 200
            client.get(f"/cases/{case_id}/timeline", headers=headers)
        body = {
            "employee_id": "EMP-PRIV-LOG-1",
            "employer_id": "ER-P",
            "first_sick_day": "2026-11-02",
        }
        assert client.post("/cases", json=body, headers=auth("admin")).status_code == 201
        bad = {"type": "MedicalNoteRecorded", "occurred_on": "2099-01-01", "data": {"note": NOTE}}
        client.post(f"/cases/{case_id}/events", json=bad, headers=auth("occupational_physician"))
    assert main(["retention", "--all"]) == 0
    capsys.readouterr()

    stored = _database_text(use_database)
    assert "ER-P" in stored  # the scan does see the rows
    messages = b"\n".join(m.value + (m.key or b"") for m in read_topic(settings)).decode()
    assert '"case_key"' in messages
    for value in (*PLAIN, "EMP-PRIV-LOG-1"):
        assert value not in stored, f"{value!r} stored in plain text"
        assert value not in messages, f"{value!r} on the Kafka topic"
        assert value not in caplog.text, f"{value!r} in the logs"


def test_the_served_api_logs_no_personal_value(tmp_path: Path) -> None:
    """`ledger serve` as run in production: its output, stderr included, has no person."""
    port = free_port()
    env = {**os.environ, "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'l.db'}",
           "LEDGER_JWT_KEY": "privacy-test-key-long-enough-for-hs256-0123",
           "LEDGER_MASTER_KEY_FILE": str(tmp_path / "master.key")}  # fmt: skip
    token = subprocess.run(
        [sys.executable, "-m", "services.cli", "token", "--role", "admin"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base)
        body = json.dumps({"employee_id": EMPLOYEE, "employer_id": "ER-P",
                           "first_sick_day": "2026-11-02"}).encode()  # fmt: skip
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        request = urllib.request.Request(f"{base}/cases", body, headers, method="POST")
        with urllib.request.urlopen(request, timeout=10) as answer:
            case_id = json.loads(answer.read())["case_id"]
        note = json.dumps({"type": "MedicalNoteRecorded", "occurred_on": "2026-11-03",
                           "data": {"note": NOTE}}).encode()  # fmt: skip
        request = urllib.request.Request(
            f"{base}/cases/{case_id}/events", note, headers, method="POST"
        )
        with pytest.raises(urllib.error.HTTPError):  # an admin may not write medical notes
            urllib.request.urlopen(request, timeout=10)
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=20)
    assert "serving" in output
    for value in (EMPLOYEE, NOTE):
        assert value not in output


# --- erasure -------------------------------------------------------------------------


def _dump(store: Any, tables: list[str]) -> dict[str, list[dict[str, Any]]]:
    return {
        t: sorted(store.query(f"SELECT * FROM {{{t}}}"), key=lambda r: json.dumps(r, default=str))
        for t in tables
    }


VIEWS = ["deadline", "trajectory", "sanction", "sick_spell"]
EVERY_READ_MODEL = [*VIEWS, "case_event", "case_state"]


def test_erasure_forgets_the_person_and_changes_no_deadline_or_statistic(
    use_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    case_id, other = uuid4(), uuid4()
    with Ledger(use_database) as ledger, read_models(use_database) as store:
        _import(ledger, private_file(case_id) + private_file(other)
                + list(simulate(30, seed=9)))  # fmt: skip
        runner = ReadModelRunner(ledger, store, all_projections())
        runner.run()
        before = _dump(store, VIEWS)
        state_before = {r["case_id"]: r for r in store.query("SELECT * FROM {case_state}")}
    assert before["deadline"]
    assert before["sick_spell"]

    erase = ["erase", *WHO, "--reference", "AVG-2026-0117", "--json"]
    assert main(erase) == 0
    done = json.loads(capsys.readouterr().out)
    assert sorted(done["cases"]) == sorted([str(case_id), str(other)])
    assert done["events_recorded"] == 2

    with Ledger(use_database) as ledger, read_models(use_database) as store:
        runner = ReadModelRunner(ledger, store, all_projections())
        runner.run()
        incremental = _dump(store, EVERY_READ_MODEL)
        state_after = {r["case_id"]: r for r in store.query("SELECT * FROM {case_state}")}
        runner.rebuild()  # every read model rebuilds from the events after the erasure
        assert _dump(store, EVERY_READ_MODEL) == incremental
        case = ledger.get_case(case_id)
        report = case.history[0]
        assert isinstance(report, ev.SicknessReported)
        assert report.employee_id == ev.Withheld(withheld="erased")
        assert case.file.erased_on == date.today()
        erased = case.history[-1]
        assert isinstance(erased, ev.PersonalDataErased)
        assert (erased.ground, erased.actor.role) == (
            ev.ErasureGround.ERASURE_REQUEST,
            ev.ActorRole.SYSTEM,
        )
    for view in VIEWS:
        assert incremental[view] == before[view], view
    for key, row in state_before.items():  # the same, but for the erasure itself
        changed = {k for k in row if row[k] != state_after[key][k]}
        assert changed <= ({"version", "erased_on"} if key in (str(case_id), str(other)) else set())

    assert main(["export"]) == 0
    exported = capsys.readouterr().out
    for value in PLAIN:
        assert value not in exported
    assert '"employee_id":{"withheld":"erased"}' in exported
    assert main(["case", str(case_id), "--json"]) == 0
    assert EMPLOYEE not in capsys.readouterr().out
    assert main(["case", str(case_id), "--timeline", "--json"]) == 0
    assert FREE_TEXT not in capsys.readouterr().out
    pack = Path(use_database.split("///")[-1]).parent if "sqlite" in use_database else None
    folder = (pack or Path("/tmp")) / f"pack-{uuid4().hex[:6]}"
    assert main(["review-pack", "--case", str(case_id), "--out", str(folder)]) == 0
    for written in folder.iterdir():
        text = (subprocess.run(["pdftotext", str(written), "-"], capture_output=True, text=True,
                               check=True).stdout if written.suffix == ".pdf"
                else written.read_text())  # fmt: skip
        for value in PLAIN:
            assert value not in text

    with api(use_database) as client:
        physician = auth("occupational_physician", "op-7")
        timeline = client.get(f"/cases/{case_id}/timeline", headers=physician).json()
        notes = [e["data"]["note"] for e in timeline if e["type"] == "MedicalNoteRecorded"]
        assert notes == [{"withheld": "erased"}]  # not even the physician: the key is gone
        body = client.get(f"/cases/{case_id}", headers=auth("admin")).json()
        assert body["state"]["employee_id"] == {"withheld": "erased"}
        again = {"employee_id": EMPLOYEE, "employer_id": "ER-P", "first_sick_day": "2026-11-02"}
        reported = client.post("/cases", json=again, headers=auth("admin"))
        assert reported.status_code == 201  # a new report is a new person to the ledger
        assert reported.json()["case_id"] not in (str(case_id), str(other))

    assert main(["erase", "--employee", "NOBODY-1", "--employer", "ER-P", "--reference", "x"]) == 1
    assert "no employee 'NOBODY-1' of employer 'ER-P'" in capsys.readouterr().err


def test_erasure_then_verify_passes(
    use_database: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """The verifiable log commits to ciphertext as stored: shredding keys changes no leaf."""
    monkeypatch.setenv("LEDGER_SIGNING_KEY_FILE", str(tmp_path / "signing.key"))
    with Ledger(use_database) as ledger:
        _import(ledger, private_file(uuid4()) + list(simulate(5, seed=2)))
        states_before = [n.state for n in ledger.recorder.select_notifications(0, 10_000)]
    assert main(["checkpoint"]) == 0
    assert main(["erase", *WHO, "--reference", "AVG-1"]) == 0
    assert main(["checkpoint"]) == 0
    capsys.readouterr()
    assert main(["verify", "--json"]) == 0, capsys.readouterr().err
    with Ledger(use_database) as ledger:
        states_after = [n.state for n in ledger.recorder.select_notifications(0, 10_000)]
    assert states_after[: len(states_before)] == states_before  # no stored event changed


def test_erasure_waits_for_a_legal_hold_to_be_lifted(database_url: str) -> None:
    case_id = uuid4()
    hold = line(case_id, "LegalHoldPlaced", FIRST + timedelta(days=100),
                actor=("system", "admin"), reason="objection 2024-311 pending")  # fmt: skip
    with Ledger(database_url) as ledger:
        _import(ledger, [*private_file(case_id), hold])
        assert ledger.get_case(case_id).file.legal_hold
        with pytest.raises(ErasureError, match="legal hold"):
            erase_employee(ledger, EMPLOYEE, employer_id="ER-P",
                           ground=ev.ErasureGround.ERASURE_REQUEST, reference="AVG-1",
                           actor=ADMIN_ACTOR)  # fmt: skip
        assert ledger.keys is not None
        assert ledger.keys.find_subject(EMPLOYEE, "ER-P") is not None  # nothing was destroyed
        lifted = line(case_id, "LegalHoldLifted", FIRST + timedelta(days=300),
                      actor=("system", "admin"), reason="objection decided")  # fmt: skip
        _import(ledger, [lifted])
        done = erase_employee(ledger, EMPLOYEE, employer_id="ER-P",
                              ground=ev.ErasureGround.ERASURE_REQUEST, reference="AVG-1",
                              actor=ADMIN_ACTOR)  # fmt: skip
        assert done.keys_destroyed == 1


# --- retention -----------------------------------------------------------------------


def test_retention_lists_and_erases_only_files_two_years_after_they_ended(
    use_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rules reference s5: at most two years after re-integration ends; a legal hold keeps
    the file. Each file is judged on its own: the employee's running file stays."""
    ended, running, held = uuid4(), uuid4(), uuid4()
    hold = line(held, "LegalHoldPlaced", FIRST + timedelta(days=200),
                actor=("system", "admin"), reason="expert opinion dispute")  # fmt: skip
    later = date(2026, 9, 1)
    still_sick = [line(running, "SicknessReported", later, employee_id=EMPLOYEE,
                       employer_id="ER-P", first_sick_day=later)]  # fmt: skip
    with Ledger(use_database) as ledger:
        _import(ledger, private_file(ended) + still_sick + private_file(held, "EMP-HELD") + [hold])

    assert main(["retention", "--on", "2026-04-11", "--json", "--all"]) == 0
    early = json.loads(capsys.readouterr().out)  # closed 2024-04-12: due from 2026-04-12
    assert (early["files"], early["due"]) == (3, 0)
    blocked = sorted(f["blocked_by"] for f in early["listed"])
    assert blocked == ["legal_hold", "retention", "running"]

    assert main(["retention", "--on", "2026-04-12", "--json"]) == 0
    due = json.loads(capsys.readouterr().out)
    assert due["due"] == 1
    assert due["listed"][0]["case_id"] == str(ended)
    assert due["erased"] == []  # listing erases nothing
    assert main(["retention", "--on", "2099-01-01", "--apply"]) == 1  # not ahead of time
    assert "today or an earlier day" in capsys.readouterr().err

    assert main(["retention", "--on", "2026-04-12", "--apply", "--json"]) == 0
    applied = json.loads(capsys.readouterr().out)
    assert [e["cases"] for e in applied["erased"]] == [[str(ended)]]
    with Ledger(use_database) as ledger:
        erasure = ledger.get_case(ended).history[-1]
        assert isinstance(erasure, ev.PersonalDataErased)
        assert erasure.ground is ev.ErasureGround.RETENTION_ENDED
        assert erasure.reference == "retention-2y-ended-2026-04-12"
        assert ledger.keys is not None
        assert ledger.keys.find_subject("EMP-HELD", "ER-P") is not None
        assert ledger.keys.find_subject(EMPLOYEE, "ER-P") is not None  # the running file needs it
        assert ledger.employee_ids([ended, running]) == {
            ended: ev.Withheld(withheld="erased"),
            running: EMPLOYEE,
        }
    assert main(["retention", "--on", "2026-04-12", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["due"] == 0  # done; nothing twice


def test_an_erasure_request_waits_while_the_law_needs_the_file(database_url: str) -> None:
    """Art. 17(3)(b) AVG: a running file, or one recovered less than 28 days ago (a relapse
    continues it, art. 7:629 lid 10 BW), is kept; the refusal erases nothing."""
    running, recent = uuid4(), uuid4()
    today = date.today()
    recovered = [
        line(recent, "SicknessReported", today - timedelta(days=40), employee_id="EMP-R",
             employer_id="ER-P", first_sick_day=today - timedelta(days=40)),
        line(recent, "RecoveryReported", today - timedelta(days=10)),
    ]  # fmt: skip
    with Ledger(database_url) as ledger:
        _import(ledger, private_file(running, closed=False)[:4] + recovered)
        for employee, reason in ((EMPLOYEE, "still running"), ("EMP-R", "relapse within 28")):
            with pytest.raises(ErasureError, match=reason):
                erase_employee(ledger, employee, employer_id="ER-P",
                               ground=ev.ErasureGround.ERASURE_REQUEST, reference="AVG-2",
                               actor=ADMIN_ACTOR)  # fmt: skip
            assert ledger.keys is not None
            assert ledger.keys.find_subject(employee, "ER-P") is not None
        assert ledger.employee_ids([running, recent]) == {running: EMPLOYEE, recent: "EMP-R"}


def test_a_running_server_sees_an_erasure_by_another_process_at_once(
    use_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    case_id = uuid4()
    lines = private_file(case_id)
    with Ledger(use_database) as ledger:
        _import(ledger, lines)
    admin = auth("admin")
    with api(use_database) as client:
        assert EMPLOYEE in client.get("/export", headers=admin).text  # keys cached now
        assert main(["erase", *WHO, "--reference", "AVG-3"]) == 0
        exported = client.get("/export", headers=admin).text
        assert EMPLOYEE not in exported
        assert FREE_TEXT not in exported
        retract = {"type": "EventRetracted", "occurred_on": "2024-04-12",
                   "data": {"retracts": lines[1]["event_id"],
                            "reason": "typed about dr Jansen's patient"}}  # fmt: skip
        answer = client.post(f"/cases/{case_id}/events", json=retract, headers=admin)
        assert answer.status_code == 201, answer.text  # recorded; its free text is not kept
        timeline = client.get(f"/cases/{case_id}/timeline", headers=admin).json()
        (retraction,) = [e for e in timeline if e["event_id"] == answer.json()["event_id"]]
        assert retraction["data"]["reason"] == {"withheld": "erased"}
    assert "dr Jansen" not in _database_text(use_database)


def test_imports_over_http_record_only_what_the_caller_may(use_database: str) -> None:
    case_id = uuid4()
    body = jsonl(private_file(case_id))  # holds the physician's MedicalNoteRecorded
    with api(use_database) as client:
        answer = client.post("/events:import", content=body, headers=auth("admin"))
        assert answer.status_code == 403
        assert "line 3" in answer.json()["detail"]
        assert "MedicalNoteRecorded" in answer.json()["detail"]
        assert client.get("/export", headers=auth("admin")).text == ""  # nothing stored


def test_idempotency_rows_keep_a_keyed_digest_not_a_plain_hash(use_database: str) -> None:
    import hashlib

    body = {"employee_id": EMPLOYEE, "employer_id": "ER-P", "first_sick_day": "2026-11-02"}
    with api(use_database) as client:
        headers = {**auth("admin"), "Idempotency-Key": "k-1"}
        assert client.post("/cases", json=body, headers=headers).status_code == 201
    with read_models(use_database) as store:
        (row,) = store.query("SELECT request_hash FROM {idempotency_key}")
    plain = json.dumps(["POST /cases", body], sort_keys=True, default=str)
    assert row["request_hash"] != hashlib.sha256(plain.encode()).hexdigest()


# --- rotation ------------------------------------------------------------------------


@pytest.fixture
def own_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "master.key"
    monkeypatch.setenv("LEDGER_MASTER_KEY_FILE", str(path))
    return path


def test_rotation_rewraps_the_keys_and_touches_no_event(
    use_database: str, own_key_file: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    with Ledger(use_database) as ledger:
        _import(ledger, private_file(uuid4()) + private_file(uuid4(), "EMP-2"))
        stored = [(n.id, n.state) for n in ledger.recorder.select_notifications(0, 1000)]
    (old,) = configured_master_keys()
    running = Ledger(use_database)  # a server that started before the rotation
    try:
        assert any(EMPLOYEE in json.dumps(item) for item in running.export())
        assert main(["keys", "rotate", "--new", "--json"]) == 0
        new, _ = configured_master_keys()
        assert json.loads(capsys.readouterr().out)["in_use"] == [new.id]
        assert running.keys is not None
        running.keys.refresh()  # as every request does: the changed key file is read
        running.keys.forget()
        assert any(EMPLOYEE in json.dumps(item) for item in running.export())
        _import(running, private_file(uuid4(), "EMP-3"))  # wrapped under the new key
        assert main(["keys", "retire", "--json"]) == 0
        status = json.loads(capsys.readouterr().out)
        assert status == {"configured": [new.id], "current": new.id, "in_use": [new.id]}
    finally:
        running.close()
    assert new.id != old.id
    with Ledger(use_database) as ledger:
        notifications = ledger.recorder.select_notifications(0, 1000)
        assert [(n.id, n.state) for n in notifications][: len(stored)] == stored
        assert sum("EMP-" in json.dumps(item) for item in ledger.export()) == 3

    monkeypatch.setenv("LEDGER_MASTER_KEY", old.secret.hex())  # the retired key opens nothing
    with Ledger(use_database) as ledger, pytest.raises(MissingKeyError, match=new.id):
        list(ledger.export())


def test_a_rotation_racing_an_erasure_does_not_bring_keys_back(database_url: str) -> None:
    with read_models(database_url) as store:
        keys = KeyRing(store, [MasterKey.generate()])
        case_id = uuid4()
        keys.open_files([(case_id, keys.subject_for(EMPLOYEE, "ER-P"))])
        (row,) = store.query("SELECT * FROM {file_key}")
        keys.erase_files([case_id])  # lands between the rotation's read and its write
        new = MasterKey.generate()
        keys.masters = [new, *keys.masters]
        store.write_many(
            "UPDATE {file_key} SET personal = ?, medical = ?, master_key_id = ? "
            "WHERE case_id = ? AND master_key_id = ? AND erased_at IS NULL",
            [keys._rewrapped(row, new)],
        )
        (after,) = store.query("SELECT personal, medical FROM {file_key}")
        assert after == {"personal": None, "medical": None}


# --- rules ---------------------------------------------------------------------------


def test_personal_fields_are_not_corrected_in_place_nor_withheld_values_recorded(
    database_url: str,
) -> None:
    case_id = uuid4()
    lines = private_file(case_id, closed=False)
    suspended = lines[3]
    with Ledger(database_url) as ledger:
        _import(ledger, lines)
        case = ledger.get_case(case_id)
        with pytest.raises(Exception, match="protected_fields_not_corrected_in_place"):
            case.record(ev.EventCorrected, event_id=uuid4(), occurred_on=date(2024, 6, 1),
                        actor=ADMIN_ACTOR, corrects=UUID(suspended["event_id"]), reason="typo",
                        corrected_data={"reason": "another text"})  # fmt: skip
        with pytest.raises(Exception, match="withheld_values_cannot_be_recorded"):
            case.record(ev.MedicalNoteRecorded, event_id=uuid4(), occurred_on=date(2024, 6, 1),
                        actor=ADMIN_ACTOR, note=ev.Withheld(withheld="medical"))  # fmt: skip


def test_erasure_cannot_be_imported_or_posted(
    use_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case_id = uuid4()
    lines = private_file(case_id)
    erased = line(case_id, "PersonalDataErased", FIRST + timedelta(days=200),
                  actor=("system", "admin"), ground="erasure_request", reference="x")  # fmt: skip
    lines.append(erased)
    source = tmp_path / "in.jsonl"
    source.write_text(jsonl(lines))
    assert main(["import", str(source)]) == 1
    assert "personal_data_erased_only_by_erase" in capsys.readouterr().err
    with api(use_database) as client:
        new = {"employee_id": "E-9", "employer_id": "ER-P", "first_sick_day": "2026-11-02"}
        reported = client.post("/cases", json=new, headers=auth("admin"))
        body = {"type": "PersonalDataErased", "occurred_on": "2026-11-03",
                "data": {"ground": "erasure_request", "reference": "x"}}  # fmt: skip
        answer = client.post(f"/cases/{reported.json()['case_id']}/events", json=body,
                             headers=auth("admin"))  # fmt: skip
        assert answer.status_code == 403
        assert "PersonalDataErased" in answer.json()["detail"]


# --- field visibility by role, through HTTP ------------------------------------------------

ROLES = {
    "employer": auth("employer", "er-p", ["ER-P"]),
    "case_manager": auth("case_manager", "cm-p", ["ER-P"]),
    "occupational_physician": auth("occupational_physician", "op-7"),
    "uwv_reviewer": auth("uwv_reviewer", "uwv-1"),
    "analyst": auth("analyst", "an-1"),
    "admin": auth("admin", "root"),
}
ENDPOINTS = [
    "/cases/{case}",
    "/cases/{case}/timeline",
    "/cases/{case}/deadlines",
    "/cases/{case}/access-log",
    "/cases/{case}/review-pack",
    "/cases/{case}/review-pack?format=html",
    "/deadlines?employer=ER-P",
    "/export",
    "/stats/second-track",
    "/stats/sanctions",
    "/ui/cases/{case}",
    "/",
    "/ui/statistics",
]
# Where the physician reads the note: the case, its timeline, the case page.
NOTE_SHOWN = {"/cases/{case}", "/cases/{case}/timeline", "/ui/cases/{case}"}


@pytest.fixture(scope="module")
def medical_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('medical') / 'ledger.db'}"
    case_id = uuid4()
    with Ledger(url) as ledger:
        _import(ledger, private_file(case_id, closed=False) + list(simulate(12, seed=5)))
    with api(url) as client:
        yield client, str(case_id)


@pytest.mark.parametrize("role", list(ROLES))
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_only_the_physician_receives_the_medical_note(
    medical_world: tuple[Any, str], role: str, endpoint: str
) -> None:
    """Rules reference s5: medical data only reachable by the occupational physician; the
    employer never receives it; the analyst sees aggregates only, never a person."""
    client, case_id = medical_world
    path = endpoint.format(case=case_id)
    if path.startswith("/ui") or path == "/":
        client.cookies.clear()
        client.post("/ui/login", data={"token": ROLES[role]['Authorization'].split()[1]})
        answer = client.get(path)
    else:
        answer = client.get(path, headers=ROLES[role])
    assert answer.status_code < 500, answer.text
    body = answer.text
    if role == "occupational_physician" and endpoint in NOTE_SHOWN:
        assert answer.status_code == 200
        assert NOTE in body or NOTE.replace(",", "&#44;") in body
    else:
        assert NOTE not in body
    if role == "analyst":
        assert EMPLOYEE not in body
        assert FREE_TEXT not in body
        if endpoint.startswith("/cases") or endpoint in ("/export", "/deadlines?employer=ER-P"):
            assert answer.status_code == 403


def test_medical_notes_are_recorded_by_the_physician_only(medical_world: tuple[Any, str]) -> None:
    client, case_id = medical_world
    body = {"type": "MedicalNoteRecorded", "occurred_on": "2024-03-01", "data": {"note": NOTE}}
    for role, status in (("employer", 403), ("case_manager", 403), ("admin", 403),
                         ("uwv_reviewer", 403), ("occupational_physician", 201)):  # fmt: skip
        answer = client.post(f"/cases/{case_id}/events", json=body, headers=ROLES[role])
        assert answer.status_code == status, (role, answer.text)
    timeline = client.get(f"/cases/{case_id}/timeline", headers=ROLES["employer"]).json()
    notes = [e["data"]["note"] for e in timeline if e["type"] == "MedicalNoteRecorded"]
    assert notes == [{"withheld": "medical"}] * 2
