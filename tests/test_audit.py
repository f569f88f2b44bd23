"""The verifiable log: Merkle proofs (RFC 9162) checked by the standalone verifier,
and tampering with a real PostgreSQL store caught and named by `ledger verify`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from domain.merkle import consistency_proof, inclusion_proof, leaf_hash, node_hash, root
from infra.audit import AuditLog, signing_key
from infra.service_tables import CASE_ACCESS, record_access
from services.application.importer import import_lines, numbered
from services.application.ledger import Ledger
from services.cli import main
from services.schema import side_store as read_models
from services.tools import verify_bundle as verifier
from services.tools.simulate import simulate
from tests.figures import record

LEAVES = [leaf_hash(f"event {n}".encode()) for n in range(21)]


def _recursive_root(leaves: list[bytes]) -> bytes:
    """RFC 9162's definition, literally."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(_recursive_root(leaves[:k]), _recursive_root(leaves[k:]))


def test_the_tree_is_rfc_9162s() -> None:
    assert root([]) == hashlib.sha256(b"").digest()
    for n in range(1, len(LEAVES) + 1):
        assert root(LEAVES[:n]) == _recursive_root(LEAVES[:n])


def test_every_inclusion_and_consistency_proof_verifies_independently() -> None:
    for n in range(1, len(LEAVES) + 1):
        head = root(LEAVES[:n])
        for i in range(n):
            proof = inclusion_proof(i, LEAVES[:n])
            assert verifier.verify_inclusion(i, n, LEAVES[i], proof, head)
            assert not verifier.verify_inclusion(i, n, LEAVES[(i + 1) % 21], proof, head)
            if proof:
                bent = [bytes(32), *proof[1:]]
                assert not verifier.verify_inclusion(i, n, LEAVES[i], bent, head)
        for m in range(1, n):
            proof = consistency_proof(m, LEAVES[:n])
            assert verifier.verify_consistency(m, n, root(LEAVES[:m]), head, proof)
            rewritten = [leaf_hash(b"forged"), *LEAVES[1:m]]  # a hostile ledger's history
            assert not verifier.verify_consistency(m, n, root(rewritten), head, proof)


@pytest.fixture
def audited(
    postgres_schema_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> tuple[str, UUID]:
    """A PostgreSQL ledger with 30 simulated cases and a signed checkpoint."""
    monkeypatch.setenv("LEDGER_DATABASE_URL", postgres_schema_url)
    monkeypatch.setenv("LEDGER_SIGNING_KEY", hashlib.sha256(b"test signing key").hexdigest())
    with Ledger(postgres_schema_url) as ledger:
        import_lines(ledger, numbered([json.dumps(x) for x in simulate(30, seed=8)]))
        case_id = UUID(str(ledger.recorder.select_notifications(5, 1)[0].originator_id))
        with read_models(postgres_schema_url) as store:
            store.create_tables([CASE_ACCESS])
            for who in ("uwv-1", "op-2", "cm-3"):  # three reads of the case, then signed
                record_access(store, who, "uwv_reviewer", case_id, "read case")
    assert main(["checkpoint"]) == 0
    return postgres_schema_url, case_id


def _sql(url: str, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
    base, schema = url.split("?schema=")
    with psycopg.connect(base, autocommit=False) as connection:
        for statement, params in statements:
            connection.execute(statement.replace("{s}", f'"{schema}"'), params)
        connection.commit()


# A forged copy of a stored state under an event id of its own (%s): the store keeps event
# ids unique (issue 19), so a plain copy would be refused before verify sees it.
FORGED_ID = "overlay(state placing %s from position('\"event_id\":\"'::bytea in state) + 12 for 36)"
TAMPERING: dict[str, list[tuple[str, tuple[Any, ...]]]] = {
    "modified": [("UPDATE {s}.ledger_events SET state = set_byte(state, 20, "
                  "(get_byte(state, 20) + 1) %% 256) WHERE notification_id = 6", ())],
    "missing": [("DELETE FROM {s}.ledger_events WHERE notification_id = 6", ())],
    "reordered": [
        ("UPDATE {s}.ledger_events SET notification_id = -1 WHERE notification_id = 6", ()),
        ("UPDATE {s}.ledger_events SET notification_id = 6 WHERE notification_id = 7", ()),
        ("UPDATE {s}.ledger_events SET notification_id = 7 WHERE notification_id = -1", ()),
    ],
    "inserted": [("INSERT INTO {s}.ledger_events (originator_id, originator_version, topic, "
                  "state, notification_id) SELECT %s, 1, topic, " + FORGED_ID + ", 0 "
                  "FROM {s}.ledger_events WHERE notification_id = 1",
                  (uuid4(), str(uuid4()).encode()))],
    "checkpoint": [("UPDATE {s}.audit_checkpoint_v3 SET root = %s WHERE seq = 1", ("00" * 32,))],
    "access changed": [("UPDATE {s}.case_access_v2 SET subject = 'nobody' WHERE seq = 2", ())],
    "access removed": [("DELETE FROM {s}.case_access_v2 WHERE seq = 3", ())],
}  # fmt: skip
TAMPERED = {  # what each kind did, for the figures of `make attack`
    "modified": "an event's stored state modified",
    "missing": "an event deleted",
    "reordered": "two events' positions swapped",
    "inserted": "an event inserted",
    "checkpoint": "a signed checkpoint's root altered",
    "access changed": "an access-log record altered",
    "access removed": "an access-log record deleted",
}
EXPECTED = {
    "modified": "position 5: modified",
    "missing": "position 5: missing",
    "reordered": "position 5: reordered",
    "inserted": "position 0: inserted",
    "checkpoint": "checkpoint 1: signature invalid",
    "access changed": "access log: record 2 was changed",
    "access removed": "access log: record 3, signed in checkpoint 1, is missing or changed",
}


@pytest.mark.parametrize("kind", list(TAMPERING))
def test_ledger_verify_catches_and_names_each_kind_of_tampering(
    audited: tuple[str, UUID], kind: str, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    url, case_id = audited
    assert main(["verify"]) == 0
    bundle = tmp_path / "before.json"
    assert main(["proof", "--case", str(case_id), "--out", str(bundle)]) == 0
    capsys.readouterr()

    _sql(url, TAMPERING[kind])
    assert main(["verify"]) == 1
    err = capsys.readouterr().err
    assert EXPECTED[kind] in err
    record(request.node, tampering_found=TAMPERED[kind])
    if kind in ("modified", "missing", "reordered", "inserted"):
        assert "checkpoint 1: " in err  # the signed root no longer matches the store

    key = signing_key().public_key().public_bytes_raw().hex()
    after = tmp_path / "after.json"
    if kind.startswith("access"):
        assert main(["proof", "--case", str(case_id), "--out", str(after)]) == 0
    elif main(["proof", "--case", str(case_id), "--out", str(after)]) == 0:
        assert verifier.main([str(after), "--public-key", key]) == 1  # the reviewer refuses
        assert "REFUSED" in capsys.readouterr().err
    assert verifier.main([str(bundle), "--public-key", key]) == 0  # made before: still true


def test_the_verifier_refuses_altered_bundles_and_rewritten_history(
    audited: tuple[str, UUID], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:  # fmt: skip
    url, case_id = audited
    key = signing_key().public_key().public_bytes_raw().hex()
    good = tmp_path / "case.json"
    assert main(["proof", "--case", str(case_id), "--out", str(good)]) == 0
    assert verifier.main([str(good), "--public-key", key]) == 0
    bundle = json.loads(good.read_text())

    def refused(changed: dict[str, Any], pinned: str = key) -> bool:
        path = tmp_path / f"{uuid4().hex}.json"
        path.write_text(json.dumps(changed))
        return verifier.main([str(path), "--public-key", pinned]) == 1

    proof_altered = json.loads(json.dumps(bundle))
    first = next(e for e in proof_altered["events"] if e["proof"])
    first["proof"][0] = "11" * 32
    assert refused(proof_altered)
    signature_altered = json.loads(json.dumps(bundle))
    signature_altered["checkpoint"]["tree_size"] += 1
    assert refused(signature_altered)
    assert refused(bundle, pinned="ab" * 32)  # someone else's key
    for kind in ("an inclusion proof altered", "a checkpoint altered", "signed by another key"):
        record(request.node, tampering_found=f"a reviewer's bundle: {kind}")

    # A hostile operator (holding the key) rewrites an early event, rebuilds the tree
    # and signs a new checkpoint: the consistency proof gives it away.
    _sql(url, TAMPERING["modified"])
    _sql(url, [("DELETE FROM {s}.audit_leaf", ())])
    with Ledger(url) as ledger, read_models(url) as store:
        AuditLog(ledger.recorder, store, signing_key()).checkpoint()
    capsys.readouterr()
    consistency = tmp_path / "consistency.json"
    assert main(["proof", "--consistency", "1", "2", "--out", str(consistency)]) == 0
    assert verifier.main([str(consistency), "--public-key", key]) == 1
    assert "history was rewritten" in capsys.readouterr().err
    record(request.node, tampering_found="history rewritten and signed again by the operator")


def test_checkpoints_at_an_interval(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    env = {**os.environ, "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
           "LEDGER_SIGNING_KEY": hashlib.sha256(b"interval").hexdigest()}  # fmt: skip
    signer = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "checkpoint", "--every", "0.2", "--json"],
        env=env, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert signer.stdout is not None
    seqs = [json.loads(signer.stdout.readline())["seq"] for _ in range(3)]
    signer.send_signal(signal.SIGTERM)
    assert signer.wait(timeout=20) == 0
    assert seqs == [1, 2, 3]


def test_the_right_edge_gives_the_same_head_as_the_whole_tree() -> None:
    from domain.merkle import extend, frontier_root

    edge: list[tuple[int, bytes]] = []
    for n, leaf in enumerate(LEAVES, start=1):
        edge = extend(edge, [leaf])
        assert frontier_root(edge) == root(LEAVES[:n])
    assert frontier_root(extend(extend([], LEAVES[:7]), LEAVES[7:])) == root(LEAVES)


def test_review_findings_on_verify(
    audited: tuple[str, UUID], capsys: pytest.CaptureFixture[str]
) -> None:
    """A row forged far below the first id, checkpoints deleted (or replaced: caught with
    --expect), and a changed audit_leaf row named as such; the signer can be pinned."""
    url, _case_id = audited
    key = signing_key().public_key().public_bytes_raw().hex()
    assert main(["checkpoint"]) == 0
    first = json.loads(_checkpoints(url)[0])
    capsys.readouterr()
    assert main(["verify", "--public-key", key, "--expect", f"1:{first['root']}"]) == 0
    assert main(["verify", "--public-key", key.upper()]) == 0  # hex in either case
    assert main(["verify", "--public-key", "ab" * 32]) == 1
    assert "signature invalid" in capsys.readouterr().err

    _sql(url, [("UPDATE {s}.audit_leaf SET leaf_hash = %s WHERE position = 5", ("00" * 32,))])
    assert main(["verify"]) == 1
    assert "audit_leaf row 5 changed (the events match every signed root)" in (
        capsys.readouterr().err
    )
    _sql(url, [("DELETE FROM {s}.audit_checkpoint_v3 WHERE seq = 1", ())])
    assert main(["verify", "--expect", f"1:{first['root']}"]) == 1
    err = capsys.readouterr().err
    assert "checkpoint(s) 1 deleted" in err
    assert "checkpoint 1: not the one published" in err
    _sql(url, [
        ("INSERT INTO {s}.ledger_events (originator_id, originator_version, topic, state, "
         "notification_id) SELECT originator_id, 99, topic, " + FORGED_ID + ", %s "
         "FROM {s}.ledger_events WHERE notification_id = 1",
         (str(uuid4()).encode(), -(2**62))),
    ])  # fmt: skip
    assert main(["verify"]) == 1
    assert "inserted: a row with notification id" in capsys.readouterr().err


def _checkpoints(url: str) -> list[str]:
    base, schema = url.split("?schema=")
    with psycopg.connect(base) as connection:
        rows = connection.execute(
            f'SELECT row_to_json(c)::text FROM "{schema}".audit_checkpoint_v3 c ORDER BY seq'
        ).fetchall()
    return [r[0] for r in rows]


def test_the_verifier_refuses_bundles_that_prove_something_else(
    audited: tuple[str, UUID], tmp_path: Path
) -> None:
    url, case_id = audited
    key = signing_key().public_key().public_bytes_raw().hex()
    path = tmp_path / "case.json"
    assert main(["proof", "--case", str(case_id), "--out", str(path)]) == 0
    bundle = json.loads(path.read_text())
    with Ledger(url) as ledger:
        other = next(n.originator_id for n in ledger.recorder.select_notifications(0, 500)
                     if n.originator_id != case_id)  # fmt: skip
    other_path = tmp_path / "other.json"
    assert main(["proof", "--case", str(other), "--out", str(other_path)]) == 0
    stranger = json.loads(other_path.read_text())["events"][0]

    def refused(change: Any) -> bool:
        altered = json.loads(json.dumps(bundle))
        change(altered)
        target = tmp_path / f"{uuid4().hex}.json"
        target.write_text(json.dumps(altered))
        return verifier.main([str(target), "--public-key", key]) == 1

    assert refused(lambda b: b["events"].append(stranger))  # another case's event
    assert refused(lambda b: b.update(events=[]))
    assert refused(lambda b: b["events"].append(b["events"][0]))  # an event twice
    assert refused(lambda b: b["events"].pop(0))  # version 1 left out
    assert refused(lambda b: b["events"][0].update(index=b["events"][0]["index"] - 2**64))
    assert refused(lambda b: b["events"][0].update(index=b["events"][0]["index"] + 0.5))
    assert refused(lambda b: b["checkpoint"].update(seq=999))  # seq is signed


def test_concurrent_reads_all_land_in_one_unbroken_access_chain(postgres_schema_url: str) -> None:
    """Review finding: 32 concurrent readers lost reads (500s) on PostgreSQL."""
    import threading

    from infra.service_tables import verify_access_chain

    with read_models(postgres_schema_url) as store:
        store.create_tables([CASE_ACCESS])
        failures: list[BaseException] = []

        def read(n: int) -> None:
            try:
                for _ in range(15):
                    record_access(store, f"reader-{n}", "uwv_reviewer", uuid4(), "read case")
            except BaseException as error:
                failures.append(error)

        threads = [threading.Thread(target=read, args=(n,)) for n in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        assert store.query("SELECT COUNT(*) AS n FROM {case_access}")[0]["n"] == 16 * 15
        assert verify_access_chain(store) == []
