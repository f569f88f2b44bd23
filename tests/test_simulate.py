"""The workforce simulator: deterministic, lawful, realistic in its rates."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from domain.kpi import Period
from infra.headcount import parse_csv, store_headcount, workforce
from projections.catalogue import all_projections
from projections.reports import kpi_report
from projections.runner import ReadModelRunner
from services.application.importer import import_lines, numbered
from services.application.ledger import Ledger
from services.cli import main
from services.schema import side_store as read_models
from services.tools.simulate import SimulationParameters, headcount_rows, simulate_population

TODAY = date(2026, 11, 1)


def test_the_same_seed_gives_the_same_population() -> None:
    def run(seed: int) -> list[dict[str, object]]:
        return list(simulate_population(3, 20, 2, seed=seed, today=TODAY))

    assert run(4) == run(4)
    assert run(4) != run(5)


def test_a_population_keeps_every_rule_and_has_realistic_rates(
    ledger: Ledger, database_url: str
) -> None:
    lines = [json.dumps(x) for x in simulate_population(4, 60, 3, seed=11, today=TODAY)]
    import_lines(ledger, numbered(lines))  # refuses the whole file if any rule is broken
    rows = headcount_rows(4, 60, 3, TODAY)
    csv_text = "employer_id,period,headcount,part_time_factor\n" + "".join(
        f"{r['employer_id']},{r['period']},{r['headcount']},{r['part_time_factor']}\n" for r in rows
    )
    with read_models(database_url) as store:
        store_headcount(store, parse_csv(csv_text))
        ReadModelRunner(ledger, store, all_projections()).run()
        year = Period.parse("2025")
        frequencies = []
        for employer in ("ER00001", "ER00002", "ER00003", "ER00004"):
            staff = workforce(store, employer, year)
            assert staff is not None
            kpi = kpi_report(store, employer, year, staff)
            frequencies.append(kpi["report_frequency"])
            assert 2 < kpi["absence_percentage"] < 10  # Dutch sectors: about 3-8 % (s7)
            assert kpi["duration_bands"]["1-14"] > kpi["duration_bands"]["92-365"]
    mean = sum(frequencies) / len(frequencies)
    assert 0.7 < mean < 1.2  # about one report per employee per year (s7)


def test_second_tracks_can_be_started_in_a_chosen_week(
    use_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    params = SimulationParameters(second_track_start_week=8, short_share=0.0, medium_share=0.0)
    assert params.second_track_needed > 0
    lines = [
        json.dumps(x) for x in simulate_population(2, 15, 3, seed=3, today=TODAY, params=params)
    ]
    source = tmp_path / "early.jsonl"
    source.write_text("\n".join(lines) + "\n")
    assert main(["import", str(source), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["stats", "second-track", "--by", "band", "--json"]) == 0
    groups = json.loads(capsys.readouterr().out)["groups"]
    assert [g["by"]["band"] for g in groups] == ["1-13"]
    assert groups[0]["n"] > 5


def test_ledger_simulate_writes_a_population_and_its_headcounts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    headcount = tmp_path / "headcount.csv"
    assert main(["simulate", "--employers", "2", "--employees", "10", "--years", "1",
                 "--today", "2026-11-01", "--headcount", str(headcount)]) == 0  # fmt: skip
    out = capsys.readouterr().out.splitlines()
    assert out
    assert all(json.loads(text)["data"].get("employer_id", "ER") for text in out)
    assert [r.employer_id for r in parse_csv(headcount.read_text())] == [
        "ER00001", "ER00001", "ER00002", "ER00002",
    ]  # fmt: skip
