"""Shadow models in chromium: a hospital admin reads the comparison; a platform admin marks and promotes."""
import pytest

from tests.unit.monitoring.factories import SHIPPED_3D, shadow_candidate
from triage.audit.models import AuditEvent
from triage.results.models import ModelVersion

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# 12 PCR positives and 12 negatives (enough per class for numbers): the shown model misses 4 positives at
# 0.5 that the candidate finds; the candidate adds 1 false positive.
CASES = ([(0.9 - i / 50, 0.9 - i / 60, "positive") for i in range(8)]
         + [(0.3 + i / 50, 0.6 + i / 50, "positive") for i in range(4)]
         + [(0.1 + i / 40, 0.1 + i / 45, "negative") for i in range(11)] + [(0.2, 0.55, "negative")])


@pytest.fixture
def candidate(platform_admin, hospital_a, admin_a):
    return shadow_candidate(actor=platform_admin, hospital=hospital_a, signer=admin_a, cases=CASES)


def test_shadow__hospital_admin_reads_the_comparison_of_own_hospital(page, live_server, log_in, candidate, admin_a,
                                                                     platform_admin, hospital_b, screenshot):
    other = shadow_candidate(actor=platform_admin, hospital=hospital_b, signer=None, cases=[])
    log_in(admin_a)
    page.click("header nav >> text=Shadow models")
    assert page.locator("#candidates tbody tr").count() == 1  # Hospital B's candidacy is not listed
    assert page.locator(f"tr[data-candidate='{other.uuid}']").count() == 0
    assert page.locator("#mark-form").count() == 0 and page.locator("text=Stop shadow run").count() == 0
    page.click(f"#candidates >> text={SHIPPED_3D}")
    assert page.inner_text("#n-cases").startswith("n = 24 studies (12 positive, 12 negative)")
    assert page.locator("#too-few").count() == 0
    assert page.inner_text("#comparison tr[data-metric=sensitivity] td[data-model=shown]").startswith("66.7 %")
    assert page.inner_text("#comparison tr[data-metric=sensitivity] td[data-model=candidate]").startswith("100.0 %")
    assert page.inner_text("#comparison tr[data-metric=specificity] td[data-model=difference]").startswith("-8.3 %")
    assert page.locator("svg.chart polyline.series").count() == 2  # both ROC curves
    assert page.locator("#disagreements a").count() == 5
    assert page.locator("#promote-form").count() == 0  # read-only for hospital admins
    screenshot("shadow-comparison")


def test_shadow__platform_admin_marks_then_promotes_after_confirming(page, live_server, log_in, candidate,
                                                                     platform_admin, screenshot):
    log_in(platform_admin)
    page.goto(f"{live_server.url}/monitoring/shadow/")
    page.select_option("#reference", "covidnet-ct-s/2026-11-23.2")
    page.click("#mark-form button[type=submit]")
    assert page.is_visible("#no-pairs") and "runs in shadow on new studies of every hospital" in page.inner_text("main")
    page.goto(f"{live_server.url}/monitoring/shadow/{candidate.uuid}/")
    page.click("#promote-form button[type=submit]")  # not confirmed: the browser keeps the form
    assert page.url.endswith(f"/monitoring/shadow/{candidate.uuid}/")
    assert not ModelVersion.objects.get(name="covidnet3d-shallow").is_active
    page.check("#confirm")
    screenshot("shadow-promote")
    page.click("#promote-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/monitoring/shadow/")
    assert f"{SHIPPED_3D} is now the active model" in page.inner_text("main")
    assert page.inner_text(f"tr[data-candidate='{candidate.uuid}']").count("ended") == 1
    assert ModelVersion.objects.get(is_active=True).reference == SHIPPED_3D
    assert AuditEvent.objects.get(action="model.candidate_promoted").extra["evidence"]["n"] == 24
