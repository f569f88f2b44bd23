"""`ledger project` as an operator runs it: catch up, status, rebuild, follow."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from services.cli import main
from services.tools.simulate import simulate
from tests.factories import import_via_cli


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def _population(cases: int, seed: int) -> list[dict[str, Any]]:
    return list(simulate(cases, seed=seed))


def test_catch_up_status_and_rebuild(
    use_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _population(30, seed=1)
    assert import_via_cli(tmp_path, first) == 0
    ran = _json(capsys, "project", "--json", "--quiet")
    assert ran["events"] == len(first)
    status = _json(capsys, "project", "--status", "--json")
    assert {row["projection"] for row in status} == {
        "case_state",
        "deadlines",
        "event_index",
        "statistics",
    }
    assert {row["behind"] for row in status} == {0}

    second = _population(10, seed=2)
    assert import_via_cli(tmp_path, second) == 0
    behind = _json(capsys, "project", "--status", "--json")
    assert {row["behind"] for row in behind} == {len(second)}
    assert _json(capsys, "project", "--json", "--quiet")["events"] == len(second)

    capsys.readouterr()
    assert main(["project", "--rebuild"]) == 0
    out, err = capsys.readouterr()
    assert f"applied {len(first) + len(second):,} events" in out
    assert "rebuild: notification" in err
    assert "(100.0 %)" in err


def test_unknown_read_model_is_a_usage_error(
    use_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["project", "--only", "case_state", "nonsense"]) == 2
    err = capsys.readouterr().err
    assert "unknown projection nonsense" in err
    assert "known: case_state, deadlines, event_index" in err


def _wait_until_caught_up(capsys: pytest.CaptureFixture[str], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if {row["behind"] for row in _json(capsys, "project", "--status", "--json")} == {0}:
            return True
        time.sleep(0.2)
    return False


def test_follow_applies_new_events_until_stopped(
    use_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert import_via_cli(tmp_path, _population(5, seed=3)) == 0
    follower = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "project", "--follow", "--poll", "0.1", "--json"],
        env={**os.environ, "LEDGER_DATABASE_URL": use_database},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        caught_up = _wait_until_caught_up(capsys, 30)
        more = _population(8, seed=4)
        assert import_via_cli(tmp_path, more) == 0
        caught_up = caught_up and _wait_until_caught_up(capsys, 30)
    finally:
        follower.send_signal(signal.SIGTERM)
        out, err = follower.communicate(timeout=30)
    assert caught_up, f"the follower did not catch up; it said:\n{err}"
    assert follower.returncode == 0, err
    applied = [json.loads(text)["events"] for text in out.splitlines()]
    assert sum(applied[1:]) == len(more)
    assert "following the log" in err
    assert "stopped" in err


def test_a_runner_killed_mid_replay_resumes_without_loss_or_duplicates(
    use_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from projections.catalogue import all_projections
    from projections.event_index import EventIndexProjection
    from services.schema import side_store as read_models
    from tests.test_projection_runner import dump

    events = _population(800, seed=9)
    assert import_via_cli(tmp_path, events) == 0
    runner = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "project", "--rebuild", "--replay",
         "--page-size", "5", "-q"],
        env={**os.environ, "LEDGER_DATABASE_URL": use_database},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with read_models(use_database) as store:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (
            store.position(EventIndexProjection().tracking_name) or 0
        ):
            time.sleep(0.01)
        runner.send_signal(signal.SIGKILL)  # no clean-up of any kind
        runner.wait(timeout=30)
        killed_at = store.position(EventIndexProjection().tracking_name) or 0
        assert 0 < killed_at < len(events), "the runner should be killed part-way"

        assert main(["project", "--quiet"]) == 0
        resumed = dump(store, all_projections())
        assert len(resumed["case_event"]) == len(events)  # the key refuses a duplicate
        assert main(["project", "--rebuild", "--quiet"]) == 0
        assert dump(store, all_projections()) == resumed
