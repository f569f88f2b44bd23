"""Employer headcount per period: reference data for the absence KPIs (rules reference
s7). Never per person: an employer, a period, a headcount and a part-time factor."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from domain.events import Reference
from domain.kpi import Period, Workforce
from infra.readmodel import ReadModelStore, Table

HEADCOUNT = Table(
    name="employer_headcount",
    columns=(
        ("employer_id", "text"),
        ("period", "text"),
        ("headcount", "integer"),
        ("part_time_factor", "text"),
    ),
    key=("employer_id", "period"),
)
COLUMNS = ("employer_id", "period", "headcount", "part_time_factor")


class HeadcountRow(BaseModel):
    """One line of a headcount file: ``employer_id,period,headcount,part_time_factor``."""

    model_config = ConfigDict(extra="forbid")

    employer_id: Reference
    period: str = Field(examples=["2026-Q1", "2026", "2026-03"])
    headcount: int = Field(gt=0, le=1_000_000)
    part_time_factor: float = Field(default=1.0, gt=0, le=1.5)

    @field_validator("period")
    @classmethod
    def _known_period(cls, value: str) -> str:
        Period.parse(value)
        return value


@dataclass(frozen=True)
class HeadcountProblem:
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


class HeadcountRejectedError(ValueError):
    def __init__(self, problems: list[HeadcountProblem]) -> None:
        super().__init__(f"{len(problems)} problem(s); nothing was stored")
        self.problems = problems


def parse_csv(text: str) -> list[HeadcountRow]:
    """Every row, or ``HeadcountRejectedError`` listing every bad one (line and field)."""
    try:
        return _parse_rows(text)
    except csv.Error as error:  # e.g. a field over the csv module's limit
        raise HeadcountRejectedError([HeadcountProblem(0, "file", f"not CSV: {error}")]) from None


def _parse_rows(text: str) -> list[HeadcountRow]:
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or list(reader.fieldnames)[:3] != list(COLUMNS[:3]):
        problem = HeadcountProblem(1, "header", f"the header must be {','.join(COLUMNS)}")
        raise HeadcountRejectedError([problem])
    rows: list[HeadcountRow] = []
    problems: list[HeadcountProblem] = []
    for number, record in enumerate(reader, start=2):
        values = {k: v for k, v in record.items() if v not in (None, "")}
        try:
            rows.append(HeadcountRow.model_validate(values))
        except ValidationError as error:
            for detail in error.errors(include_url=False):
                field = ".".join(str(p) for p in detail["loc"]) or "line"
                problems.append(HeadcountProblem(number, field, detail["msg"]))
    if problems:
        raise HeadcountRejectedError(problems)
    return rows


def store_headcount(store: ReadModelStore, rows: Sequence[HeadcountRow]) -> None:
    """Store all rows in one transaction; a row for the same employer and period replaces."""
    store.write_many(
        "INSERT INTO {employer_headcount} (employer_id, period, headcount, part_time_factor) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (employer_id, period) DO UPDATE SET "
        "headcount = excluded.headcount, part_time_factor = excluded.part_time_factor",
        [(r.employer_id, r.period, r.headcount, str(r.part_time_factor)) for r in rows],
    )


def workforce(store: ReadModelStore, employer_id: str, period: Period) -> Workforce | None:
    """The headcount for exactly this period, or else for the year it lies in."""
    for label in dict.fromkeys([period.label, str(period.start.year)]):
        rows = store.query(
            "SELECT headcount, part_time_factor FROM {employer_headcount} "
            "WHERE employer_id = ? AND period = ?",
            [employer_id, label],
        )
        if rows:
            return Workforce(float(rows[0]["headcount"]), float(rows[0]["part_time_factor"]))
    return None
