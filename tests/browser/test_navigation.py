"""Every role's navigation in a real browser: what each one sees, the hospital switcher, cross-links, error pages."""
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.unit.worklist.factories import make_study
from triage.accounts.models import Membership, Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def nav_labels(page) -> list[str]:
    return page.locator("header nav[aria-label=Main] a").all_inner_texts()


@pytest.mark.parametrize("role, expected", [
    (Role.RADIOLOGIST, ["Worklist", "Reports", "Upload"]),
    (Role.CLINICIAN, ["Reports", "Upload"]),
    (Role.ADMIN, ["Worklist", "Reports", "Upload", "Monitoring", "Shadow models", "Administration"]),
])
def test_navigation__each_role_sees_what_it_may_use_on_every_page(page, live_server, log_in, hospital_a, make_user,
                                                                    role, expected):
    study = make_study(hospital=hospital_a, received_at=timezone.now(), probability=0.7, accession="ACC-NAV")
    log_in(make_user(hospital=hospital_a, role=role))
    for path in ["/", "/reports/", f"/studies/{study.uuid}/report/", "/studies/upload/"]:
        page.goto(f"{live_server.url}{path}")
        assert nav_labels(page) == expected, path
    assert page.locator("header nav a[aria-current=page]").inner_text() == "Upload"


def test_home__platform_admin_sees_every_hospital(page, live_server, log_in, hospital_a, hospital_b, platform_admin):
    log_in(platform_admin)
    page.goto(f"{live_server.url}/")
    assert "You have no hospital role yet" not in page.inner_text("main")
    assert page.locator(".home-hospitals tbody tr").all_inner_texts()[0].startswith("Hospital A")
    assert page.locator("tr[data-hospital=b] a", has_text="Administration").count() == 1
    assert nav_labels(page) == ["Worklist", "Reports", "Upload", "Monitoring", "Shadow models", "Administration"]


def test_switcher__narrows_lists_to_one_hospital_and_links_cross_the_pages(page, live_server, log_in, hospital_a,
                                                                            hospital_b, make_user, screenshot):
    now = timezone.now()
    mine_a = make_study(hospital=hospital_a, received_at=now - timedelta(minutes=3), probability=0.8, accession="ACC-A1")
    make_study(hospital=hospital_b, received_at=now - timedelta(minutes=2), probability=0.6, accession="ACC-B1")
    reader = make_user(hospital=hospital_a, role=Role.RADIOLOGIST)
    Membership.objects.create(user=reader, hospital=hospital_b, role=Role.RADIOLOGIST)
    log_in(reader)
    page.goto(f"{live_server.url}/worklist/")
    assert page.locator("#worklist-rows a.open-study").all_inner_texts() == ["ACC-A1", "ACC-B1"]

    with page.expect_navigation():
        page.select_option("#nav-hospital", label="Hospital A")
    page.goto(f"{live_server.url}/worklist/")  # the choice sticks across pages
    assert page.locator("#worklist-rows a.open-study").all_inner_texts() == ["ACC-A1"]
    assert page.input_value("#nav-hospital") == str(hospital_a.uuid)
    screenshot("navigation-worklist")

    page.click("#worklist-rows a.open-report")
    page.wait_for_url(f"**/studies/{mine_a.uuid}/report/")
    page.click("text=Open in viewer")
    page.wait_for_url(f"**/studies/{mine_a.uuid}/view/")
    page.click("a.to-report")
    page.wait_for_url(f"**/studies/{mine_a.uuid}/report/")

    page.goto(f"{live_server.url}/reports/?q=acc-b")  # prefix, any case; "All my hospitals" overrides the switcher
    page.select_option("#f-hospital", "")
    with page.expect_navigation():
        page.click("form.filters button[type=submit]")
    assert page.locator("#worklist-rows a.open-study").all_inner_texts() == ["ACC-B1"]


def test_error_pages__styled_404_for_foreign_or_unknown_and_403_for_a_missing_role(page, live_server, log_in,
                                                                                   hospital_a, hospital_b, make_user):
    foreign = make_study(hospital=hospital_b, received_at=timezone.now(), probability=0.5)
    log_in(make_user(hospital=hospital_a, role=Role.CLINICIAN))
    for path in [f"/studies/{foreign.uuid}/report/", "/no-such-page/"]:
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 404
        assert page.locator("[data-error='404'] h1").inner_text() == "Not found"
        assert "Reports" in nav_labels(page)  # the navigation stays
    response = page.goto(f"{live_server.url}/administration/hospitals/{hospital_a.uuid}/")
    assert response.status == 403
    assert "Administrator role" in page.inner_text("[data-error='403']")
