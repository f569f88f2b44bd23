"""The import contract (issue 18): the tree keeps it, and a planted break is caught."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.architecture import violations

ROOT = Path(__file__).resolve().parents[1]


def test_the_tree_keeps_the_rules_of_the_house() -> None:
    assert violations(ROOT) == []


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for package in ("domain", "infra", "projections", "services"):
        (tmp_path / package).mkdir(exist_ok=True)
        (tmp_path / package / "__init__.py").write_text("")
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.relative_to(tmp_path).parents:
            if str(parent) != ".":
                (tmp_path / parent / "__init__.py").touch()
        path.write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"domain/case.py": "from services.bootstrap import bootstrap\n"},
         "domain.case:1: imports services.bootstrap (domain imports nothing of ours"),
        ({"domain/rules.py": "import infra.keys\n"},
         "domain.rules:1: imports infra.keys (domain imports nothing"),
        ({"projections/deadlines.py": "def f():\n    from services.cli import main\n"},
         "projections.deadlines:2: imports services.cli (projections import no services)"),
        ({"infra/keys.py": "from ..services.application import ledger\n"},
         "infra.keys:1: imports services.application (infra imports no read side"),
        ({"services/api/routes/cases.py": "from infra.readmodel import ReadModelStore\n"},
         "services.api.routes.cases:1: imports infra.readmodel (an entrypoint reaches past"),
        ({"services/cli/cases.py": "from projections.deadlines import find_deadlines\n"},
         "services.cli.cases:1: imports projections.deadlines (an entrypoint reaches past"),
        ({"services/application/queries.py": "from services.api import app\n"},
         "services.application.queries:1: imports services.api (the application layer"),
        ({"services/tools/verify_bundle.py": "from domain import merkle\n"},
         "services.tools.verify_bundle:1: imports domain (the standalone verifier"),
        ({"services/application/ledger.py": "import hypothesis\n"},
         "services.application.ledger:1: imports hypothesis (a development-only package"),
    ],
)  # fmt: skip
def test_a_planted_violation_is_reported(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    found = violations(_tree(tmp_path, files))
    assert len(found) == 1, found
    assert found[0].startswith(expected), found


def test_what_the_rules_allow_is_not_reported(tmp_path: Path) -> None:
    allowed = {
        "services/cli/cases.py": "from services.application import queries\nimport domain.case\n",
        "services/api/app.py": "from services.bootstrap import Settings\n",
        "projections/case_state.py": "from infra.readmodel import Table\nfrom domain import ev\n",
        "services/tools/examples/feed_to_duckdb.py": "import duckdb\n",  # not shipped
    }
    assert violations(_tree(tmp_path, allowed)) == []
