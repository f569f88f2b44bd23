"""A whole case recorded through the pages in headless Chromium, each step by the role
that may (issue 21): the employer reports sickness, the physician makes the problem
analysis, the employer and the case manager keep the plan going, a refused event shows
the rule beside its field, a form drawn before someone else wrote says so, a wrong
date is corrected from the timeline, and the case manager closes the file.
Screenshots at desktop and phone width go to test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest

from domain.access import Principal, Role
from services.api.auth import issue_token
from tests.browser_support import served
from tests.test_browser import ARTIFACTS

pytestmark = pytest.mark.browser
JWT_KEY = "recording-browser-test-key-long-enough-0123456789"
EMPLOYER = "ER-FORMS"
FIRST_DAY = date.today() - timedelta(days=60)
PEOPLE = {
    "employer": Principal("er-forms", Role.EMPLOYER, frozenset({EMPLOYER})),
    "physician": Principal("op-7", Role.OCCUPATIONAL_PHYSICIAN),
    "case_manager": Principal("cm-7", Role.CASE_MANAGER),
}
DESKTOP, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served(tmp_path_factory.mktemp("forms"), JWT_KEY) as url:
        yield url



def signed_in(browser: Any, base: str, who: str, viewport: dict[str, int] = DESKTOP) -> Any:
    page = browser.new_page(viewport=viewport)
    page.goto(f"{base}/ui/login")
    page.fill("#token", issue_token(PEOPLE[who], JWT_KEY))
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    return page


def record(page: Any, base: str, case_id: str, event: str, on: date, **fields: str) -> None:
    """Open the case, choose the event from the list the role is offered, fill, send."""
    page.goto(f"{base}/ui/cases/{case_id}")
    page.click("#record a")
    page.click(f'#choices a[href$="type={event}"]')
    fill(page, on, **fields)


def fill(page: Any, on: date, **fields: str) -> None:
    page.fill("#f-occurred_on", on.isoformat())
    for name, value in fields.items():
        element = page.locator(f"#f-{name}")
        if element.evaluate("e => e.tagName") == "SELECT":
            element.select_option(value)
        else:
            element.fill(value)
    page.click("#record-form button[type=submit]")


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_a_whole_case_through_the_pages(base: str, browser: Any) -> None:
    employer = signed_in(browser, base, "employer")
    employer.click("#report-sickness")
    employer.fill("#f-employee_id", "EMP-FORMS-1")
    employer.fill("#f-employer_id", EMPLOYER)
    employer.fill("#f-first_sick_day", FIRST_DAY.isoformat())
    shot(employer, "form-report-desktop")
    employer.click("#record-form button[type=submit]")
    employer.wait_for_url("**/ui/cases/**")
    assert "sickness reported" in employer.locator("#flash").inner_text()
    case_id = employer.url.split("/ui/cases/")[1].split("?")[0]

    # a refused event: the rule's message beside the field, nothing stored
    record(employer, base, case_id, "ReportedToOccupationalPhysician", FIRST_DAY - timedelta(3))
    problem = employer.locator("#problem-occurred_on").inner_text()
    assert "before the first sick day" in problem
    assert "event_not_before_first_sick_day" in problem
    shot(employer, "form-refused-desktop")
    fill(employer, FIRST_DAY + timedelta(days=2))
    assert "recorded" in employer.locator("#flash").inner_text()

    physician = signed_in(browser, base, "physician", PHONE)
    record(physician, base, case_id, "ProblemAnalysisCompleted", FIRST_DAY + timedelta(days=30),
           prognosis="partial_return")  # fmt: skip
    assert "recorded" in physician.locator("#flash").inner_text()
    shot(physician, "case-after-analysis-phone")
    width = physician.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, f"the case page scrolls sideways on a phone ({width}px)"

    record(employer, base, case_id, "PlanOfApproachAgreed", FIRST_DAY + timedelta(days=35),
           goal="own_work", case_manager_id="cm-7")  # fmt: skip
    assert "recorded" in employer.locator("#flash").inner_text()

    manager = signed_in(browser, base, "case_manager")
    employer.goto(f"{base}/ui/cases/{case_id}/record")
    offered = employer.locator("#choices").inner_text()
    assert "Problem analysis completed" not in offered  # the physician's, not the employer's
    _stale_conflict(browser, base, case_id)

    # a correction from the timeline, with its reason
    manager.goto(f"{base}/ui/cases/{case_id}")
    row = manager.locator("#timeline tr", has_text="Reported")
    row.first.locator("a", has_text="correct").click()
    manager.fill("#f-occurred_on", (FIRST_DAY + timedelta(days=50)).isoformat())
    manager.fill("#f-corrected_occurred_on", (FIRST_DAY + timedelta(days=1)).isoformat())
    manager.click("#record-form button[type=submit]")  # the reason is required: not sent
    assert manager.locator("#f-reason").evaluate("e => e.validity.valueMissing")
    assert "/record" in manager.url
    manager.fill("#f-reason", "the physician was told a day earlier")
    manager.click("#record-form button[type=submit]")
    assert "recorded" in manager.locator("#flash").inner_text()
    assert "corrected" in manager.locator("#timeline").inner_text()

    record(employer, base, case_id, "RecoveryReported", FIRST_DAY + timedelta(days=55))
    record(manager, base, case_id, "CaseClosed", FIRST_DAY + timedelta(days=56),
           outcome="returned_own_work")  # fmt: skip
    assert "recorded" in manager.locator("#flash").inner_text()
    assert "closed" in manager.locator("main").inner_text()
    shot(manager, "case-closed-desktop")
    for page in (employer, physician, manager):
        page.close()


def _stale_conflict(browser: Any, base: str, case_id: str) -> None:
    """Two forms on one version: the second to be sent is told what changed."""
    first = signed_in(browser, base, "case_manager")
    first.goto(f"{base}/ui/cases/{case_id}/record?type=PlanEvaluated")
    second = signed_in(browser, base, "case_manager", PHONE)
    second.goto(f"{base}/ui/cases/{case_id}/record?type=PlanEvaluated")
    fill(first, FIRST_DAY + timedelta(days=47), adjustment="none")
    assert "recorded" in first.locator("#flash").inner_text()
    fill(second, FIRST_DAY + timedelta(days=48), adjustment="activities")
    assert "Someone else changed this case" in second.locator("#problem").inner_text()
    assert "Plan evaluated" in second.locator("#changed").inner_text()
    shot(second, "form-stale-phone")
    second.click("#record-form button[type=submit]")  # drawn again on the new version
    assert "recorded" in second.locator("#flash").inner_text()
    first.close()
    second.close()
