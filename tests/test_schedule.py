"""`ledger schedule` runs checkpoints and retention at their times, each slot once across
restarts and schedulers; `ledger health` is the containers' health check."""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.bootstrap import bootstrap
from services.cli import main
from services.workers.scheduler import Scheduler, Timing, parse_jobs
from tests.api_support import free_port
from tests.processes import Process, Server, environment

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def test_slots_of_each_timing() -> None:
    now = datetime(2026, 12, 3, 1, 10, 7, tzinfo=UTC)  # 02:10 in Amsterdam (CET)
    assert Timing.parse("every:300").latest_slot(now, AMSTERDAM) == now.replace(minute=10, second=0)
    daily = Timing.parse("daily:02:30")
    assert daily.latest_slot(now, AMSTERDAM) == datetime(2026, 12, 2, 2, 30, tzinfo=AMSTERDAM)
    later = now + timedelta(minutes=25)
    assert daily.latest_slot(later, AMSTERDAM) == datetime(2026, 12, 3, 2, 30, tzinfo=AMSTERDAM)


def test_a_slot_runs_once_across_restarts(database_url: str) -> None:
    clock = Clock(datetime(2026, 12, 3, 9, 0, 1, tzinfo=UTC))
    jobs = parse_jobs(["checkpoint=every:300"])
    with bootstrap(database_url=database_url) as rt:
        first = Scheduler(rt, jobs, AMSTERDAM, clock)
        ran = first.tick()
        assert {r["job"] for r in ran} == {"checkpoint", "retention", "signals"}
        assert all(r["outcome"] == "done" for r in ran), ran
        assert first.tick() == []  # same slots
        restarted = Scheduler(rt, jobs, AMSTERDAM, clock)  # a new process, same store
        assert restarted.tick() == []
        clock.at += timedelta(seconds=300)
        assert [r["job"] for r in restarted.tick()] == ["checkpoint"]
        clock.at += timedelta(hours=30)  # down for a day and more: the latest slot, once
        assert sorted(r["job"] for r in restarted.tick()) == ["checkpoint", "retention", "signals"]
        runs = restarted.recent(50)
    assert len(runs) == 7
    assert len({(r["job"], r["slot"]) for r in runs}) == 7


def test_two_schedulers_run_each_slot_once(postgres_schema_url: str) -> None:
    clock = Clock(datetime(2026, 12, 3, 9, 0, 1, tzinfo=UTC))
    jobs = parse_jobs(["checkpoint=every:60"])
    ran: list[dict[str, Any]] = []
    with bootstrap(database_url=postgres_schema_url) as one, \
            bootstrap(database_url=postgres_schema_url) as two:  # fmt: skip
        schedulers = [Scheduler(rt, jobs, AMSTERDAM, clock) for rt in (one, two)]
        for _ in range(5):
            threads = [threading.Thread(target=lambda s=s: ran.extend(s.tick()))
                       for s in schedulers]  # fmt: skip
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            clock.at += timedelta(seconds=60)
    checkpoints = [r for r in ran if r["job"] == "checkpoint"]
    assert len(checkpoints) == 5
    assert len({r["slot"] for r in checkpoints}) == 5
    assert [r["job"] for r in ran].count("retention") == 1


def test_schedule_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                      capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    monkeypatch.setenv("LEDGER_DATABASE_URL", f"sqlite:///{tmp_path / 'ledger.db'}")
    assert main(["schedule", "--once", "--json"]) == 0
    ran = {r["job"] for r in json.loads(capsys.readouterr().out)}
    assert ran == {"checkpoint", "retention", "signals"}
    assert main(["schedule", "--status"]) == 0
    assert "checkpoint" in capsys.readouterr().out
    assert main(["schedule", "--job", "checkpoint=hourly"]) == 2
    assert "'hourly' is not a timing: use every:SECONDS or daily:HH:MM" in capsys.readouterr().err
    assert main(["schedule", "--job", "backup=every:60"]) == 2
    assert "unknown job 'backup'" in capsys.readouterr().err


def test_health_of_a_heartbeat(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    beat = tmp_path / "alive"
    assert main(["health", "--heartbeat", str(beat)]) == 1
    assert "no heartbeat" in capsys.readouterr().err
    beat.touch()
    assert main(["health", "--heartbeat", str(beat), "--within", "30"]) == 0
    old = time.time() - 120
    os.utime(beat, (old, old))
    assert main(["health", "--heartbeat", str(beat), "--within", "30"]) == 1
    assert "is 120 s old" in capsys.readouterr().err


def test_a_following_worker_beats_and_a_server_answers(tmp_path: Path) -> None:
    env = environment(f"sqlite:///{tmp_path / 'ledger.db'}")
    beat = tmp_path / "project.alive"
    worker = Process(["project", "--follow", "--quiet", "--poll", "0.2"],
                     {**env, "LEDGER_HEARTBEAT_FILE": str(beat)}, tmp_path / "w.log").start()
    server = Server(env, tmp_path / "serve.log").start()
    try:
        deadline = time.monotonic() + 30
        while not beat.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert main(["health", "--heartbeat", str(beat), "--within", "10"]) == 0
        assert main(["health", "--url", f"{server.base}/ready"]) == 0
    finally:
        worker.stop()
        server.stop()
    assert main(["health", "--url", f"http://127.0.0.1:{free_port()}/health"]) == 1
