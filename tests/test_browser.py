"""The pages in headless Chromium (Debian's package) against a running `ledger serve`:
what a case manager sees on the dashboard and on a case page. Screenshots go to
test-artifacts/."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from domain.access import Principal, Role
from services.api.auth import issue_token
from tests.api_support import free_port, wait_ready
from tests.factories import import_via_cli, line, report

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip
EMPLOYER = "ER-BROWSER"
JWT_KEY = "browser-test-key-long-enough-for-hs256-0123"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    """A `ledger serve` on a SQLite store with an overdue case; (base URL, sign-in URL, case)."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: `make browser` installs Debian's chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    folder = tmp_path_factory.mktemp("browser")
    env = {**os.environ, "LEDGER_DATABASE_URL": f"sqlite:///{folder / 'ledger.db'}",
           "LEDGER_JWT_KEY": JWT_KEY}  # fmt: skip
    case_id = str(uuid4())
    first = date.today() - timedelta(days=60)
    lines = [
        dict(report(case_id, first), data={"employee_id": "EMP-B", "employer_id": EMPLOYER,
                                            "first_sick_day": first.isoformat()}),
        line(case_id, "ReportedToOccupationalPhysician", first + timedelta(days=2)),
        line(case_id, "CaseManagerAppointed", first + timedelta(days=3), case_manager_id="cm-1"),
    ]  # fmt: skip
    old = dict(os.environ)
    os.environ.update(env)
    try:
        assert import_via_cli(folder, lines) == 0
    finally:
        os.environ.clear()
        os.environ.update(old)
    port = free_port()
    command = [sys.executable, "-m", "services.cli", "serve", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--role", "case_manager"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        sign_in = ""
        while not sign_in:
            text = process.stdout.readline()
            assert text, "ledger serve stopped before printing its sign-in link"
            if "/ui/login?code=" in text:
                sign_in = text.split("pages:")[1].split()[0]
        base = f"http://127.0.0.1:{port}"
        wait_ready(base)
        yield base, sign_in, case_id
    finally:
        process.terminate()
        process.wait(timeout=20)



def test_dashboard_shows_overdue_deadlines_first(
    server: tuple[str, str, str], browser: object
) -> None:
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    base, sign_in, case_id = server
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(sign_in)
    page.goto(f"{base}/?employer={EMPLOYER}")
    rows = page.locator("#deadlines tbody tr")
    first_status = rows.first.locator("td.status").inner_text()
    assert first_status == "overdue"
    assert "problem analysis" in page.locator("#deadlines").inner_text()
    assert "probleemanalyse" in page.locator("#deadlines").inner_text()
    counts = page.locator("#counts").inner_text()
    assert "overdue" in counts
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    page.locator(f'a[href="/ui/cases/{case_id}"]').first.click()
    page.wait_for_url(f"**/ui/cases/{case_id}")
    bar = page.locator("#week-bar")
    assert bar.is_visible()
    elapsed = float(bar.locator(".elapsed").evaluate("e => parseFloat(e.style.width)"))
    assert 7.0 < elapsed < 10.0  # 60 of about 728 days
    assert bar.locator(".marker.s-overdue").count() >= 1
    assert "SicknessReported" in page.locator("#timeline").inner_text()
    page.screenshot(path=str(ARTIFACTS / "case.png"), full_page=True)
    page.close()


def test_pages_fit_a_phone(server: tuple[str, str, str], browser: object) -> None:
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    base, sign_in, case_id = server
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(sign_in)
    page.goto(f"{base}/ui/cases/{case_id}")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, f"the case page scrolls sideways on a phone ({width}px)"
    page.screenshot(path=str(ARTIFACTS / "case-phone.png"), full_page=True)
    page.close()


def test_without_a_token_the_page_asks_to_sign_in(
    server: tuple[str, str, str], browser: object
) -> None:
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    base, _, case_id = server
    page = browser.new_page()
    response = page.goto(f"{base}/ui/cases/{case_id}")
    assert response is not None
    assert response.status == 401
    assert "Sign in" in page.locator("h1").inner_text()
    page.close()


def test_api_docs_render_with_the_network_off(
    server: tuple[str, str, str], browser: object
) -> None:
    """Swagger UI and ReDoc with every request off this server refused, as on a machine
    without internet (issue 21: /docs was a blank page, its assets came from a CDN)."""
    from playwright.sync_api import Browser, Route

    assert isinstance(browser, Browser)
    base = server[0]
    context = browser.new_context()
    refused: list[str] = []

    def offline(route: Route) -> None:
        if route.request.url.startswith(base):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", offline)
    page = context.new_page()
    page.goto(f"{base}/docs")
    title = page.locator(".swagger-ui .info .title")
    title.wait_for(timeout=15000)
    assert "Re-integration ledger" in title.inner_text()
    assert page.locator(".opblock-tag").count() >= 3  # the routes' groups are listed
    page.screenshot(path=str(ARTIFACTS / "docs-offline.png"), full_page=False)
    page.goto(f"{base}/redoc")
    page.locator("h1", has_text="Re-integration ledger").first.wait_for(timeout=15000)
    assert refused == []
    context.close()


def sign_in_with_token(page: Any, base: str, principal: Principal) -> None:
    """The sign-in form with a token (the server's one-time link signs in once only)."""
    page.goto(f"{base}/ui/login")
    page.fill("#token", issue_token(principal, JWT_KEY))
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_the_review_pack_opens_from_the_case_page_and_fits_a_phone(
    server: tuple[str, str, str], browser: object
) -> None:
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    base, _, case_id = server
    page = browser.new_page(viewport={"width": 390, "height": 844})
    sign_in_with_token(page, base, Principal("uwv-1", Role.UWV_REVIEWER))
    page.goto(f"{base}/ui/cases/{case_id}")
    page.locator("#review-pack a", has_text="read").click()
    page.wait_for_url(f"**/ui/cases/{case_id}/review-pack**")
    assert "1. Are all documents present?" in page.locator("body").inner_text()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, f"the review pack scrolls sideways on a phone ({width}px)"
    page.screenshot(path=str(ARTIFACTS / "review-pack-phone.png"), full_page=True)
    with page.expect_download() as download:
        page.goto(f"{base}/ui/cases/{case_id}")
        page.locator("#review-pack a", has_text="PDF").click()
    assert download.value.suggested_filename.startswith(f"review-pack-{case_id[:8]}-")
    page.close()
