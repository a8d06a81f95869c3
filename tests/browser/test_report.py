"""The structured report in a real browser: read it, print it, decide, enter RT-PCR, sign with a race.

Chromium comes from tests/browser/conftest.py (``browser``).
"""
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.unit.reports.factories import make_ready_study
from triage.accounts.models import Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def logged_in(browser, live_server):
    """Open a page in a fresh browser context logged in as ``user`` (several users side by side)."""
    contexts = []

    def open_page(user):
        context = browser.new_context()
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        sign_in(page, live_server.url, user.username)
        return page

    yield open_page
    for context in contexts:
        context.close()


def test_report_page__clinician_reads_prints_decides_and_enters_pcr(logged_in, live_server, hospital_a, make_user):
    study = make_ready_study(hospital=hospital_a)
    page = logged_in(make_user(hospital=hospital_a, role=Role.CLINICIAN))
    page.goto(f"{live_server.url}/studies/{study.uuid}/report/")

    assert page.inner_text("[data-probability]") == "0.91"
    assert page.inner_text("[data-lesion-both]") == "7.2 %"
    assert page.locator("[data-histogram] rect").count() == 4
    assert "Not yet reviewed by a radiologist." in page.inner_text("[data-signoff]")

    page.emulate_media(media="print")
    assert page.locator(".topbar").is_hidden() and page.locator("form[data-api-form]").first.is_hidden()
    assert page.locator("[data-probability]").is_visible()
    page.emulate_media(media="screen")

    assert page.input_value("#decision-kind") == "care_medication"
    page.select_option("#decision-kind", "quarantine")
    page.click("text=Record decision")
    expect(page.locator("[data-decisions] [data-form-error]")).to_contain_text("Give a reason")
    page.fill("#decision-reason", "Isolation ward first")
    with page.expect_navigation():
        page.click("text=Record decision")
    decisions = page.inner_text("[data-decision-list]")
    assert "Quarantine" in decisions and "Isolation ward first" in decisions and "current" in decisions

    page.select_option("#pcr-result", "positive")
    page.fill("#pcr-sampled", "2026-01-05")
    with page.expect_navigation():
        page.click("text=Save RT-PCR result")
    outcomes = page.inner_text("[data-pcr-list]")
    assert "Positive" in outcomes and "2026-01-05" in outcomes and "Web form" in outcomes


def test_report_page__second_radiologist_sees_conflict_message(logged_in, live_server, hospital_a, make_user):
    study = make_ready_study(hospital=hospital_a)
    url = f"{live_server.url}/studies/{study.uuid}/report/"
    first = logged_in(make_user(hospital=hospital_a, role=Role.RADIOLOGIST))
    second = logged_in(make_user(hospital=hospital_a, role=Role.RADIOLOGIST))
    first.goto(url)
    second.goto(url)
    with first.expect_navigation():
        first.click("text=Sign report")
    assert "Confirmed the AI label" in first.inner_text("[data-signoff]")
    second.select_option("[data-review-panel] select[name=label]", "pneumonia")
    second.click("text=Sign report")
    error = second.locator("[data-review-panel] [data-form-error]")
    expect(error).to_contain_text(
        re.compile(r"Another radiologist signed this study at \d\d:\d\d; reload to see their report\."))
    assert error.locator("a", has_text="Reload").is_visible()


def test_report_page__user_of_another_hospital_gets_404(logged_in, live_server, hospital_a, hospital_b, make_user):
    study = make_ready_study(hospital=hospital_a)
    page = logged_in(make_user(hospital=hospital_b, role=Role.CLINICIAN))
    response = page.goto(f"{live_server.url}/studies/{study.uuid}/report/")
    assert response.status == 404
    assert "0.91" not in page.content()


def test_decision_rule_page__admin_changes_threshold_and_suggestion_follows(logged_in, live_server, hospital_a,
                                                                            make_user):
    study = make_ready_study(hospital=hospital_a)  # probability 0.91, severity 6
    page = logged_in(make_user(hospital=hospital_a, role=Role.ADMIN))
    page.goto(f"{live_server.url}/hospitals/{hospital_a.uuid}/decision-rules/")
    page.fill("#rule-test-p", "0.95")
    page.click("text=Save thresholds")
    expect(page.locator("[data-form-error]")).to_contain_text("Thresholds must satisfy")
    page.fill("#rule-test-p", "0.30")
    page.fill("#rule-care-p", "0.95")
    with page.expect_navigation():
        page.click("text=Save thresholds")
    assert page.input_value("#rule-care-p") == "0.95"
    page.goto(f"{live_server.url}/studies/{study.uuid}/report/")
    assert "Suggested because probability 0.91 ≥ 0.30" in page.inner_text("[data-suggestion]")
