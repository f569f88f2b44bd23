"""Every page at phone width (issue 21): the page never scrolls sideways (a wide table
scrolls in its place), the case column of the dashboard is there, no word or date is
broken mid-word, and the week labels of the 104-week bar do not overlap. Dutch readers
get dd-mm-jjjj dates. Screenshots go to test-artifacts/phone-*.png."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from domain.access import Principal, Role
from services.api.auth import issue_token
from services.tools.showcase import EMPLOYER
from tests.browser_support import served
from tests.test_browser import ARTIFACTS

pytestmark = pytest.mark.browser
JWT_KEY = "phone-browser-test-key-long-enough-for-hs256-0123"
PHONE = {"width": 390, "height": 844}
LINES_OF_TEXT = """e => { const r = document.createRange(); r.selectNodeContents(e);
                   return new Set([...r.getClientRects()].map(b => b.top)).size }"""


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served(tmp_path_factory.mktemp("phone"), JWT_KEY, demo_cases=40) as url:
        yield url


def phone(browser: Any, base: str, principal: Principal) -> Any:
    page = browser.new_page(viewport=PHONE, locale="nl-NL")
    page.goto(f"{base}/ui/login")
    page.fill("#token", issue_token(principal, JWT_KEY))
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return page


def check(page: Any, name: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name} scrolls sideways on a phone ({width}px)"
    split = page.evaluate("""() => [...document.querySelectorAll('td, th, h1, h2, a, .status')]
        .filter(e => e.offsetParent !== null)
        .filter(e => { const s = getComputedStyle(e);
                       return s.overflowWrap === 'anywhere' || s.wordBreak === 'break-all'; })
        .length""")
    assert split == 0, f"{name}: {split} elements may break words anywhere"
    for cell in page.locator("td.status").all()[:20]:
        text = cell.inner_text().strip()
        lines = cell.evaluate(LINES_OF_TEXT)
        if text and " " not in text:
            assert lines == 1, f"{name}: the status {text!r} is split over {lines} lines"
    page.screenshot(path=str(ARTIFACTS / f"phone-{name}.png"), full_page=True)


def test_every_page_fits_a_phone(base: str, browser: Any) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    manager = phone(browser, base, Principal("cm-1", Role.CASE_MANAGER))
    check(manager, "overview")
    manager.goto(f"{base}/?employer={EMPLOYER}")
    check(manager, "dashboard")
    case_links = manager.locator("#deadlines tbody td a")
    assert case_links.first.is_visible(), "the case column of the dashboard is hidden"
    dates = manager.locator("#deadlines tbody td:first-child").all_inner_texts()
    assert dates
    assert all(re.fullmatch(r"\d\d-\d\d-\d{4}", d) for d in dates)  # dd-mm-jjjj
    case_url = case_links.first.get_attribute("href")
    manager.goto(f"{base}/ui/cases?employer={EMPLOYER}")
    check(manager, "files")
    manager.goto(f"{base}{case_url}")
    check(manager, "case")
    ticks = [t.bounding_box() for t in manager.locator("#week-bar .tick").all() if t.is_visible()]
    assert len(ticks) >= 3
    ticks.sort(key=lambda b: b["x"])
    for left, right in itertools.pairwise(ticks):
        assert left["x"] + left["width"] <= right["x"], "week labels overlap"
    manager.goto(f"{base}{case_url}/record?type=PlanEvaluated")
    check(manager, "record")
    manager.goto(f"{base}{case_url}/review-pack")
    width = manager.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]
    manager.goto(f"{base}/ui/statistics")
    check(manager, "statistics")
    manager.goto(f"{base}/ui/report")
    check(manager, "report")
    manager.close()
    employee = phone(browser, base, Principal(f"EMPD{date.today().toordinal()}08", Role.EMPLOYEE,
                                               frozenset({EMPLOYER})))  # fmt: skip
    check(employee, "own-files")
    employee.close()
    login = browser.new_page(viewport=PHONE)
    login.goto(f"{base}/ui/login")
    check(login, "login")
    login.close()
    assert Path(ARTIFACTS / "phone-case.png").exists()
