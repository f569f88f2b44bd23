"""The review pack a reviewer opens from the case page (issue 21): with the page session,
in the reviewer's order (rules reference s4), in words (no snake_case, no JSON, no bare
UUIDs), and as the PDF they file, checked page by page with poppler (pdftoppm for the
pages, pdftotext for their sections)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from domain.access import Principal, Role
from services.api.app import create_app
from services.application import audit
from services.application.importer import import_lines, numbered
from services.bootstrap import Settings, bootstrap
from services.tools.showcase import STORIES, showcase
from tests.api_support import KEY

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
SECTIONS = ("1. Are all documents present?", "2. Result", "3. UWV", "4. Second track",
            "5. Expert opinions", "6. Sanctions and suspensions", "7. Corrections",
            "8. Proof")  # fmt: skip
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SNAKE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")


def poppler(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        message = f"{tool} is missing: `make browser` installs Debian's poppler-utils"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture
def client(tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    """A server on the demo's files, checkpointed; the client and the dispute case's id."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    lines = showcase(date.today())
    dispute = next(i for i, s in enumerate(STORIES) if s.dispute)
    case_ids = list(dict.fromkeys(line["case_id"] for line in lines))
    with bootstrap(database_url=url) as rt:
        import_lines(rt.ledger, numbered([json.dumps(x) for x in lines]))
        audit.checkpoint(rt)
    app = create_app(Settings(database_url=url, jwt_key=KEY, follow_seconds=0))
    try:
        with TestClient(app) as test_client:
            yield test_client, case_ids[dispute]
    finally:
        app.state.ctx.close()


def _sign_in(client: TestClient, role: Role, subject: str) -> None:
    codes = client.app.state.ctx.sign_in_codes  # type: ignore[attr-defined]
    code = codes.issue(Principal(subject, role))
    assert client.get(f"/ui/login?code={code}", follow_redirects=False).status_code == 303


def test_the_pack_opens_with_the_page_session_in_words(client: tuple[TestClient, str]) -> None:
    test_client, case_id = client
    assert test_client.get(f"/ui/cases/{case_id}/review-pack").status_code == 401  # no session
    _sign_in(test_client, Role.UWV_REVIEWER, "uwv-1")
    case_page = test_client.get(f"/ui/cases/{case_id}").text
    assert f'href="/ui/cases/{case_id}/review-pack?on=' in case_page
    page = test_client.get(f"/ui/cases/{case_id}/review-pack")
    assert page.status_code == 200
    text = re.sub(r"<style>.*?</style>|<[^>]+>", " ", page.text, flags=re.S)
    positions = [text.index(title) for title in SECTIONS]
    assert positions == sorted(positions), "the sections in the reviewer's order"
    assert not SNAKE.findall(text.replace("verify_bundle.py", ""))  # a file's name is a name
    assert not UUID.findall(text)
    assert "{" not in text
    assert "Expert opinion issued" in text
    assert "UWV notified" in text
    assert f"Case {case_id[:8]}" in text
    proof = test_client.get(f"/ui/cases/{case_id}/proof.json")
    assert proof.status_code == 200
    assert json.loads(proof.text)["checkpoint"]["seq"] == 1


def test_the_pack_as_pdf_has_its_sections_on_its_pages(
    client: tuple[TestClient, str], tmp_path: Path
) -> None:
    pdftoppm, pdftotext = poppler("pdftoppm"), poppler("pdftotext")
    test_client, case_id = client
    _sign_in(test_client, Role.UWV_REVIEWER, "uwv-1")
    answer = test_client.get(f"/ui/cases/{case_id}/review-pack.pdf")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/pdf"
    assert f"review-pack-{case_id[:8]}-" in answer.headers["content-disposition"]
    pdf = tmp_path / "pack.pdf"
    pdf.write_bytes(answer.content)
    ARTIFACTS.mkdir(exist_ok=True)
    for old in ARTIFACTS.glob("review-pack-pdf-*.png"):
        old.unlink()
    subprocess.run([pdftoppm, "-png", "-r", "50", str(pdf), str(ARTIFACTS / "review-pack-pdf")],
                   check=True)  # fmt: skip
    pages = sorted(ARTIFACTS.glob("review-pack-pdf-*.png"))
    assert pages, "pdftoppm made no page"
    assert all(p.stat().st_size > 5_000 for p in pages), "a page is blank"
    text = subprocess.run([pdftotext, "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout  # fmt: skip
    per_page = text.split("\f")
    assert len([p for p in per_page if p.strip()]) == len(pages)
    positions = [text.index(title) for title in SECTIONS]
    assert positions == sorted(positions)
    assert f"page 1 of {len(pages)}" in per_page[0]
    flat = " ".join(text.split())
    assert not UUID.findall(flat)
    assert not SNAKE.findall(flat.replace("verify_bundle.py", ""))


def test_an_employer_gets_no_pack_of_another_employer(client: tuple[TestClient, str]) -> None:
    test_client, case_id = client
    code = test_client.app.state.ctx.sign_in_codes.issue(  # type: ignore[attr-defined]
        Principal("er-9", Role.EMPLOYER, frozenset({"ER99999"})))
    test_client.get(f"/ui/login?code={code}")
    for path in ("review-pack", "review-pack.pdf", "proof.json"):
        assert test_client.get(f"/ui/cases/{case_id}/{path}").status_code == 404
